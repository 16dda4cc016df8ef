import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, startTestWorker, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import { BullJobQueue, type RunScheduleTick } from '@gw/jobs';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { jsonl, range } from '../worker/fixtures';
import { scheduleTick } from './schedule-tick';

/*
 * Scheduled imports (issue 16 point 5) under the per-collection cap of active jobs and with their
 * credentials sealed, through HTTP and S3. The gateway starts without a worker, so a job stays
 * Pending and fills the collection (IMPORT_MAX_ACTIVE_JOBS_PER_COLLECTION=1); ticks are run the
 * way a worker's tick processor runs them, one at a time, so their outcome is known.
 */
const V2 = '/v2/vectordb';
const S = `${V2}/jobs/import/schedules`;
const ACCESS = 'SCHEDKEY';
const SECRET = 'sched-secret-3f9a1c7e';

let s3: S3TestServer;
let gw: TestGateway;
let worker: TestWorker | undefined;
let key: string;
let redis: Redis;
let queue: BullJobQueue;
let tick: RunScheduleTick;

beforeAll(async () => {
  s3 = new S3TestServer();
  await s3.start();
  s3.addCredential(ACCESS, { secretKey: SECRET });
  s3.createBucket('data');
  gw = await startTestGateway({
    STORAGE_S3_ENDPOINT: s3.endpoint,
    STORAGE_S3_FORCE_PATH_STYLE: 'true',
    STORAGE_S3_REGION: 'us-east-1',
    IMPORT_MAX_ACTIVE_JOBS_PER_COLLECTION: '1',
  });
  key = await gw.apiKey(['admin']);
  redis = new Redis(gw.config.redisUrl, { maxRetriesPerRequest: null });
  queue = new BullJobQueue(redis, { prefix: gw.config.queuePrefix, attempts: 1 });
  tick = scheduleTick(gw, queue);
});
afterAll(async () => {
  await worker?.close();
  await queue?.close();
  redis?.disconnect();
  await gw?.close();
  await s3?.stop();
});

async function jobsOf(collection: string): Promise<{ jobId: string; state: string }[]> {
  const r = await gw.db.query<{ jobId: string; state: string }>(
    `SELECT job_id AS "jobId", state FROM import_jobs WHERE collection_name = $1 ORDER BY id`,
    [collection],
  );
  return r.rows;
}

describe('scheduled imports under the cap, credentials sealed', () => {
  it('a tick on a full collection creates no job and says so; the next one, with room, admits one whose credentials are sealed', async () => {
    const c = uniqueName('schedcap');
    const made = await call(gw, 'POST', `${V2}/collections/create`, { key, body: { collectionName: c, dimension: 4 } });
    expect(made.body.code, made.text).toBe(0);
    s3.putDirect('data', `${c}/in/1.jsonl`, jsonl(range(1, 6)));

    // The collection's one active job: Pending, as no worker runs.
    const blocker = await call(gw, 'POST', `${V2}/jobs/import/create`, {
      key,
      body: { collectionName: c, objectUrl: `s3://data/${c}/other.jsonl`, accessKey: ACCESS, secretKey: SECRET },
    });
    expect(blocker.body.code, blocker.text).toBe(0);
    const blockerId = (blocker.body.data as { jobId: string }).jobId;

    const r = await call(gw, 'POST', `${S}/create`, {
      key,
      body: {
        collectionName: c,
        objectUrl: `s3://data/${c}/in/`,
        interval: '1h',
        accessKey: ACCESS,
        secretKey: SECRET,
      },
    });
    expect(r.body.code, r.text).toBe(0);
    const { scheduleId } = r.body.data as { scheduleId: string };

    // Sealed at rest: the schedule row holds ciphertext only, never the secret or the key id in clear.
    const row = await gw.db.query<{ key_id: string | null; ciphertext: Buffer | null; whole: string }>(
      `SELECT key_id, ciphertext, row_to_json(s)::text AS whole FROM import_schedules s WHERE schedule_id = $1`,
      [scheduleId],
    );
    expect(row.rows[0]!.key_id).not.toBeNull();
    expect(row.rows[0]!.ciphertext!.length).toBeGreaterThan(0);
    for (const secret of [SECRET, ACCESS]) {
      expect(row.rows[0]!.ciphertext!.includes(Buffer.from(secret))).toBe(false);
      expect(row.rows[0]!.whole).not.toContain(secret);
      expect(row.rows[0]!.whole).not.toContain(Buffer.from(secret).toString('hex'));
    }
    const shown = await call(gw, 'POST', `${S}/describe`, { key, body: { scheduleId } });
    expect(shown.text).not.toContain(SECRET);
    expect(shown.text).not.toContain(ACCESS);

    const hour = 3_600_000;
    const t0 = Date.now();
    expect(await tick.execute(scheduleId, t0)).toEqual({ kind: 'cap-reached' });
    const full = await call(gw, 'POST', `${S}/describe`, { key, body: { scheduleId } });
    expect(full.body.data).toMatchObject({
      lastTickResult: 'no job: the collection has the maximum number of active jobs',
    });
    expect((await jobsOf(c)).map((j) => j.jobId)).toEqual([blockerId]);

    // Room again: the next tick admits one job, its credentials sealed like any job's.
    const cancelled = await call(gw, 'POST', `${V2}/jobs/import/cancel`, { key, body: { jobId: blockerId } });
    expect(cancelled.body.code, cancelled.text).toBe(0);
    const created = await tick.execute(scheduleId, t0 + hour);
    expect(created).toMatchObject({ kind: 'created', files: 1, replayed: false });
    const jobId = (created as { jobId: string }).jobId;
    const sealed = await gw.db.query<{ ciphertext: Buffer }>(
      `SELECT k.ciphertext FROM import_jobs j JOIN import_job_credentials k ON k.id = j.credentials_id WHERE j.job_id = $1`,
      [jobId],
    );
    expect(sealed.rows).toHaveLength(1);
    expect(sealed.rows[0]!.ciphertext.includes(Buffer.from(SECRET))).toBe(false);

    // A worker loads it with the sealed credentials (the S3 emulator checks SigV4 with SCHEDKEY's secret).
    worker = await startTestWorker(gw.config);
    await expect
      .poll(async () => (await jobsOf(c)).find((j) => j.jobId === jobId)?.state, { timeout: 30_000, interval: 200 })
      .toBe('Completed');
    const n = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "milvus_default"."${c}"`);
    expect(n.rows[0]!.n).toBe(6);
    // Credentials are erased once the job is terminal; with nothing new, a tick creates no job.
    const left = await gw.db.query(
      `SELECT 1 FROM import_jobs j JOIN import_job_credentials k ON k.id = j.credentials_id WHERE j.job_id = $1`,
      [jobId],
    );
    expect(left.rows).toHaveLength(0);
    expect(await tick.execute(scheduleId, t0 + 2 * hour)).toEqual({ kind: 'nothing-new' });
    expect(await jobsOf(c)).toHaveLength(2);
  });
});
