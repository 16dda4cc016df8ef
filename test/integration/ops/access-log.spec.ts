import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiKeysRepository, migrate } from '@gw/db';
import {
  createScratchDatabase,
  freePort,
  gatewayEnv,
  type RunningProcess,
  startNode,
  uniqueName,
  waitForStatus,
} from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { json, range } from '../worker/fixtures';

/**
 * Access logs and request ids through real processes: the API's stdout has one access line per
 * call (route pattern, status, duration, key id, no secret), the request id comes back in a
 * header, is stored with the job it created, and names the worker's lines of that job.
 */
let scratch: { url: string; drop: () => Promise<void> };
let db: Pool;
let web: HttpTestServer;
let api: RunningProcess;
let worker: RunningProcess;
let base: string;
let key: string;

type Line = Record<string, unknown>;
const parse = (text: string): Line[] =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Line);

beforeAll(async () => {
  scratch = await createScratchDatabase();
  await migrate(scratch.url);
  db = new Pool({ connectionString: scratch.url, max: 2 });
  key = (await new ApiKeysRepository(db).create({ name: 'access-log', scopes: ['admin'] })).key;
  web = new HttpTestServer();
  await web.start();
  const port = await freePort();
  const env = gatewayEnv({
    DATABASE_URL: scratch.url,
    PORT: String(port),
    STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
    STORAGE_ALLOW_HTTP: 'true',
  });
  api = startNode('apps/api/src/main.js', env);
  worker = startNode('apps/worker/src/main.js', env);
  base = `http://127.0.0.1:${port}`;
  await waitForStatus(`${base}/health/ready`, 200, 30_000);
  for (const deadline = Date.now() + 30_000; !worker.output().includes('import-gateway worker started');) {
    if (Date.now() > deadline) throw new Error(`worker did not start:\n${worker.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
});

afterAll(async () => {
  await Promise.all([api?.stop('SIGTERM'), worker?.stop('SIGTERM')]);
  await web?.stop();
  await db?.end();
  await scratch?.drop();
});

async function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${path}`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${key}`, ...headers },
    body: JSON.stringify(body),
  });
}

describe('access logs and request ids (real API and worker processes)', () => {
  it('logs each call by route pattern with status, duration and key id, and never the key or credentials', async () => {
    const collection = uniqueName('acl');
    const r = await post('/v2/vectordb/collections/create', { collectionName: collection, dimension: 4 });
    const requestId = r.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(((await r.json()) as { code: number }).code).toBe(0);
    // A call carrying storage credentials in its body (the import fails to read them: not our concern here).
    await post('/v2/vectordb/jobs/import/create', {
      collectionName: collection,
      files: [['s3://nowhere-bucket/x.json']],
      accessKey: 'AKIA-ACCESS-LOG-TEST',
      secretKey: 'secret-key-in-body-xyz',
    });
    const keyId = (await db.query<{ id: string }>(`SELECT id::text FROM api_keys LIMIT 1`)).rows[0]?.id;

    await expect
      .poll(() => parse(api.output()).find((l) => l.log === 'access' && l.requestId === requestId), { timeout: 10_000 })
      .toMatchObject({ method: 'POST', route: '/v2/vectordb/collections/create', status: 200, keyId });
    const line = parse(api.output()).find((l) => l.requestId === requestId && l.log === 'access')!;
    expect(typeof line.durationMs).toBe('number');
    const out = api.output();
    expect(out).not.toContain(key);
    expect(out).not.toContain(key.slice(-12));
    expect(out).not.toContain('secret-key-in-body-xyz');
    expect(out).not.toContain('AKIA-ACCESS-LOG-TEST');
  });

  it('keeps a sane incoming X-Request-Id, replaces an insane one, and logs ids in the route pattern', async () => {
    const ok = await fetch(`${base}/v2/vectordb/jobs/import/describe?jobId=job-none`, {
      headers: { Authorization: `Bearer ${key}`, 'X-Request-Id': 'client-req.42' },
    });
    expect(ok.headers.get('x-request-id')).toBe('client-req.42');
    const bad = await fetch(`${base}/health/live`, { headers: { 'X-Request-Id': 'has spaces\tand "quotes"' } });
    expect(bad.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const unauth = await fetch(`${base}/v2/volumes/private-volume-name`, { headers: { 'X-Request-Id': 'r-unauth' } });
    expect(unauth.status).toBe(401);
    await expect
      .poll(() => parse(api.output()).find((l) => l.log === 'access' && l.requestId === 'r-unauth'), {
        timeout: 10_000,
      })
      .toMatchObject({ method: 'GET', route: '/v2/volumes/:volumeName', status: 401 });
    expect(parse(api.output()).find((l) => l.requestId === 'r-unauth')?.keyId).toBeUndefined();
    expect(api.output()).not.toContain('private-volume-name');
  });

  it('stores the request id with the job it created and puts it on the worker lines of that job', async () => {
    const collection = uniqueName('acl');
    await post('/v2/vectordb/collections/create', { collectionName: collection, dimension: 4 });
    web.put(`/${collection}/rows.json`, json(range(1, 20)));
    const requestId = `create-${collection}`;
    const r = await post(
      '/v2/vectordb/jobs/import/create',
      { collectionName: collection, files: [[web.url(`/${collection}/rows.json`)]] },
      { 'X-Request-Id': requestId },
    );
    expect(r.headers.get('x-request-id')).toBe(requestId);
    const { code, data } = (await r.json()) as { code: number; data: { jobId: string } };
    expect(code).toBe(0);
    const row = await db.query<{ request_id: string }>(`SELECT request_id FROM import_jobs WHERE job_id = $1`, [
      data.jobId,
    ]);
    expect(row.rows[0]?.request_id).toBe(requestId);

    await expect
      .poll(() => parse(worker.output()).find((l) => l.jobId === data.jobId && l.msg === 'import completed'), {
        timeout: 30_000,
      })
      .toMatchObject({ requestId, outcome: 'completed' });
    // Every worker line naming the job names its request (the run knows it once it read the row).
    const jobLines = parse(worker.output()).filter((l) => l.jobId === data.jobId);
    expect(jobLines.length).toBeGreaterThan(0);
    expect(jobLines.filter((l) => l.requestId !== requestId)).toEqual([]);
    // A replay (same Idempotency-Key) keeps the original job's request id.
    const idem = { 'Idempotency-Key': `k-${collection}` };
    const first = await post(
      '/v2/vectordb/jobs/import/create',
      { collectionName: collection, files: [[web.url(`/${collection}/rows.json`)]] },
      { ...idem, 'X-Request-Id': 'first-call' },
    );
    const firstJob = ((await first.json()) as { data: { jobId: string } }).data.jobId;
    await post(
      '/v2/vectordb/jobs/import/create',
      { collectionName: collection, files: [[web.url(`/${collection}/rows.json`)]] },
      { ...idem, 'X-Request-Id': 'second-call' },
    );
    const replay = await db.query<{ request_id: string }>(`SELECT request_id FROM import_jobs WHERE job_id = $1`, [
      firstJob,
    ]);
    expect(replay.rows.map((x) => x.request_id)).toEqual(['first-call']);
  });
});
