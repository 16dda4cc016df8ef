import Redis from 'ioredis';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '@gw/db';
import { createScratchDatabase, testEnv, uniqueName } from '@gw/testing';
import { BullJobQueue, importQueueName } from '../queues/import/import-queue';
import { Reconciler } from './reconciler';

describe('Reconciler', () => {
  let db: { url: string; drop: () => Promise<void> };
  let pool: Pool;
  let redis: Redis;
  beforeAll(async () => {
    db = await createScratchDatabase();
    await migrate(db.url);
    pool = new Pool({ connectionString: db.url, max: 2 });
    redis = new Redis(testEnv().redisUrl, { maxRetriesPerRequest: null });
  });
  afterAll(async () => {
    await pool.end();
    redis.disconnect();
    await db.drop();
  });

  it('re-enqueues every Pending job Redis does not hold, a page per pass, and uses the active-jobs index', async () => {
    const prefix = `${testEnv().queuePrefix}-rec-${uniqueName()}`;
    await pool.query(
      `INSERT INTO import_jobs (job_id, db_name, collection_name, state, request_hash, created_at)
       SELECT 'job-' || lpad(i::text, 22, '0'), 'default', 'c' || (i % 3), CASE WHEN i % 2 = 0 THEN 'Completed' ELSE 'Pending' END,
              'h', now() - interval '1 minute'
         FROM generate_series(1, 50) i`,
    );
    const queue = new BullJobQueue(redis, { prefix, attempts: 1, timeoutMs: 10_000 });
    const reconciler = new Reconciler(pool, queue, { graceMs: 0, batch: 10 });
    const perPass: number[] = [];
    for (let pass = 0; pass < 4; pass++) perPass.push((await reconciler.runOnce()).enqueued);
    expect(perPass).toEqual([10, 10, 5, 0]);
    expect(perPass.reduce((a, b) => a + b, 0)).toBe(25);
    // A second round finds all of them in Redis and enqueues nothing.
    let again = 0;
    for (let pass = 0; pass < 4; pass++) again += (await reconciler.runOnce()).enqueued;
    expect(again).toBe(0);
    const waiting = await Promise.all([0, 1, 2].map((k) => queue.queueFor('default', `c${k}`).getWaitingCount()));
    expect(waiting.reduce((a, b) => a + b, 0)).toBe(25);
    expect(importQueueName('default', 'c0')).toBe('imp-default-c0');
    const plan = await pool.query(
      `EXPLAIN SELECT id FROM import_jobs WHERE state IN ('Pending', 'Importing') AND id > 0 ORDER BY id LIMIT 10`,
    );
    expect(plan.rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n')).toMatch(
      /import_jobs_active_by_id_idx|import_jobs_pkey/,
    );
    await queue.close();
  });
});
