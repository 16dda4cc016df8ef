import { request } from 'node:http';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, callRaw, type CallResult, startTestGateway, type TestGateway } from '@gw/testing';
import { scale } from '../reliability/suite';
import { type AppRoute, enumerateRoutes } from './routes';

/**
 * API fuzzing (issue 13, the suite): malformed JSON, wrong types, unicode, hostile names, deep
 * nesting and huge bodies against every JSON route, with an admin key. Every answer is a Milvus
 * envelope with a known code — never an HTTP 5xx, never 65535 (an unexpected error) — and the
 * process keeps serving.
 */
const RUNS = scale(60, 1_000);
let gw: TestGateway;
let key: string;
let jsonRoutes: AppRoute[];

beforeAll(async () => {
  gw = await startTestGateway();
  key = await gw.apiKey(['admin']);
  jsonRoutes = enumerateRoutes(gw.app).filter(
    (r) => r.scope !== undefined && (r.method === 'POST' || r.method === 'GET') && !r.pattern.includes('/files'),
  );
});
afterAll(async () => {
  await gw?.close();
});

const seen = new Map<string, number>();

async function send(route: AppRoute, body: string): Promise<CallResult> {
  const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };
  const r =
    route.method === 'GET'
      ? await callRaw(gw, 'GET', route.path, body, headers).catch((e: unknown): CallResult => ({
          status: -1,
          headers: new Headers(),
          body: { code: -1 },
          text: String(e),
        }))
      : await call(gw, route.method, route.path, { body, headers });
  const k = `${r.status}/${r.body.code}`;
  seen.set(k, (seen.get(k) ?? 0) + 1);
  return r;
}

function expectSane(route: AppRoute, body: string, r: CallResult): void {
  const where = `${route.method} ${route.path} ← ${body.slice(0, 300)}\n→ ${r.status} ${r.text.slice(0, 300)}`;
  expect(r.status, where).toBeGreaterThanOrEqual(200);
  expect(r.status, where).toBeLessThan(500);
  expect(typeof r.body.code, where).toBe('number');
  expect(r.body.code, where).not.toBe(65535);
  expect(r.body.code, where).not.toBe(-1);
}

/** Names an attacker would try: traversal, quotes, NUL, RTL, emoji, SQL, very long, reserved. */
const hostileName = fc.oneof(
  fc.constantFrom(
    '../../etc/passwd',
    "x'; DROP TABLE import_jobs; --",
    'a"b',
    '\u0000',
    '\u202egnp.exe',
    '😀'.repeat(40),
    'pg_catalog',
    'igw_staging',
    'milvus_default',
    'x'.repeat(100_000),
    '',
    ' ',
    'Ä\u0301',
    '\ud800',
    '%00',
    '${jndi:ldap://127.0.0.1/a}',
  ),
  fc.string({ unit: 'grapheme', maxLength: 80 }),
  fc.string({ unit: 'binary', maxLength: 80 }),
);

const wrongType = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.anything({ maxDepth: 2 }), { maxLength: 5 }),
  fc.dictionary(fc.string({ maxLength: 5 }), fc.anything({ maxDepth: 2 }), { maxKeys: 4 }),
  hostileName,
);

const FIELDS = [
  'collectionName',
  'dbName',
  'partitionName',
  'jobId',
  'files',
  'objectUrl',
  'objectUrls',
  'options',
  'data',
  'filter',
  'limit',
  'offset',
  'outputFields',
  'schema',
  'dimension',
  'volumeName',
  'dataPaths',
  'id',
  'indexParams',
  'pageSize',
  'currentPage',
];

const envelopeLike = fc.dictionary(fc.constantFrom(...FIELDS), wrongType, { maxKeys: 6 });

describe('API fuzzing', () => {
  it('malformed JSON and arbitrary bytes on every JSON route', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.oneof(
          fc.string({ unit: 'binary', maxLength: 200 }),
          fc.json().map((j) => j.slice(0, Math.max(1, j.length - 1))),
          fc.constantFrom('{', '[', '{"a":', '{"collectionName":"x",}', 'null', '"x"', '1e999', '{}{}', '\ufeff{}', ''),
        ),
        async (i, body) => {
          const route = jsonRoutes[i % jsonRoutes.length]!;
          expectSane(route, body, await send(route, body));
        },
      ),
      { numRuns: RUNS },
    );
  });

  it('wrong types, unicode and hostile names in every field', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat(), envelopeLike, async (i, obj) => {
        const route = jsonRoutes[i % jsonRoutes.length]!;
        const body = JSON.stringify(obj);
        expectSane(route, body, await send(route, body));
      }),
      { numRuns: RUNS * 3 },
    );
  });

  it('a NUL in a job id is a 1100, not an unexpected error (found by this fuzzer)', async () => {
    for (const route of jsonRoutes.filter((r) =>
      /import\/(describe|get_progress|getProgress|cancel)$/.test(r.pattern),
    )) {
      const body = JSON.stringify({ jobId: 'job-\u0000' });
      const r = await send(route, body);
      expectSane(route, body, r);
      expect(r.body.code, r.text).toBe(1100);
    }
  });

  it('a NUL in the dbName or collectionName of a list is a 1100, not an unexpected error (found by this fuzzer)', async () => {
    const lists = jsonRoutes.filter((r) => /jobs\/import(\/schedules)?\/list$/.test(r.pattern));
    expect(lists.length).toBeGreaterThanOrEqual(2);
    for (const route of lists) {
      for (const fields of [{ dbName: '\u0000' }, { collectionName: 'c\u0000' }]) {
        const body = JSON.stringify(fields);
        const r = await send(route, body);
        expectSane(route, body, r);
        expect(r.body.code, r.text).toBe(1100);
      }
    }
  });

  it('deep nesting, huge arrays and a body over the limit', async () => {
    const create = jsonRoutes.find((r) => r.pattern === '/v2/vectordb/jobs/import/create')!;
    const insert = jsonRoutes.find((r) => r.pattern === '/v2/vectordb/entities/insert')!;
    const deep = (n: number) => '{"options":'.repeat(n) + '1' + '}'.repeat(n);
    for (const body of [
      '['.repeat(200_000),
      deep(100_000),
      JSON.stringify({ collectionName: 'c', files: Array.from({ length: 200_000 }, () => ['x.json']) }),
      JSON.stringify({
        collectionName: 'c',
        data: Array.from({ length: 100_000 }, (_, k) => ({ id: k, vector: 'x' })),
      }),
    ]) {
      for (const route of [create, insert]) expectSane(route, body, await send(route, body));
    }
    // Over the 64 MiB limit: 413/1102 as soon as the limit is passed. The API stops reading then,
    // so a client still writing may see its connection reset after (or instead of) the answer.
    const huge = Buffer.from(`{"collectionName":"${'x'.repeat(70 * 1024 * 1024)}"}`);
    const answer = await new Promise<{ status: number; text: string } | 'reset'>((resolve) => {
      const u = new URL(`${gw.url}${create.path}`);
      let got: { status: number; text: string } | undefined;
      const req = request(
        {
          host: u.hostname,
          port: u.port,
          path: u.pathname,
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-length': huge.length },
        },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve((got = { status: res.statusCode ?? 0, text })));
          res.on('error', () => resolve(got ?? 'reset'));
        },
      );
      req.on('error', () => setTimeout(() => resolve(got ?? 'reset'), 200));
      req.end(huge);
    });
    if (answer !== 'reset') {
      expect(answer.status, answer.text).toBe(413);
      expect((JSON.parse(answer.text) as { code: number }).code).toBe(1102);
    }
    const live = await fetch(`${gw.url}/health/live`);
    expect(live.status).toBe(200);
  });

  it('the gateway still serves afterwards, and no answer was an unexpected error', async () => {
    const live = await fetch(`${gw.url}/health/live`);
    expect(live.status).toBe(200);
    const r = await call(gw, 'POST', '/v2/vectordb/collections/list', { key, body: {} });
    expect(r.body.code).toBe(0);
    expect([...seen.keys()].some((k) => k.endsWith('/65535'))).toBe(false);
    console.log(`[figure] ${JSON.stringify({ name: 'fuzz', answers: Object.fromEntries(seen) })}`);
  });
});
