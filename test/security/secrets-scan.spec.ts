import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, freePort, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import type { HttpTestServer } from '../support/storage/http-test-server';
import { type ImportStack, jobState, startImportStack } from '../integration/worker/harness';
import { jsonl, range } from '../integration/worker/fixtures';

/**
 * The secrets scan (issue 13, the suite): after imports that carried credentials (request
 * accessKey/secretKey/token, a signed URL query), none of them appears in Redis (every key of the
 * gateway's prefix, every value), in the API's or the worker's logs (debug level), in any row of
 * any job table, or in any answer (create, describe, list, v1 get/list). The scanner is checked
 * against a planted canary first, so a blind scan fails.
 */
const SECRETS = {
  accessKey: 'AKIARELIABILITYSCAN7',
  secretKey: 'reliabilityScanSecret0123456789abcdefXYZ',
  token: 'FwoGZXIvYXdzReliabilityScanSessionToken',
  signature: 'f00dfeedreliabilityscansignature0123',
  sas: 'reliabilityScanSasSig',
};
const NEEDLES = Object.values(SECRETS);

let stack: ImportStack;
let web: HttpTestServer;
let gw: TestGateway;
let worker: TestWorker;
let key: string;
let redis: Redis;
const answers: string[] = [];

beforeAll(async () => {
  // S3 requests go to a dead loopback port: the credentials are used, nothing leaves the machine.
  stack = await startImportStack({
    STORAGE_S3_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
    STORAGE_S3_FORCE_PATH_STYLE: 'true',
    WORKER_RECONCILE_INTERVAL_MS: '500',
    IMPORT_MAX_ATTEMPTS: '1',
  });
  ({ web, gw, worker, key } = stack);
  redis = new Redis(gw.config.redisUrl);
});
afterAll(async () => {
  redis?.disconnect();
  await stack?.close();
});

async function redisText(): Promise<string> {
  const parts: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${gw.config.queuePrefix}*`, 'COUNT', 500);
    cursor = next;
    for (const k of keys) {
      const type = await redis.type(k);
      parts.push(k);
      if (type === 'string') parts.push((await redis.get(k)) ?? '');
      else if (type === 'hash') parts.push(JSON.stringify(await redis.hgetall(k)));
      else if (type === 'list') parts.push(JSON.stringify(await redis.lrange(k, 0, -1)));
      else if (type === 'set') parts.push(JSON.stringify(await redis.smembers(k)));
      else if (type === 'zset') parts.push(JSON.stringify(await redis.zrange(k, 0, -1)));
      else if (type === 'stream') parts.push(JSON.stringify(await redis.xrange(k, '-', '+')));
    }
  } while (cursor !== '0');
  return parts.join('\n');
}

async function tablesText(): Promise<string> {
  const tables = await gw.db.query<{ t: string }>(
    `SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) AS t FROM information_schema.tables
      WHERE table_schema NOT IN ('pg_catalog', 'information_schema') AND table_type = 'BASE TABLE'`,
  );
  const parts: string[] = [];
  for (const { t } of tables.rows) {
    const r = await gw.db.query<{ j: string }>(
      `SELECT coalesce(string_agg(row_to_json(x)::text, E'\\n'), '') AS j FROM ${t} x`,
    );
    parts.push(r.rows[0]!.j);
  }
  return parts.join('\n');
}

function found(text: string): string[] {
  const lower = text.toLowerCase();
  return NEEDLES.filter((n) => lower.includes(n.toLowerCase()) || lower.includes(encodeURIComponent(n).toLowerCase()));
}

describe('secrets scan after a run', () => {
  it('the scanner finds a planted canary (it is not blind)', async () => {
    await redis.set(`${gw.config.queuePrefix}:canary`, `x${SECRETS.secretKey}x`);
    expect(found(await redisText())).toEqual([SECRETS.secretKey]);
    await redis.del(`${gw.config.queuePrefix}:canary`);
    expect(found(await redisText())).toEqual([]);
  });

  it('no credential in Redis, logs, job tables or answers', async () => {
    const collection = uniqueName('secrets');
    const c = await call(gw, 'POST', '/v2/vectordb/collections/create', {
      key,
      body: { collectionName: collection, dimension: 4 },
    });
    expect(c.body.code).toBe(0);
    web.put(`/${collection}/a.jsonl`, jsonl(range(1, 500)));
    const signed =
      web.url(`/${collection}/a.jsonl`) +
      `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${SECRETS.accessKey}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request` +
      `&X-Amz-Signature=${SECRETS.signature}&sig=${SECRETS.sas}`;
    const bodies = [
      { collectionName: collection, objectUrl: signed },
      {
        collectionName: collection,
        files: [['s3://private-bucket/a.json']],
        accessKey: SECRETS.accessKey,
        secretKey: SECRETS.secretKey,
        token: SECRETS.token,
      },
      // refused at create: the error must not echo what came with it
      {
        collectionName: collection,
        files: [['s3://private-bucket/a.txt']],
        accessKey: SECRETS.accessKey,
        secretKey: SECRETS.secretKey,
      },
      { collectionName: collection, files: [['s3://private-bucket/a.json']], accessKey: SECRETS.accessKey },
    ];
    const jobIds: string[] = [];
    for (const b of bodies) {
      const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', { key, body: b });
      answers.push(r.text);
      if (r.body.code === 0) jobIds.push((r.body.data as { jobId: string }).jobId);
    }
    expect(jobIds).toHaveLength(2);
    for (const jobId of jobIds) {
      await expect
        .poll(() => jobState(gw.db, jobId), { timeout: 120_000, interval: 250 })
        .toMatch(/^(Completed|Failed)$/);
      answers.push((await call(gw, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId } })).text);
      answers.push((await call(gw, 'POST', '/v1/vector/collections/import/get', { key, body: { jobId } })).text);
    }
    answers.push((await call(gw, 'POST', '/v2/vectordb/jobs/import/list', { key, body: {} })).text);
    answers.push(
      (await call(gw, 'GET', `/v1/vector/collections/import/list?collectionName=${collection}`, { key })).text,
    );
    const states = await gw.db.query<{ state: string }>(
      `SELECT state FROM import_jobs WHERE job_id = ANY($1) ORDER BY state`,
      [jobIds],
    );
    expect(states.rows.map((r) => r.state)).toEqual(['Completed', 'Failed']);

    const where: Record<string, string[]> = {
      redis: found(await redisText()),
      apiLogs: found(gw.logs()),
      workerLogs: found(worker.logs()),
      tables: found(await tablesText()),
      answers: found(answers.join('\n')),
    };
    expect(where).toEqual({ redis: [], apiLogs: [], workerLogs: [], tables: [], answers: [] });
    // The scan looked at something: logs and answers are not empty.
    expect(gw.logs().length + worker.logs().length).toBeGreaterThan(1_000);
  }, 300_000);
});
