import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { importQueueName } from '@gw/jobs';
import { queuePrefixFor, startTestGateway, type TestGateway } from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from './fixtures';
import { createJob as createJobOn, newCollection as newCollectionOn, WorkerProcesses } from './harness';

/**
 * Fencing and attempt limits with real worker processes (issue 12, points 7 and 8): a run that
 * lost its BullMQ lock and its lease while mid-COPY must not publish its rows a second time, and
 * a job whose worker dies on every attempt ends Failed after IMPORT_MAX_ATTEMPTS runs.
 */
let web: HttpTestServer;
let gw: TestGateway;
let redis: Redis;
let key: string;

const ENV = {
  WORKER_LEASE_MS: '2000',
  WORKER_RECONCILE_INTERVAL_MS: '500',
  WORKER_CONCURRENCY: '2',
  IMPORT_BATCH_ROWS: '1000',
  IMPORT_MAX_ATTEMPTS: '2',
  STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
  STORAGE_ALLOW_HTTP: 'true',
};

const workers = new WorkerProcesses(() => gw, ENV);
const startWorker = () => workers.start();

beforeAll(async () => {
  web = new HttpTestServer();
  await web.start();
  gw = await startTestGateway(ENV);
  redis = new Redis(gw.config.redisUrl);
  key = await gw.apiKey(['admin']);
});
afterAll(async () => {
  await workers.killAll();
  redis.disconnect();
  await gw?.close();
  await web?.stop();
});

const explain = () =>
  onTestFailed(async () => {
    console.log(workers.outputs());
    const jobs = await gw.db.query(
      `SELECT job_id, state, lease_owner, lease_expires_at, attempts, run_token, reason FROM import_jobs`,
    );
    console.log(JSON.stringify(jobs.rows));
  });

const newCollection = () => newCollectionOn(gw, key, 'fence');

const createJob = (body: Record<string, unknown>) => createJobOn(gw, key, body);

async function job(jobId: string): Promise<{ id: string; state: string; reason: string; attempts: number }> {
  const r = await gw.db.query(`SELECT id::text, state, reason, attempts FROM import_jobs WHERE job_id = $1`, [jobId]);
  return r.rows[0] as { id: string; state: string; reason: string; attempts: number };
}

async function events(jobId: string, to: string): Promise<string[]> {
  const r = await gw.db.query(
    `SELECT e.message FROM import_job_events e JOIN import_jobs j ON j.id = e.job_id
      WHERE j.job_id = $1 AND e.to_state = $2 ORDER BY e.id`,
    [jobId, to],
  );
  return r.rows.map((x: { message: string }) => x.message);
}

/** A run is mid-COPY: its group's staging COPY is open in PostgreSQL. */
async function copyRunning(): Promise<boolean> {
  const r = await gw.db.query(
    `SELECT count(*)::int AS n FROM pg_stat_activity
      WHERE datname = current_database() AND query ILIKE 'COPY %igw_staging%' AND state <> 'idle'`,
  );
  return (r.rows[0] as { n: number }).n > 0;
}

/** A promise a paused HTTP body waits for, and the function that releases it. */
function gate(): { until: Promise<void>; open: () => void } {
  let open!: () => void;
  const until = new Promise<void>((r) => (open = r));
  return { until, open };
}

describe('fenced runs', () => {
  it('a run that loses its BullMQ lock and lease mid-COPY stops with a logged reason; the rows are published once', async () => {
    explain();
    const c = await newCollection();
    const a = range(1, 10_000);
    const b = range(10_001, 10_000);
    const gateA = gate();
    const gateB = gate();
    // The first read of each file stalls after ~40 % of it, with 1000-row batches already in the COPY.
    for (const [name, ids, g] of [
      ['a', a, gateA],
      ['b', b, gateB],
    ] as const) {
      const body = jsonl(ids);
      web.put(`/${c}/${name}.jsonl`, body, {
        pauseAfter: { count: 1, bytes: Math.floor(body.length * 0.4), until: g.until },
      });
    }
    const w = startWorker();
    const jobId = await createJob({
      collectionName: c,
      objectUrls: [[web.url(`/${c}/a.jsonl`)], [web.url(`/${c}/b.jsonl`)]],
    });
    await expect.poll(copyRunning, { timeout: 20_000, interval: 50 }).toBe(true);

    // Take the job away from the first run the way a stalled process loses it: its Postgres lease
    // runs out and its BullMQ lock disappears, so BullMQ hands the job to the other slot.
    await gw.db.query(`UPDATE import_jobs SET lease_expires_at = now() - interval '1 second' WHERE job_id = $1`, [
      jobId,
    ]);
    const lockKey = `${queuePrefixFor(gw.config.databaseUrl)}:${importQueueName('default', c)}:${jobId}:lock`;
    expect(await redis.del(lockKey)).toBe(1);

    // The second run stages file a, then stalls on file b; only then does the first run wake up.
    const readsOf = (name: string) =>
      web.requests.filter((r) => r.path === `/${c}/${name}.jsonl` && r.method === 'GET');
    await expect.poll(() => readsOf('a').length, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(2);
    await expect.poll(() => readsOf('b').length, { timeout: 20_000, interval: 50 }).toBeGreaterThanOrEqual(1);
    gateA.open();
    await new Promise((r) => setTimeout(r, 1_500)); // room for a stale run to commit file a again
    gateB.open();

    await expect.poll(async () => (await job(jobId)).state, { timeout: 40_000, interval: 100 }).toBe('Completed');
    const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c}"`));
    expect(d.rows[0]).toEqual({ n: 20_000, text: expectedDigestInput([...a, ...b]) });
    expect(await events(jobId, 'Completed')).toEqual(['']);
    expect(await events(jobId, 'Importing')).toEqual(['started (attempt 1 of 2)', 'resumed (attempt 2 of 2)']);
    expect(w.output()).toMatch(/import released: import lease-lost: run 1 no longer holds the lease/);
  }, 90_000);

  it('BullMQ handing a running job to another slot of the same process does not start a second run', async () => {
    explain();
    const c = await newCollection();
    const a = range(1, 10_000);
    const b = range(10_001, 10_000);
    const gates = [gate(), gate()] as const;
    for (const [k, ids] of [a, b].entries()) {
      const body = jsonl(ids);
      web.put(`/${c}/${k}.jsonl`, body, {
        pauseAfter: { count: 1, bytes: Math.floor(body.length * 0.4), until: gates[k]!.until },
      });
    }
    const w = startWorker();
    const jobId = await createJob({
      collectionName: c,
      objectUrls: [[web.url(`/${c}/0.jsonl`)], [web.url(`/${c}/1.jsonl`)]],
    });
    await expect.poll(copyRunning, { timeout: 20_000, interval: 50 }).toBe(true);
    // Only the BullMQ lock goes (the Postgres lease is live): the stalled checker gives the job
    // to the other slot of this very process, whose lease owner id used to be the same.
    const lockKey = `${queuePrefixFor(gw.config.databaseUrl)}:${importQueueName('default', c)}:${jobId}:lock`;
    expect(await redis.del(lockKey)).toBe(1);
    const reads = (k: number) => web.requests.filter((r) => r.path === `/${c}/${k}.jsonl` && r.method === 'GET').length;
    await expect
      .poll(() => w.output().includes('"outcome":"skipped"') || (reads(0) >= 2 && reads(1) >= 1), {
        timeout: 20_000,
        interval: 50,
      })
      .toBe(true);
    gates[0].open();
    await new Promise((r) => setTimeout(r, 1_500)); // room for a second run to commit file 0 again
    gates[1].open();
    await expect.poll(async () => (await job(jobId)).state, { timeout: 40_000, interval: 100 }).toBe('Completed');
    const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c}"`));
    expect(d.rows[0]).toEqual({ n: 20_000, text: expectedDigestInput([...a, ...b]) });
    expect(await events(jobId, 'Importing')).toEqual(['started (attempt 1 of 2)']);
  }, 90_000);

  it('a job whose worker dies on every attempt ends Failed naming the attempts, with zero rows; other jobs complete', async () => {
    explain();
    await workers.killAll();
    const c = await newCollection();
    const other = await newCollection();
    const body = jsonl(range(1, 5_000));
    const never = new Promise<void>(() => undefined);
    web.put(`/${c}/stuck.jsonl`, body, { pauseAfter: { count: 1_000, bytes: 1_000, until: never } });
    web.put(`/${other}/fine.jsonl`, jsonl(range(1, 300)));
    let w = startWorker();
    const jobId = await createJob({ collectionName: c, objectUrl: web.url(`/${c}/stuck.jsonl`) });
    for (const attempt of [1, 2]) {
      await expect.poll(async () => (await job(jobId)).attempts, { timeout: 30_000, interval: 100 }).toBe(attempt);
      await w.stop('SIGKILL');
      w = startWorker();
    }
    const failed = await job(jobId);
    await expect.poll(async () => (await job(jobId)).state, { timeout: 30_000, interval: 100 }).toBe('Failed');
    expect((await job(jobId)).reason).toBe('worker stopped while importing (attempt 2 of 2)');
    expect((await gw.db.query(`SELECT count(*)::int AS n FROM "milvus_default"."${c}"`)).rows[0].n).toBe(0);
    // No staging table of the failed job is left behind: dropped when the job failed, or — when a
    // killed worker's last transaction still committed one after that — by the reconciler's sweep.
    const left = async () =>
      (
        await gw.db.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'igw_staging' AND tablename LIKE $1`, [
          `j\\_%\\_${failed.id}`,
        ])
      ).rows;
    await expect.poll(left, { timeout: 10_000, interval: 100 }).toEqual([]);

    const otherJob = await createJob({ collectionName: other, objectUrl: web.url(`/${other}/fine.jsonl`) });
    await expect.poll(async () => (await job(otherJob)).state, { timeout: 30_000, interval: 100 }).toBe('Completed');
    expect((await gw.db.query(`SELECT count(*)::int AS n FROM "milvus_default"."${other}"`)).rows[0].n).toBe(300);
  }, 120_000);
});
