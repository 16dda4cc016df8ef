import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, freePort, startTestGateway, type TestGateway } from '@gw/testing';
import { makeCollection, makeDatabase } from './helpers';

/* Issue 13: hostile clients against the API (auth before body, list scoping, caps, disclosure). */

const V2 = '/v2/vectordb/jobs/import';
const MiB = 1024 * 1024;

let gw: TestGateway;
let admin: string;

beforeAll(async () => {
  gw = await startTestGateway({ REQUEST_BODY_LIMIT: '64mb' });
  admin = await gw.apiKey(['admin']);
});
afterAll(async () => {
  await gw.close();
});

interface EarlyAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Body bytes the client had written when the answer arrived. */
  sent: number;
}

/**
 * Declares a `declared`-byte body, sends only its first MiB and then waits: a server that reads
 * the body before answering never answers (the test times out); one that answers from the
 * headers does so while the client still holds the rest.
 */
function partialUpload(
  path: string,
  declared: number,
  headers: Record<string, string> = {},
  method = 'POST',
): Promise<EarlyAnswer> {
  const u = new URL(`${gw.url}${path}`);
  return new Promise((ok, fail) => {
    let sent = 0;
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method,
        headers: { ...headers, 'Content-Length': String(declared), 'Content-Type': 'application/json' },
      },
      (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => {
          ok({ status: res.statusCode ?? 0, headers: res.headers, body, sent });
          req.destroy();
        });
      },
    );
    // The server may close the connection once it has answered; that is the point.
    req.on('error', (e) => {
      if (sent === 0) fail(e);
    });
    const chunk = Buffer.alloc(MiB, 0x20);
    req.write(chunk, () => (sent += chunk.length));
    setTimeout(() => fail(new Error(`no answer to ${path} within 10 s while the body was incomplete`)), 10_000);
  });
}

describe('authentication comes from the headers, before any body is read', () => {
  it('answers 401 / 1800 to a 64 MiB upload without a key after its first MiB, and closes the connection', async () => {
    const collection = await makeCollection(gw.db);
    for (const headers of [{}, { Authorization: 'Bearer igw_not_a_key' }] as Record<string, string>[]) {
      const r = await partialUpload(`${V2}/create?collectionName=${collection}`, 64 * MiB, headers);
      expect(r.status).toBe(401);
      expect(JSON.parse(r.body)).toEqual({ code: 1800, message: "user hasn't authenticated" });
      expect(r.headers.connection).toBe('close');
      expect(r.sent).toBeLessThanOrEqual(MiB);
    }
  });

  it('answers 403 to a key without the scope, 404 to an unknown route and serves /health and /metrics without reading a large body', async () => {
    const reader = await gw.apiKey(['import:read']);
    const forbidden = await partialUpload(`${V2}/create`, 64 * MiB, { Authorization: `Bearer ${reader}` });
    expect(forbidden.status).toBe(403);
    expect((await partialUpload('/v2/vectordb/nothing/here', 64 * MiB)).status).toBe(404);
    expect((await partialUpload('/health/live', 64 * MiB, {}, 'GET')).status).toBe(200);
    expect((await partialUpload('/metrics', 64 * MiB, {}, 'GET')).status).toBe(200);
  });

  it('answers 413 / 1102 to an authenticated body declared over the limit without reading it', async () => {
    const r = await partialUpload(`${V2}/create`, 65 * MiB, { Authorization: `Bearer ${admin}` });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body)).toEqual({ code: 1102, message: 'parameter too large' });
  });

  it('still reads and parses the body of an authenticated request, and keeps the connection open', async () => {
    const collection = await makeCollection(gw.db);
    const r = await call(gw, 'POST', `${V2}/create`, {
      key: admin,
      body: { collectionName: collection, objectUrl: 's3://bkt/a.json' },
    });
    expect(r.body.code).toBe(0);
    expect(r.headers.get('connection')).not.toBe('close');
  });
});

describe('request caps (2100)', () => {
  const create = (body: Record<string, unknown>) => call(gw, 'POST', `${V2}/create`, { key: admin, body });

  it('caps a NumPy group at the collection fields plus $meta', async () => {
    const collection = await makeCollection(gw.db); // id, vector (+ $meta): 3 files at most
    const group = (n: number) => Array.from({ length: n }, (_, i) => `s3://bkt/g/f${i}.npy`);
    expect((await create({ collectionName: collection, files: [group(3)] })).body.code).toBe(0);
    const r = await create({ collectionName: collection, files: [group(5000)] });
    expect(r.body.code).toBe(2100);
    expect(r.body.message).toBe(
      "importing data failed: a NumPy file group has 5000 files, more than the collection's fields plus $meta (3): " +
        's3://bkt/g/f0.npy,s3://bkt/g/f1.npy,s3://bkt/g/f2.npy,… (5000 paths)',
    );
  });

  it('caps the paths of one request (IMPORT_MAX_PATHS, default 16,384) before parsing them', async () => {
    const collection = await makeCollection(gw.db);
    const files = Array.from({ length: 16_385 }, (_, i) => [`s3://bkt/${i}.json`]);
    const r = await create({ collectionName: collection, files });
    expect(r.body).toEqual({
      code: 2100,
      message: 'importing data failed: too many paths: 16385, at most 16384 per request',
    });
  });

  it('refuses a path longer than 8,192 characters, naming only its start', async () => {
    const collection = await makeCollection(gw.db);
    const r = await create({ collectionName: collection, objectUrl: `s3://bkt/${'a'.repeat(9000)}.json` });
    expect(r.body.code).toBe(2100);
    expect(r.body.message).toMatch(/^importing data failed: path longer than 8192 characters: s3:\/\/bkt\/a+…$/);
    expect(r.text.length).toBeLessThan(400);
  });
});

describe('Request-Timeout', () => {
  it('clamps a value beyond what a timer holds (2,147,483 s) instead of timing out at once', async () => {
    for (const t of ['2147484', '9999999999', '99999999999999999999']) {
      const r = await call(gw, 'POST', `${V2}/list`, { key: admin, body: {}, headers: { 'Request-Timeout': t } });
      expect(r.status, `Request-Timeout: ${t}`).toBe(200);
      expect(r.body.code).toBe(0);
    }
  });
});

describe('list for a key limited to some collections', () => {
  it('filters in SQL: full pages and a count of only the jobs the key may see', async () => {
    const mine = await makeCollection(gw.db);
    const other = await makeCollection(gw.db);
    // Interleaved, so that the newest-first pages hold both collections' jobs.
    for (let i = 0; i < 15; i++) {
      for (const c of [mine, other]) {
        const r = await call(gw, 'POST', `${V2}/create`, {
          key: admin,
          body: { collectionName: c, objectUrl: `s3://bkt/${i}.json` },
        });
        expect(r.body.code).toBe(0);
      }
    }
    const key = await gw.apiKey(['import:read'], { collections: [mine] });
    type Page = { count: number; records: { collectionName: string }[] };
    const page = async (n: number) =>
      (await call(gw, 'POST', `${V2}/list`, { key, body: { pageSize: 10, currentPage: n } })).body.data as Page;
    const [p1, p2] = [await page(1), await page(2)];
    expect(p1.count).toBe(15);
    expect(p1.records).toHaveLength(10);
    expect(p2.records).toHaveLength(5);
    expect(new Set([...p1.records, ...p2.records].map((r) => r.collectionName))).toEqual(new Set([mine]));
    const v1 = await call(gw, 'GET', '/v1/vector/collections/import/list?pageSize=10&currentPage=1', { key });
    expect(v1.body.data).toMatchObject({ count: 15 });
    expect((v1.body.data as { tasks: unknown[] }).tasks).toHaveLength(10);
    // A key limited to a collection of another database sees nothing here.
    const elsewhere = await gw.apiKey(['import:read'], { collections: [`otherdb.${mine}`] });
    const none = await call(gw, 'POST', `${V2}/list`, { key: elsewhere, body: { pageSize: 10 } });
    expect(none.body.data).toMatchObject({ count: 0, records: [] });
  });
});

describe('database routes for limited keys', () => {
  it('refuses databases/create, drop and list to a key limited to collections (403 / 1401)', async () => {
    const collection = await makeCollection(gw.db);
    const key = await gw.apiKey(['collections:write'], { collections: [collection] });
    for (const route of ['create', 'drop', 'list']) {
      const r = await call(gw, 'POST', `/v2/vectordb/databases/${route}`, { key, body: { dbName: 'sneaky_db' } });
      expect(r.status, route).toBe(403);
      expect(r.body.code).toBe(1401);
    }
    const listed = await call(gw, 'POST', '/v2/vectordb/databases/list', { key: admin, body: {} });
    expect(listed.body.data).not.toContain('sneaky_db');
  });

  it('lists only its own collections to a key limited to collections', async () => {
    const mine = await makeCollection(gw.db);
    const other = await makeCollection(gw.db);
    const all = await call(gw, 'POST', '/v2/vectordb/collections/list', { key: admin, body: {} });
    expect(all.body.data).toEqual(expect.arrayContaining([mine, other]));
    const key = await gw.apiKey(['collections:read'], { collections: [mine] });
    const r = await call(gw, 'POST', '/v2/vectordb/collections/list', { key, body: {} });
    expect(r.body).toEqual({ code: 0, data: [mine] });
    const qualified = await gw.apiKey(['collections:read'], { collections: [`default.${other}`] });
    const q = await call(gw, 'POST', '/v2/vectordb/collections/list', { key: qualified, body: {} });
    expect(q.body).toEqual({ code: 0, data: [other] });
  });

  it('lists only its own databases to a key limited to databases', async () => {
    const db = await makeDatabase(gw.db);
    const key = await gw.apiKey(['collections:read'], { databases: [db] });
    const r = await call(gw, 'POST', '/v2/vectordb/databases/list', { key, body: { dbName: db } });
    expect(r.body).toEqual({ code: 0, data: [db] });
  });
});

describe('filters with more literals than PostgreSQL binds', () => {
  it('answers 1100 to `id in [...]` with 70,000 literals, not 2 (service unavailable)', async () => {
    const collection = await makeCollection(gw.db);
    const ids = Array.from({ length: 70_000 }, (_, i) => i).join(',');
    const r = await call(gw, 'POST', '/v2/vectordb/entities/query', {
      key: admin,
      body: { collectionName: collection, filter: `id in [${ids}]`, outputFields: ['id'] },
    });
    expect(r.body).toEqual({
      code: 1100,
      message: 'invalid parameter: too many values in one request (at most 65,535)',
    });
  });
});

describe('what anonymous callers learn from /health/ready and /metrics', () => {
  it('gives check statuses without error texts to a caller without a key, and the detail to a key', async () => {
    const closed = await freePort();
    const down = await startTestGateway({ TARGET_DATABASE_URL: `postgresql://app:pw@127.0.0.1:${closed}/nowhere` });
    try {
      const anonymous = await call(down, 'GET', '/health/ready');
      expect(anonymous.status).toBe(503);
      expect(anonymous.body).toMatchObject({ checks: { vectors: { status: 'error', error: 'unavailable' } } });
      expect(anonymous.text).not.toContain(String(closed));
      expect(anonymous.text).not.toContain('ECONNREFUSED');
      const key = await down.apiKey(['import:read']);
      const detailed = await call(down, 'GET', '/health/ready', { key });
      expect(detailed.text).toContain('ECONNREFUSED');
    } finally {
      await down.close();
    }
  });
});
