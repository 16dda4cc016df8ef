import { spawn, type ChildProcess } from 'node:child_process';
import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import {
  call,
  freePort,
  gatewayEnv,
  type RunningProcess,
  startNode,
  startTestGateway,
  type TestGateway,
  uniqueName,
} from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from './fixtures';

/**
 * Workers as child processes that die (kill -9, SIGTERM) against a private Redis that can be
 * flushed without touching other test runs.
 */
let redisPort: number;
let redisProc: ChildProcess;
let redis: Redis;
let web: HttpTestServer;
let gw: TestGateway;
let key: string;
const workers: RunningProcess[] = [];

const WORKER_ENV = {
  WORKER_LEASE_MS: '2000',
  WORKER_RECONCILE_INTERVAL_MS: '500',
  STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
  STORAGE_ALLOW_HTTP: 'true',
};

function startWorker(): RunningProcess {
  const p = startNode(
    'apps/worker/src/main.js',
    gatewayEnv({ ...WORKER_ENV, REDIS_URL: `redis://127.0.0.1:${redisPort}`, DATABASE_URL: gw.config.databaseUrl }),
  );
  workers.push(p);
  return p;
}

beforeAll(async () => {
  redisPort = await freePort();
  redisProc = spawn(
    'redis-server',
    ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  redis = new Redis(`redis://127.0.0.1:${redisPort}`, { maxRetriesPerRequest: null });
  redis.on('error', () => undefined); // until the server is up
  const deadline = Date.now() + 5_000;
  while ((await redis.ping().catch(() => 'no')) !== 'PONG') {
    if (Date.now() > deadline) throw new Error('private redis-server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  web = new HttpTestServer();
  await web.start();
  gw = await startTestGateway({ ...WORKER_ENV, REDIS_URL: `redis://127.0.0.1:${redisPort}` });
  key = await gw.apiKey(['admin']);
});
afterAll(async () => {
  await Promise.all(workers.map((w) => w.stop('SIGKILL')));
  await gw?.close();
  await web?.stop();
  redis.disconnect();
  redisProc.kill('SIGKILL');
});

async function newCollection(): Promise<string> {
  const name = uniqueName('rec');
  expect(
    (await call(gw, 'POST', '/v2/vectordb/collections/create', { key, body: { collectionName: name, dimension: 4 } }))
      .body.code,
  ).toBe(0);
  return name;
}

async function createJob(body: Record<string, unknown>): Promise<string> {
  const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', { key, body });
  expect(r.body.code, r.text).toBe(0);
  return (r.body.data as { jobId: string }).jobId;
}

/** Polls until the job reaches `state`; on timeout the workers' output explains why. */
async function waitState(jobId: string, state: string, timeout: number): Promise<void> {
  try {
    await expect.poll(async () => (await jobState(jobId)).state, { timeout, interval: 200 }).toBe(state);
  } catch (e) {
    const tails = workers.map((w, i) => `--- worker ${i}:\n${w.output().slice(-4000)}`).join('\n');
    throw new Error(`${(e as Error).message}\n${JSON.stringify(await jobState(jobId))}\n${tails}`, { cause: e });
  }
}

async function jobState(jobId: string): Promise<{ state: string; reason: string; imported_rows: string }> {
  const r = await gw.db.query(`SELECT state, reason, imported_rows::text FROM import_jobs WHERE job_id = $1`, [jobId]);
  return r.rows[0] as { state: string; reason: string; imported_rows: string };
}

async function completedEvents(jobId: string): Promise<number> {
  const r = await gw.db.query(
    `SELECT count(*)::int AS n FROM import_job_events e JOIN import_jobs j ON j.id = e.job_id
      WHERE j.job_id = $1 AND e.to_state = 'Completed'`,
    [jobId],
  );
  return (r.rows[0] as { n: number }).n;
}

describe('crash recovery', () => {
  const explain = () =>
    onTestFailed(async () => {
      for (const [i, w] of workers.entries()) console.log(`--- worker ${i} output:\n${w.output().slice(-3000)}`);
      const jobs = await gw.db.query(
        `SELECT job_id, state, lease_owner, lease_expires_at, attempts, reason, current_database() AS db FROM import_jobs`,
      );
      console.log(JSON.stringify(jobs.rows));
    });

  it('kill -9 of the worker mid-import, then a restart: the job completes with the exact rows, no duplicates', async () => {
    explain();
    const c = await newCollection();
    // Three groups; the second answers slowly so the worker is killed between groups.
    web.put(`/${c}/a.jsonl`, jsonl(range(1, 2000)));
    web.put(`/${c}/b.jsonl`, jsonl(range(2001, 2000)), { slowFirstByte: { count: 3, ms: 1_500 } });
    web.put(`/${c}/c.jsonl`, jsonl(range(4001, 2000)));
    const first = startWorker();
    const jobId = await createJob({
      collectionName: c,
      objectUrls: [[web.url(`/${c}/a.jsonl`)], [web.url(`/${c}/b.jsonl`)], [web.url(`/${c}/c.jsonl`)]],
    });
    // Wait until the first group is staged and committed, then kill the worker hard.
    await expect
      .poll(
        async () =>
          (
            await gw.db.query(
              `SELECT f.state FROM import_job_files f JOIN import_jobs j ON j.id = f.job_id WHERE j.job_id = $1 AND f.group_index = 0`,
              [jobId],
            )
          ).rows[0]?.state,
        { timeout: 20_000, interval: 50 },
      )
      .toBe('Completed');
    await first.stop('SIGKILL');
    expect((await jobState(jobId)).state).toBe('Importing');

    startWorker();
    await waitState(jobId, 'Completed', 40_000);
    const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c}"`));
    expect(d.rows[0]).toEqual({ n: 6000, text: expectedDigestInput(range(1, 6000)) });
    expect(await completedEvents(jobId)).toBe(1);
    const events = await gw.db.query(
      `SELECT message FROM import_job_events e JOIN import_jobs j ON j.id = e.job_id WHERE j.job_id = $1 AND to_state = 'Importing' ORDER BY e.id`,
      [jobId],
    );
    expect(events.rows.map((r: { message: string }) => r.message)).toEqual([
      'started (attempt 1 of 5)',
      'resumed (attempt 2 of 5)',
    ]);
  }, 90_000);

  it('Redis FLUSHALL while jobs are pending and running: every job completes exactly once', async () => {
    explain();
    startWorker();
    const collections = [await newCollection(), await newCollection()];
    const jobs: { jobId: string; collection: string; ids: number[] }[] = [];
    let next = 1;
    for (const c of collections) {
      for (let k = 0; k < 3; k++) {
        const ids = range(next, 300);
        next += 300;
        web.put(`/${c}/${k}.jsonl`, jsonl(ids), { slowFirstByte: { count: 2, ms: 400 } });
        jobs.push({
          jobId: await createJob({ collectionName: c, objectUrl: web.url(`/${c}/${k}.jsonl`) }),
          collection: c,
          ids,
        });
      }
    }
    // Once something is running, Redis loses everything.
    await expect
      .poll(async () => (await jobState(jobs[0]!.jobId)).state, { timeout: 20_000, interval: 50 })
      .toBe('Importing');
    await redis.flushall();

    for (const j of jobs) {
      await expect
        .poll(async () => (await jobState(j.jobId)).state, { timeout: 60_000, interval: 200 })
        .toBe('Completed');
      expect(await completedEvents(j.jobId)).toBe(1);
    }
    for (const c of collections) {
      const ids = jobs.filter((j) => j.collection === c).flatMap((j) => j.ids);
      const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c}"`));
      expect(d.rows[0]).toEqual({ n: ids.length, text: expectedDigestInput(ids) });
    }
  }, 120_000);

  it('SIGTERM stops the worker within 10 s, hands the running job back, and another worker finishes it', async () => {
    explain();
    for (const w of workers.splice(0)) await w.stop('SIGKILL');
    const c = await newCollection();
    web.put(`/${c}/slow.jsonl`, jsonl(range(1, 500)), { slowFirstByte: { count: 2, ms: 30_000 } });
    const a = startWorker();
    const jobId = await createJob({ collectionName: c, objectUrl: web.url(`/${c}/slow.jsonl`) });
    await expect.poll(async () => (await jobState(jobId)).state, { timeout: 20_000, interval: 50 }).toBe('Importing');
    const t0 = Date.now();
    const exit = await a.stop('SIGTERM');
    expect(Date.now() - t0).toBeLessThan(10_000);
    // Nest re-raises the signal after its shutdown hooks ran, so the process ends "by SIGTERM".
    expect(exit.code === 0 || exit.signal === 'SIGTERM').toBe(true);
    expect(a.output()).toContain('import dispatcher stopped');
    const lease = await gw.db.query(`SELECT lease_owner, state FROM import_jobs WHERE job_id = $1`, [jobId]);
    expect(lease.rows[0]).toEqual({ lease_owner: null, state: 'Importing' });

    web.put(`/${c}/slow.jsonl`, jsonl(range(1, 500)));
    startWorker();
    await expect.poll(async () => (await jobState(jobId)).state, { timeout: 40_000, interval: 200 }).toBe('Completed');
    expect((await gw.db.query(`SELECT count(*)::int AS n FROM "milvus_default"."${c}"`)).rows[0].n).toBe(500);
  }, 90_000);

  it('two worker processes on one Redis share the work without taking a job twice', async () => {
    explain();
    for (const w of workers.splice(0)) await w.stop('SIGKILL');
    const a = startWorker();
    const b = startWorker();
    const collections = [await newCollection(), await newCollection(), await newCollection()];
    const jobs: { jobId: string; collection: string; ids: number[] }[] = [];
    let next = 1;
    for (let k = 0; k < 4; k++) {
      for (const c of collections) {
        const ids = range(next, 200);
        next += 200;
        web.put(`/${c}/${k}.jsonl`, jsonl(ids), { slowFirstByte: { count: 1, ms: 150 } });
        jobs.push({
          jobId: await createJob({ collectionName: c, objectUrl: web.url(`/${c}/${k}.jsonl`) }),
          collection: c,
          ids,
        });
      }
    }
    for (const j of jobs) {
      await waitState(j.jobId, 'Completed', 60_000);
      expect(await completedEvents(j.jobId)).toBe(1);
      const starts = await gw.db.query(
        `SELECT count(*)::int AS n FROM import_job_events e JOIN import_jobs j ON j.id = e.job_id
          WHERE j.job_id = $1 AND e.to_state = 'Importing'`,
        [j.jobId],
      );
      expect(starts.rows[0].n).toBe(1);
    }
    for (const c of collections) {
      const ids = jobs.filter((j) => j.collection === c).flatMap((j) => j.ids);
      const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c}"`));
      expect(d.rows[0]).toEqual({ n: ids.length, text: expectedDigestInput(ids) });
    }
    const done = (w: RunningProcess) => (w.output().match(/"outcome":"completed"/g) ?? []).length;
    console.log(`jobs completed by worker a: ${done(a)}, by worker b: ${done(b)}`);
    expect(done(a) + done(b)).toBe(12);
    expect(done(a)).toBeGreaterThan(0);
    expect(done(b)).toBeGreaterThan(0);
  }, 90_000);
});
