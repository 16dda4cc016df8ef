import pg from 'pg';
import { afterAll, beforeAll, beforeEach, describe, expect, it, onTestFailed } from 'vitest';
import { call, createScratchDatabase, startTestGateway, type TestGateway } from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from './fixtures';
import { createJob as createJobOn, newCollection as newCollectionOn, WorkerProcesses } from './harness';

/**
 * Collections in another database than the job tables (TARGET_DATABASE_URL): publish and the job's
 * Completed state are two commits (issue 13 point 4, decision 0503). A worker killed between them
 * leaves rows visible and the job Importing; whatever ends the job next — a cancel, the
 * reconciler's timeout, the attempt limit — must end it Completed with those rows, never Cancelled
 * or Failed with rows in the collection.
 *
 * The worker is stopped exactly there by a trigger on the job table: its Completed update waits for
 * an advisory lock the test holds, and the test kills the worker while it waits.
 */
const HOLD = 4242;
let web: HttpTestServer;
let gw: TestGateway;
let targetDb: { url: string; drop: () => Promise<void> };
let target: pg.Pool;
let holder: pg.Client;
let key: string;

const ENV = {
  WORKER_LEASE_MS: '2000',
  WORKER_RECONCILE_INTERVAL_MS: '500',
  IMPORT_BATCH_ROWS: '500',
  STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
  STORAGE_ALLOW_HTTP: 'true',
};

const workers = new WorkerProcesses(() => gw, {});

beforeAll(async () => {
  web = new HttpTestServer();
  await web.start();
  targetDb = await createScratchDatabase();
  target = new pg.Pool({ connectionString: targetDb.url, max: 2 });
  target.on('error', () => undefined);
  Object.assign(ENV, { TARGET_DATABASE_URL: targetDb.url });
  gw = await startTestGateway(ENV);
  key = await gw.apiKey(['admin']);
  await gw.db.query(`
    CREATE FUNCTION hold_completion() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN PERFORM pg_advisory_xact_lock(${HOLD}); RETURN NEW; END $$;
    CREATE TRIGGER hold_completion BEFORE UPDATE OF state ON import_jobs FOR EACH ROW
      WHEN (NEW.state = 'Completed' AND OLD.state = 'Importing') EXECUTE FUNCTION hold_completion();`);
  holder = new pg.Client({ connectionString: gw.config.databaseUrl });
  await holder.connect();
}, 120_000);

afterAll(async () => {
  await workers.killAll();
  await holder?.end();
  await gw?.close();
  await target?.end();
  await targetDb?.drop();
  await web?.stop();
});

beforeEach(() =>
  onTestFailed(async () => {
    console.log(workers.outputs());
    const jobs = await gw.db.query(`SELECT job_id, state, attempts, run_token, reason FROM import_jobs`);
    console.log(JSON.stringify(jobs.rows));
  }),
);

async function job(jobId: string): Promise<{ state: string; importedRows: number; reason: string }> {
  const r = await gw.db.query(
    `SELECT state, imported_rows::int AS "importedRows", reason FROM import_jobs WHERE job_id = $1`,
    [jobId],
  );
  return r.rows[0] as { state: string; importedRows: number; reason: string };
}

async function completedBy(jobId: string): Promise<string[]> {
  const r = await gw.db.query(
    `SELECT e.actor FROM import_job_events e JOIN import_jobs j ON j.id = e.job_id
      WHERE j.job_id = $1 AND e.to_state = 'Completed'`,
    [jobId],
  );
  return r.rows.map((x: { actor: string }) => x.actor);
}

const rowsIn = async (collection: string): Promise<number> =>
  (await target.query(`SELECT count(*)::int AS n FROM "milvus_default"."${collection}"`)).rows[0].n as number;

/**
 * Runs a job on a worker until its rows are published in the target database and its Completed
 * update waits on the trigger, then kills that worker and its waiting transaction: the state a
 * crash between the two commits leaves.
 */
async function publishThenKill(body: Record<string, unknown>, collection: string, rows: number): Promise<string> {
  await workers.killAll(); // only this job's worker may run until the crash
  await holder.query('SELECT pg_advisory_lock($1)', [HOLD]);
  try {
    const w = workers.start(ENV);
    // Started before the job exists, so a deadline counted from creation is not spent on start-up.
    await expect.poll(() => w.output().includes('import dispatcher started'), { timeout: 30_000 }).toBe(true);
    const jobId = await createJobOn(gw, key, body);
    await expect.poll(() => rowsIn(collection), { timeout: 30_000, interval: 50 }).toBe(rows);
    const waiting = async () =>
      (
        await gw.db.query(
          `SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted`,
          [HOLD],
        )
      ).rows[0].n as number;
    await expect.poll(waiting, { timeout: 10_000, interval: 50 }).toBe(1);
    await w.stop('SIGKILL');
    await gw.db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = $1 AND NOT granted`,
      [HOLD],
    );
    await expect.poll(waiting, { timeout: 10_000, interval: 50 }).toBe(0);
    expect((await job(jobId)).state).toBe('Importing'); // the second commit never happened
    return jobId;
  } finally {
    await holder.query('SELECT pg_advisory_unlock($1)', [HOLD]);
  }
}

describe('job tables and collections in two databases', () => {
  it('a cancel after the publish commit finds the rows published: the job is Completed, not Cancelled', async () => {
    const c = await newCollectionOn(gw, key, 'apart');
    const ids = range(1, 1_500);
    web.put(`/${c}/one.jsonl`, jsonl(ids));
    const jobId = await publishThenKill({ collectionName: c, objectUrl: web.url(`/${c}/one.jsonl`) }, c, 1_500);

    const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/cancel', { key, body: { jobId } });
    expect(r.body.code, r.text).toBe(1100);
    expect(r.body.message).toMatch(/is Completed and cannot be cancelled/);
    expect(await job(jobId)).toMatchObject({ state: 'Completed', importedRows: 1_500 });
    const d = await target.query(DIGEST_SQL(`"milvus_default"."${c}"`));
    expect(d.rows[0]).toEqual({ n: 1_500, text: expectedDigestInput(ids) });
  }, 90_000);

  it('a deadline passing after the publish commit ends the job Completed by the reconciler, not Failed', async () => {
    const c = await newCollectionOn(gw, key, 'apart');
    const a = range(1, 1_000);
    const b = range(1_001, 1_000);
    web.put(`/${c}/a.jsonl`, jsonl(a));
    web.put(`/${c}/b.jsonl`, jsonl(b));
    const jobId = await publishThenKill(
      {
        collectionName: c,
        objectUrls: [[web.url(`/${c}/a.jsonl`)], [web.url(`/${c}/b.jsonl`)]],
        options: { timeout: '8s' },
      },
      c,
      2_000,
    );
    const past = async () =>
      (
        await gw.db.query(
          `SELECT deadline_at < now() AND lease_expires_at < now() AS past FROM import_jobs WHERE job_id = $1`,
          [jobId],
        )
      ).rows[0].past as boolean;
    await expect.poll(past, { timeout: 20_000, interval: 100 }).toBe(true); // and the dead run's lease
    workers.start(ENV);
    await expect.poll(async () => (await job(jobId)).state, { timeout: 30_000, interval: 100 }).toBe('Completed');
    expect(await job(jobId)).toMatchObject({ importedRows: 2_000, reason: '' });
    expect(await completedBy(jobId)).toEqual(['reconciler']);
    const d = await target.query(DIGEST_SQL(`"milvus_default"."${c}"`));
    expect(d.rows[0]).toEqual({ n: 2_000, text: expectedDigestInput([...a, ...b]) });
  }, 90_000);

  it('a job out of attempts after the publish commit ends Completed; a cancel that came first leaves no rows', async () => {
    const c = await newCollectionOn(gw, key, 'apart');
    const ids = range(1, 1_200);
    web.put(`/${c}/one.jsonl`, jsonl(ids));
    const jobId = await publishThenKill({ collectionName: c, objectUrls: [[web.url(`/${c}/one.jsonl`)]] }, c, 1_200);
    // With one attempt allowed, the next worker finds the job exhausted: it checks the target first.
    workers.start({ ...ENV, IMPORT_MAX_ATTEMPTS: '1' });
    await expect.poll(async () => (await job(jobId)).state, { timeout: 30_000, interval: 100 }).toBe('Completed');
    expect((await job(jobId)).importedRows).toBe(1_200);
    expect(await rowsIn(c)).toBe(1_200);

    // The other order: the fence is closed by a cancel before any publish, so none can follow.
    const c2 = await newCollectionOn(gw, key, 'apart');
    const never = new Promise<void>(() => undefined);
    const body = jsonl(range(1, 3_000));
    web.put(`/${c2}/slow.jsonl`, body, { pauseAfter: { count: 1, bytes: Math.floor(body.length / 2), until: never } });
    const j2 = await createJobOn(gw, key, { collectionName: c2, objectUrl: web.url(`/${c2}/slow.jsonl`) });
    await expect.poll(async () => (await job(j2)).state, { timeout: 20_000, interval: 50 }).toBe('Importing');
    const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/cancel', { key, body: { jobId: j2 } });
    expect(r.body.code, r.text).toBe(0);
    expect((await job(j2)).state).toBe('Cancelled');
    const fence = await target.query(
      `SELECT closed_state AS state, published_rows AS published FROM igw_staging.job_runs
        WHERE right(staging_table, length($1) + 1) = '_' || $1`,
      [(await gw.db.query(`SELECT id::text FROM import_jobs WHERE job_id = $1`, [j2])).rows[0].id],
    );
    expect(fence.rows).toEqual([{ state: 'Cancelled', published: null }]);
    expect(await rowsIn(c2)).toBe(0);
  }, 90_000);
});
