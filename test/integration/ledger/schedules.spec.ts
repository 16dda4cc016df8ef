import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, startTestWorker, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import { BullJobQueue } from '@gw/jobs';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { jsonl, range } from '../worker/fixtures';
import { scheduleTick } from './schedule-tick';

/** Scheduled imports (issue 16 point 5, decision 1402) through HTTP, real BullMQ job schedulers and a worker. */
const V2 = '/v2/vectordb';
const S = `${V2}/jobs/import/schedules`;

interface Schedule {
  scheduleId: string;
  collectionName: string;
  objectUrl: string;
  interval: string;
  intervalSeconds: number;
  lastTickResult: string;
  lastJobId?: string;
}

let s3: S3TestServer;
let gw: TestGateway;
let worker: TestWorker | undefined;
let key: string;
let redis: Redis;

beforeAll(async () => {
  s3 = new S3TestServer();
  await s3.start();
  s3.createBucket('data');
  gw = await startTestGateway({
    STORAGE_S3_ENDPOINT: s3.endpoint,
    STORAGE_S3_FORCE_PATH_STYLE: 'true',
    STORAGE_S3_REGION: 'us-east-1',
    WORKER_RECONCILE_INTERVAL_MS: '500',
    WORKER_CONCURRENCY: '2',
  });
  worker = await startTestWorker(gw.config);
  key = await gw.apiKey(['admin']);
  redis = new Redis(gw.config.redisUrl);
});
afterAll(async () => {
  await worker?.close();
  await gw?.close();
  await s3?.stop();
  redis?.disconnect();
});

async function newCollection(): Promise<string> {
  const name = uniqueName('sched');
  const r = await call(gw, 'POST', `${V2}/collections/create`, { key, body: { collectionName: name, dimension: 4 } });
  expect(r.body.code, r.text).toBe(0);
  return name;
}

async function rowCount(collection: string): Promise<number> {
  const r = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "milvus_default"."${collection}"`);
  return r.rows[0]!.n;
}

async function jobsOf(collection: string): Promise<{ jobId: string; state: string; rows: number }[]> {
  const r = await gw.db.query<{ jobId: string; state: string; rows: number }>(
    `SELECT job_id AS "jobId", state, imported_rows::int AS rows FROM import_jobs WHERE collection_name = $1 ORDER BY id`,
    [collection],
  );
  return r.rows;
}

async function describeSchedule(scheduleId: string): Promise<Schedule> {
  const r = await call(gw, 'POST', `${S}/describe`, { key, body: { scheduleId } });
  expect(r.body.code, r.text).toBe(0);
  return r.body.data as Schedule;
}

const creds = { accessKey: 'S3RVER', secretKey: 'S3RVER' };

describe('scheduled imports', () => {
  it('creates one job per tick with only the files not loaded yet, and none when nothing is new', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/in/1.jsonl`, jsonl(range(1, 10)));
    s3.putDirect('data', `${c}/in/2.jsonl`, jsonl(range(11, 10)));
    const folder = `s3://data/${c}/in/`;
    const r = await call(gw, 'POST', `${S}/create`, {
      key,
      body: { collectionName: c, objectUrl: folder, interval: '1s', ...creds },
    });
    expect(r.body.code, r.text).toBe(0);
    const { scheduleId } = r.body.data as { scheduleId: string };
    expect(scheduleId).toMatch(/^sched-[0-9a-f]{20}$/);

    await expect.poll(() => rowCount(c), { timeout: 30_000, interval: 200 }).toBe(20);
    await expect
      .poll(async () => (await describeSchedule(scheduleId)).lastTickResult, { timeout: 15_000, interval: 200 })
      .toBe('nothing new');
    expect((await jobsOf(c)).map((j) => [j.state, j.rows])).toEqual([['Completed', 20]]);

    // A new file: the next tick loads it alone.
    s3.putDirect('data', `${c}/in/3.jsonl`, jsonl(range(21, 5)));
    await expect.poll(() => rowCount(c), { timeout: 30_000, interval: 200 }).toBe(25);
    await expect
      .poll(async () => (await describeSchedule(scheduleId)).lastTickResult, { timeout: 15_000, interval: 200 })
      .toBe('nothing new');
    expect((await jobsOf(c)).map((j) => [j.state, j.rows])).toEqual([
      ['Completed', 20],
      ['Completed', 5],
    ]);
    const d = await describeSchedule(scheduleId);
    expect(d).toMatchObject({ collectionName: c, objectUrl: folder, interval: '1s', intervalSeconds: 1 });
    expect(JSON.stringify(d)).not.toContain('S3RVER'); // credentials stay sealed

    const list = await call(gw, 'POST', `${S}/list`, { key, body: { collectionName: c } });
    expect((list.body.data as { records: Schedule[] }).records.map((x) => x.scheduleId)).toEqual([scheduleId]);
    const dropped = await call(gw, 'POST', `${S}/drop`, { key, body: { scheduleId } });
    expect(dropped.body.code, dropped.text).toBe(0);
    s3.putDirect('data', `${c}/in/4.jsonl`, jsonl(range(26, 5)));
    await new Promise((res) => setTimeout(res, 3_000));
    expect(await rowCount(c)).toBe(25);
    const gone = await call(gw, 'POST', `${S}/describe`, { key, body: { scheduleId } });
    expect(gone.body).toMatchObject({
      code: 1100,
      message: `invalid parameter: schedule not found, scheduleId=${scheduleId}`,
    });
  });

  it('keeps schedules in PostgreSQL: a flushed Redis gets its job schedulers back from a restarted worker', async () => {
    const c = await newCollection();
    const folder = `s3://data/${c}/in/`;
    s3.putDirect('data', `${c}/in/1.jsonl`, jsonl(range(1, 3)));
    await worker!.close();
    worker = undefined;
    const r = await call(gw, 'POST', `${S}/create`, {
      key,
      body: { collectionName: c, objectUrl: folder, interval: '1s', ...creds },
    });
    expect(r.body.code, r.text).toBe(0);
    // Redis loses every key of this gateway (its queues and the job scheduler).
    const keys = await redis.keys(`${gw.config.queuePrefix}:*`);
    if (keys.length > 0) await redis.del(...keys);
    worker = await startTestWorker(gw.config);
    await expect.poll(() => rowCount(c), { timeout: 30_000, interval: 200 }).toBe(3);
    expect((await jobsOf(c)).map((j) => j.state)).toEqual(['Completed']);
  });

  it('admits one job when two workers run the same tick at once (tick lock, tick number as idempotency key)', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/in/1.jsonl`, jsonl(range(1, 4)));
    // BullMQ 6 runs an `every` scheduler's first tick at once: the gateway's own worker may tick too,
    // so three tickers can race for this tick. Exactly one job must come of it, whoever wins.
    const r = await call(gw, 'POST', `${S}/create`, {
      key,
      body: { collectionName: c, objectUrl: `s3://data/${c}/in/`, interval: '720h', ...creds },
    });
    expect(r.body.code, r.text).toBe(0);
    const { scheduleId } = r.body.data as { scheduleId: string };
    const queue = new BullJobQueue(redis, { prefix: gw.config.queuePrefix, attempts: 1 });
    const tickers = [0, 1].map(() => scheduleTick(gw, queue));
    const at = Date.now();
    const outcomes = await Promise.all(tickers.map((t) => t.execute(scheduleId, at)));
    for (const o of outcomes) expect(['created', 'busy', 'locked']).toContain(o.kind);
    expect(outcomes.filter((o) => o.kind === 'created' && !o.replayed).length).toBeLessThanOrEqual(1);
    // Both test tickers lose only to the gateway's own tick, which then creates the job.
    await expect.poll(async () => (await jobsOf(c)).length, { timeout: 10_000, interval: 100 }).toBe(1);
    await expect.poll(() => rowCount(c), { timeout: 30_000, interval: 200 }).toBe(4);
    // Once loaded, the same folder gives no job.
    expect(await tickers[0]!.execute(scheduleId, at + 1)).toEqual({ kind: 'nothing-new' });
    expect(await jobsOf(c)).toHaveLength(1);
    await queue.close();
  });

  it('refuses a schedule that is not one folder, or has no valid interval, naming the problem', async () => {
    const c = await newCollection();
    const bad = async (body: Record<string, unknown>) => (await call(gw, 'POST', `${S}/create`, { key, body })).body;
    expect(await bad({ collectionName: c, objectUrl: `s3://data/${c}/a.jsonl`, interval: '5m' })).toMatchObject({
      code: 1100,
      message: 'invalid parameter: objectUrl of a schedule must be a folder (a URL ending with /)',
    });
    expect(await bad({ collectionName: c, objectUrl: `s3://data/${c}/`, interval: '0.5s' })).toMatchObject({
      code: 1100,
      message: 'invalid parameter: interval "0.5s" is not a duration from 1s to 720h such as "30s" or "5m"',
    });
    expect(await bad({ collectionName: c, objectUrl: `s3://data/${c}/` })).toMatchObject({
      code: 1802,
      message: 'missing required parameters: interval',
    });
    expect(await bad({ collectionName: 'nope_missing', objectUrl: `s3://data/x/`, interval: '5m' })).toMatchObject({
      code: 100,
    });
  });
});
