import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeysRepository, grants, type Scope, SCOPES } from '@gw/db';
import { call, callRaw, type CallResult, startTestGateway, type TestGateway, uniqueName } from '@gw/testing';
import { type AppRoute, enumerateRoutes } from './routes';

/**
 * The auth matrix (issue 13, the suite): every route of the Nest application, enumerated from its
 * controllers, against no key, a malformed key, an unknown key, a revoked key, every scope that does
 * not grant the route, and an admin key limited to another collection. Nothing may get through,
 * and nothing may change: the victim collection, its job and its rows are intact afterwards.
 */
let gw: TestGateway;
let routes: AppRoute[];
let victim: string;
let jobId: string;
const keys = new Map<Scope, string>();
let revoked: string;
let limited: string;

beforeAll(async () => {
  gw = await startTestGateway();
  routes = enumerateRoutes(gw.app);
  const admin = await gw.apiKey(['admin']);
  for (const s of SCOPES) keys.set(s, await gw.apiKey([s]));
  const repo = new ApiKeysRepository(gw.db);
  const r = await repo.create({ name: 'to-revoke', scopes: ['admin'] });
  revoked = r.key;
  expect(await repo.revoke(r.record.id)).toBe(1);
  limited = await gw.apiKey(['admin'], { collections: ['someone_else'] });
  victim = uniqueName('victim');
  expect(
    (
      await call(gw, 'POST', '/v2/vectordb/collections/create', {
        key: admin,
        body: { collectionName: victim, dimension: 4 },
      })
    ).body.code,
  ).toBe(0);
  const ins = await call(gw, 'POST', '/v2/vectordb/entities/insert', {
    key: admin,
    body: { collectionName: victim, data: [{ id: 1, vector: [1, 2, 3, 4] }] },
  });
  expect(ins.body.code, ins.text).toBe(0);
  const job = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
    key: admin,
    body: { collectionName: victim, files: [['s3://bucket/a.json']] },
  });
  expect(job.body.code, job.text).toBe(0);
  jobId = (job.body.data as { jobId: string }).jobId;
});
afterAll(async () => {
  await gw?.close();
});

/** One body that names the victim in every field a route may read. */
function bodyFor(route: AppRoute, collection: string, db = 'default', job = jobId): Record<string, unknown> {
  return {
    dbName: db,
    collectionName: collection,
    partitionName: 'p1',
    jobId: job,
    // v1 imports take objectUrl, v2 files (both at once is a 1100 before any access check).
    ...(route.pattern.startsWith('/v1/') ? { objectUrl: 's3://bucket/x.json' } : { files: [['s3://bucket/x.json']] }),
    data: [{ id: 2, vector: [1, 2, 3, 4] }],
    filter: 'id > 0',
    id: [1],
    // An import naming a volume needs volumes:read too (decision 0602): only volume routes name one.
    ...(route.pattern.startsWith('/v2/volumes') ? { volumeName: 'vol_auth', path: 'a.json' } : {}),
    indexParams: [{ fieldName: 'vector', metricType: 'L2' }],
    dimension: 4,
  };
}

async function send(route: AppRoute, key: string | undefined, body: Record<string, unknown>): Promise<CallResult> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers.authorization = `Bearer ${key}`;
  if (route.method === 'GET') {
    const q = new URLSearchParams({
      collectionName: String(body.collectionName),
      jobId: String(body.jobId),
      dbName: String(body.dbName),
    });
    return callRaw(gw, 'GET', `${route.path}?${q.toString()}`, JSON.stringify(body), headers);
  }
  return call(gw, route.method, route.path, { body: JSON.stringify(body), headers });
}

describe('auth matrix over every route of the application', () => {
  it('enumerates the routes from the Nest app (v1, v2 jobs, collections, volumes, health, metrics)', () => {
    const patterns = routes.map((r) => `${r.method} ${r.pattern}`);
    expect(routes.length).toBeGreaterThanOrEqual(45);
    for (const must of [
      'POST /v2/vectordb/jobs/import/create',
      'POST /v1/vector/collections/import',
      'PUT /v2/volumes/:volumeName/files/*path',
      'POST /v2/vectordb/entities/delete',
      'GET /health/ready',
      'GET /metrics',
    ]) {
      expect(patterns).toContain(must);
    }
    // Open routes are exactly the operational ones.
    expect(routes.filter((r) => r.scope === undefined).map((r) => r.pattern)).toEqual(
      expect.arrayContaining(['/health/live', '/health/ready', '/metrics']),
    );
    // …plus the dashboard's static shell (/ui), which carries no data: it calls the API with a key.
    const open = routes.filter((r) => r.scope === undefined).map((r) => r.pattern);
    expect(open.filter((p) => !/^\/(health|metrics|ui)(\/|$)/.test(p))).toEqual([]);
  });

  it('no key, a malformed key, an unknown key and a revoked key: 401/1800 on every scoped route', async () => {
    const failures: string[] = [];
    for (const route of routes.filter((r) => r.scope !== undefined)) {
      for (const [label, key] of [
        ['no key', undefined],
        ['malformed', 'not a key at all'],
        ['unknown', `igw_${'0'.repeat(40)}`],
        ['revoked', revoked],
      ] as const) {
        const r = await send(route, key, bodyFor(route, victim));
        if (r.status !== 401 || r.body.code !== 1800)
          failures.push(`${label} ${route.method} ${route.path}: ${r.status} ${r.text}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it('every scope that does not grant the route: 403/1401; every scope that does: past the guard', async () => {
    const failures: string[] = [];
    let checked = 0;
    for (const route of routes.filter((r) => r.scope !== undefined)) {
      for (const [scope, key] of keys) {
        // Granting keys act on a collection and database that do not exist: no side effects.
        const granted = grants([scope], route.scope!);
        const r = await send(
          route,
          key,
          granted ? bodyFor(route, 'nope_collection', 'nope_db', 'job-nope') : bodyFor(route, victim),
        );
        checked++;
        if (
          granted ? r.status === 401 || r.status === 403 || r.status >= 500 : r.status !== 403 || r.body.code !== 1401
        )
          failures.push(`${scope} ${route.method} ${route.path}: ${r.status} ${r.text.slice(0, 200)}`);
      }
    }
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(300);
  });

  it('an admin key limited to another collection: refused on every route that names the victim, lists without it', async () => {
    const failures: string[] = [];
    for (const route of routes.filter((r) => r.scope !== undefined)) {
      const r = await send(route, limited, bodyFor(route, victim));
      const leaked = r.body.code === 0 && (r.text.includes(victim) || r.text.includes(jobId));
      const refused = r.status === 403 && r.body.code === 1401;
      const listing = r.body.code === 0 && !leaked && /\/list$|\/databases\/list$|^\/v2\/volumes$/.test(route.pattern);
      // Refused for its shape before any access check (a schedule needs a folder URL, a scheduleId):
      // nothing done, nothing of the victim named.
      const shapeRefused = [1100, 1802].includes(r.body.code) && !r.text.includes(victim) && !r.text.includes(jobId);
      if (!(refused || listing || shapeRefused) || r.status >= 500)
        failures.push(`${route.method} ${route.path}: ${r.status} ${r.text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
  });

  it('open routes show no collection names without a key; the victim is intact after the whole matrix', async () => {
    for (const route of routes.filter((r) => r.scope === undefined)) {
      const res = await fetch(`${gw.url}${route.path}`);
      const text = await res.text();
      expect(res.status, route.path).toBeLessThan(500);
      expect(text, route.path).not.toContain(victim);
    }
    const rows = await gw.db.query(`SELECT count(*)::int AS n FROM "milvus_default"."${victim}"`);
    expect(rows.rows[0]).toEqual({ n: 1 });
    const job = await gw.db.query(`SELECT state FROM import_jobs WHERE job_id = $1`, [jobId]);
    expect(job.rows[0]).toEqual({ state: 'Pending' });
    const vols = await gw.db.query(`SELECT count(*)::int AS n FROM volumes`);
    expect(vols.rows[0]).toEqual({ n: 0 });
  });
});
