import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { migrate } from '@gw/db';
import { call, type CallResult, startTestGateway, type TestGateway } from '@gw/testing';
import { HttpTestServer } from '../support/storage/http-test-server';
import { createJob, jobState, newCollection, WorkerProcesses } from '../integration/worker/harness';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from '../integration/worker/fixtures';
import { PrivatePostgres, PrivateRedis } from './private-services';
import { reportFigure, scale } from './suite';

/**
 * Dependencies down mid-run (issue 13, the suite), on a Redis and a PostgreSQL cluster of this
 * test's own — the shared ones are never restarted. Redis is killed and comes back empty (lost and
 * flushed); PostgreSQL is stopped (fast: every session terminated) and started again. While a
 * dependency is down the API answers — /health/ready 503 naming it, a create Milvus code 2
 * "service unavailable" (import-api.md §4) — and it recovers by itself; every job completes exactly
 * once with exact rows.
 */
const JOBS = scale(4, 12);
const ROWS = scale(1_500, 3_000);
const ENV = {
  WORKER_LEASE_MS: '2000',
  WORKER_RECONCILE_INTERVAL_MS: '500',
  STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
  STORAGE_ALLOW_HTTP: 'true',
  DATABASE_POOL_TIMEOUT_MS: '2000',
};

const redis = new PrivateRedis();
const pg = new PrivatePostgres();
let web: HttpTestServer;
let gw: TestGateway;
let key: string;
let workers: WorkerProcesses;

beforeAll(async () => {
  await redis.start();
  await pg.init();
  await migrate(pg.url);
  web = new HttpTestServer();
  await web.start();
  gw = await startTestGateway({ ...ENV, DATABASE_URL: pg.url, REDIS_URL: redis.url });
  key = await gw.apiKey(['admin']);
  workers = new WorkerProcesses(() => gw, { ...ENV, REDIS_URL: redis.url });
  workers.start();
  workers.start();
}, 180_000);
afterAll(async () => {
  await workers?.killAll();
  await gw?.close().catch(() => undefined);
  await web?.stop();
  await redis.kill();
  pg.destroy();
});

interface Job {
  jobId: string;
  ids: number[];
}
let nextId = 1;

async function startJobs(collection: string): Promise<Job[]> {
  const jobs: Job[] = [];
  for (let k = 0; k < JOBS; k++) {
    const a = range(nextId, ROWS);
    const b = range(nextId + ROWS, ROWS);
    nextId += 2 * ROWS;
    web.put(`/${collection}/${k}a.jsonl`, jsonl(a), { slowFirstByte: { count: 1, ms: 500 } });
    web.put(`/${collection}/${k}b.jsonl`, jsonl(b), { slowFirstByte: { count: 1, ms: 500 } });
    const jobId = await createJob(gw, key, {
      collectionName: collection,
      objectUrls: [[web.url(`/${collection}/${k}a.jsonl`)], [web.url(`/${collection}/${k}b.jsonl`)]],
    });
    jobs.push({ jobId, ids: [...a, ...b] });
  }
  return jobs;
}

async function waitImporting(jobs: Job[]): Promise<void> {
  await expect
    .poll(
      async () =>
        (
          await gw.db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM import_jobs WHERE job_id = ANY($1) AND state = 'Importing'`,
            [jobs.map((j) => j.jobId)],
          )
        ).rows[0]!.n,
      { timeout: 30_000, interval: 50 },
    )
    .toBeGreaterThan(0);
}

/** While a dependency is down: readiness 503 naming it; a create is answered (not hung). */
async function whileDown(
  dependency: RegExp,
  createBody: Record<string, unknown>,
): Promise<{ readyMs: number; createMs: number; create: CallResult }> {
  let readyMs = 0;
  await expect
    .poll(
      async () => {
        const t0 = Date.now();
        const res = await fetch(`${gw.url}/health/ready`, { headers: { authorization: `Bearer ${key}` } });
        readyMs = Date.now() - t0;
        return `${res.status} ${await res.text()}`;
      },
      { timeout: 20_000, interval: 200 },
    )
    .toMatch(new RegExp(`^503 .*${dependency.source}`, 'i'));
  const t0 = Date.now();
  const create = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', { key, body: createBody });
  const createMs = Date.now() - t0;
  expect(create.status, create.text).toBe(200);
  expect(createMs).toBeLessThan(15_000);
  return { readyMs, createMs, create };
}

async function expectRecovered(): Promise<number> {
  const t0 = Date.now();
  await expect
    .poll(async () => (await fetch(`${gw.url}/health/ready`)).status, { timeout: 60_000, interval: 250 })
    .toBe(200);
  return Date.now() - t0;
}

async function expectExactlyOnce(collection: string, jobs: Job[]): Promise<void> {
  for (const j of jobs) {
    await expect.poll(() => jobState(gw.db, j.jobId), { timeout: 180_000, interval: 300 }).toBe('Completed');
  }
  const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${collection}"`));
  const ids = jobs.flatMap((j) => j.ids);
  expect(d.rows[0]).toEqual({ n: ids.length, text: expectedDigestInput(ids) });
  const ev = await gw.db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM import_job_events e JOIN import_jobs j ON j.id = e.job_id
      WHERE j.job_id = ANY($1) AND e.to_state = 'Completed'`,
    [jobs.map((j) => j.jobId)],
  );
  expect(ev.rows[0]!.n).toBe(jobs.length);
}

describe('dependencies down mid-run (private Redis and PostgreSQL)', () => {
  it('Redis killed and restarted empty mid-import: 503 while down, recovers, every job exactly once', async () => {
    onTestFailed(() => console.log(workers.outputs()));
    const collection = await newCollection(gw, key, 'redisdown');
    const jobs = await startJobs(collection);
    await waitImporting(jobs);
    await redis.kill();
    // Redis is dispatch only: a create while it is down is admitted in PostgreSQL (code 0) and
    // dispatched by the reconciler once Redis is back.
    const late = range(nextId, ROWS);
    nextId += ROWS;
    web.put(`/${collection}/late.jsonl`, jsonl(late));
    const { create, ...down } = await whileDown(/redis/, {
      collectionName: collection,
      objectUrl: web.url(`/${collection}/late.jsonl`),
    });
    expect(create.body.code, create.text).toBe(0);
    jobs.push({ jobId: (create.body.data as { jobId: string }).jobId, ids: late });
    await new Promise((r) => setTimeout(r, 2_000));
    await redis.start(); // same port, empty: everything BullMQ held is gone
    const recoveryMs = await expectRecovered();
    const after = await call(gw, 'POST', '/v2/vectordb/jobs/import/list', {
      key,
      body: { collectionName: collection },
    });
    expect(after.body.code, after.text).toBe(0);
    await expectExactlyOnce(collection, jobs);
    reportFigure('redis-down', { jobs: jobs.length, ...down, readyAgainMs: recoveryMs });
  }, 400_000);

  it('PostgreSQL stopped and started mid-import: 503 while down, recovers, every job exactly once', async () => {
    onTestFailed(() => console.log(workers.outputs()));
    const collection = await newCollection(gw, key, 'pgdown');
    const jobs = await startJobs(collection);
    await waitImporting(jobs);
    pg.stop();
    // PostgreSQL holds the truth: nothing can be admitted, the answer is Milvus code 2 (import-api.md §4).
    const { create, ...down } = await whileDown(/database|postgres/, {
      collectionName: collection,
      files: [['s3://bucket/while-down.json']],
    });
    expect(create.body, create.text).toMatchObject({ code: 2, message: 'service unavailable' });
    await new Promise((r) => setTimeout(r, 2_000));
    pg.start();
    const recoveryMs = await expectRecovered();
    await expectExactlyOnce(collection, jobs);
    reportFigure('postgres-down', { jobs: jobs.length, ...down, readyAgainMs: recoveryMs });
  }, 400_000);
});
