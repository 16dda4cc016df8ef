import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Redis from 'ioredis';
import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '@gw/db';
import { JobStaging, STAGING_SCHEMA, stagingTableName } from '@gw/sink';
import { createScratchDatabase, testEnv, uniqueName } from '@gw/testing';
import { BullJobQueue, importQueueName } from '../queues/import/import-queue';
import { sweepSpoolFiles } from './plan';
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

  it('drops staging of jobs that are no longer active (cancelled while queued, failed, deleted), only for its own installation', async () => {
    const prefix = `${testEnv().queuePrefix}-rec-${uniqueName()}`;
    const queue = new BullJobQueue(redis, { prefix, attempts: 1, timeoutMs: 10_000 });
    const staging = new JobStaging(pool);
    await staging.ensureSchema();
    const installation = (await pool.query<{ id: string }>('SELECT id FROM gateway_installation')).rows[0]!.id;
    const ids = await pool.query<{ id: string; state: string }>(
      `INSERT INTO import_jobs (job_id, db_name, collection_name, state, request_hash)
       SELECT 'job-stg' || lpad(i::text, 19, '0'), 'default', 'stg', s, 'h'
         FROM unnest(ARRAY['Cancelled', 'Failed', 'Importing', 'Pending']) WITH ORDINALITY AS t(s, i)
       RETURNING id::text, state`,
    );
    const byState = Object.fromEntries(ids.rows.map((r) => [r.state, r.id]));
    const tables = [
      ...ids.rows.map((r) => stagingTableName(installation, r.id)),
      stagingTableName(installation, '999999'), // its job was deleted
      stagingTableName('otherinst0', byState.Cancelled!), // another gateway sharing the database
    ];
    for (const t of tables) await pool.query(`CREATE TABLE "${STAGING_SCHEMA}"."${t}" (x int)`);
    const reconciler = new Reconciler(pool, queue, { graceMs: 60_000, batch: 10, target: pool });
    expect((await reconciler.runOnce()).stagingDropped).toBe(3);
    const left = await pool.query<{ t: string }>(
      `SELECT tablename AS t FROM pg_tables WHERE schemaname = $1 AND tablename LIKE 'j\\_%' ORDER BY 1`,
      [STAGING_SCHEMA],
    );
    expect(left.rows.map((r) => r.t).sort()).toEqual(
      [
        stagingTableName(installation, byState.Importing!),
        stagingTableName(installation, byState.Pending!),
        stagingTableName('otherinst0', byState.Cancelled!),
      ].sort(),
    );
    expect((await reconciler.runOnce()).stagingDropped).toBe(0);
    await queue.close();
  });

  it('fails an index build whose worker died (no lock held), and leaves one whose builder holds its lock', async () => {
    const prefix = `${testEnv().queuePrefix}-rec-${uniqueName()}`;
    const queue = new BullJobQueue(redis, { prefix, attempts: 1, timeoutMs: 10_000 });
    const ids = await pool.query<{ id: string }>(
      `INSERT INTO import_jobs (job_id, db_name, collection_name, state, request_hash, run_token)
       SELECT 'job-idx' || lpad(i::text, 19, '0'), 'default', 'idx', 'Completed', 'h', 1 FROM generate_series(1, 3) i
       RETURNING id::text`,
    );
    const [dead, live, fresh] = ids.rows.map((r) => r.id);
    await pool.query(
      `INSERT INTO import_job_phases (job_id, phase, state, started_at)
       VALUES ($1, 'indexing', 'Running', now() - interval '5 minutes'), ($2, 'indexing', 'Running', now() - interval '5 minutes'),
              ($3, 'indexing', 'Running', now())`,
      [dead, live, fresh],
    );
    // The live builder's session holds the job's lock, as IndexAfterLoad's does.
    const builder = await pool.connect();
    await builder.query(`SELECT pg_advisory_lock(1768187904, $1)`, [Number(live)]);
    try {
      const reconciler = new Reconciler(pool, queue, { graceMs: 60_000, batch: 10, target: pool });
      expect((await reconciler.runOnce()).indexingAbandoned).toBe(1);
      const states = await pool.query<{ id: string; state: string; message: string }>(
        `SELECT job_id::text AS id, state, message FROM import_job_phases WHERE job_id = ANY($1::bigint[]) ORDER BY job_id`,
        [[dead, live, fresh]],
      );
      expect(states.rows).toEqual([
        { id: dead, state: 'Failed', message: 'the worker stopped while building the index' },
        { id: live, state: 'Running', message: '' },
        { id: fresh, state: 'Running', message: '' },
      ]);
    } finally {
      await builder.query(`SELECT pg_advisory_unlock_all()`);
      builder.release();
      await queue.close();
    }
  });

  it('deletes terminal jobs that ended before IMPORT_JOB_RETENTION with their files and events, in bounded batches per pass', async () => {
    const prefix = `${testEnv().queuePrefix}-rec-${uniqueName()}`;
    const queue = new BullJobQueue(redis, { prefix, attempts: 1, timeoutMs: 10_000 });
    const coll = uniqueName('ret');
    // Five jobs that ended three days ago, two that ended an hour ago, and active ones of any age.
    const jobs = await pool.query<{ id: string }>(
      `INSERT INTO import_jobs (job_id, db_name, collection_name, state, request_hash, created_at, completed_at)
       SELECT 'job-ret' || lpad(t.i::text, 4, '0') || substr(md5($1), 1, 15), 'default', $1, t.state, 'h',
              now() - t.age - interval '1 hour', CASE WHEN t.state IN ('Pending', 'Importing') THEN NULL ELSE now() - t.age END
         FROM (VALUES (1, 'Completed', interval '3 days'), (2, 'Failed', interval '3 days'),
                      (3, 'Cancelled', interval '3 days'), (4, 'Completed', interval '4 days'),
                      (5, 'Completed', interval '5 days'), (6, 'Completed', interval '1 hour'),
                      (7, 'Failed', interval '1 hour'), (8, 'Pending', interval '9 days'),
                      (9, 'Importing', interval '9 days')) AS t(i, state, age)
       RETURNING id::text`,
      [coll],
    );
    expect(jobs.rows).toHaveLength(9);
    for (const j of jobs.rows) {
      await pool.query(
        `INSERT INTO import_job_files (job_id, group_index, urls, display_name, format) VALUES ($1, 0, ARRAY['u'], 'u', 'json')`,
        [j.id],
      );
      await pool.query(`INSERT INTO import_job_events (job_id, to_state) VALUES ($1, 'Pending')`, [j.id]);
    }
    const active = async () =>
      (
        await pool.query(
          `SELECT active_jobs AS n FROM import_collection_counters WHERE db_name = 'default' AND collection_name = $1`,
          [coll],
        )
      ).rows[0]?.n as number;
    expect(await active()).toBe(2);
    const day = 24 * 3_600_000;
    const reconciler = new Reconciler(pool, queue, {
      graceMs: 60_000,
      batch: 10,
      retentionMs: 2 * day,
      retentionBatch: 2,
      retentionBatchesPerPass: 2,
    });
    expect(await reconciler.expireEnded()).toBe(4); // two batches of two, then the pass ends
    expect(await reconciler.expireEnded()).toBe(1);
    expect(await reconciler.expireEnded()).toBe(0);
    const left = await pool.query<{ state: string }>(
      `SELECT state FROM import_jobs WHERE collection_name = $1 ORDER BY state`,
      [coll],
    );
    expect(left.rows.map((r) => r.state)).toEqual(['Completed', 'Failed', 'Importing', 'Pending']);
    const orphans = await pool.query(
      `SELECT (SELECT count(*) FROM import_job_files f WHERE NOT EXISTS (SELECT 1 FROM import_jobs j WHERE j.id = f.job_id))::int
            + (SELECT count(*) FROM import_job_events e WHERE NOT EXISTS (SELECT 1 FROM import_jobs j WHERE j.id = e.job_id))::int AS n`,
    );
    expect(orphans.rows[0].n).toBe(0);
    const kept = await pool.query(
      `SELECT count(*)::int AS n FROM import_job_files f JOIN import_jobs j ON j.id = f.job_id WHERE j.collection_name = $1`,
      [coll],
    );
    expect(kept.rows[0].n).toBe(4);
    expect(await active()).toBe(2); // deleting ended jobs leaves the admission counters alone
    // The per-state counts /metrics reads follow the deletes (trigger-kept, no count of import_jobs).
    const counts = await pool.query<{ state: string; jobs: string }>(
      `SELECT state, jobs::text FROM import_job_state_counts WHERE collection_name = $1 AND jobs > 0 ORDER BY state`,
      [coll],
    );
    expect(counts.rows).toEqual([
      { state: 'Completed', jobs: '1' },
      { state: 'Failed', jobs: '1' },
      { state: 'Importing', jobs: '1' },
      { state: 'Pending', jobs: '1' },
    ]);
    const plan = await pool.query(
      `EXPLAIN SELECT id FROM import_jobs WHERE state IN ('Completed', 'Failed', 'Cancelled')
         AND completed_at < now() - interval '2 days' ORDER BY completed_at, id LIMIT 1000`,
    );
    expect(plan.rows.map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN']).join('\n')).toMatch(
      /import_jobs_terminal_completed_idx/,
    );
    // Without a retention nothing is deleted.
    expect(await new Reconciler(pool, queue, { graceMs: 60_000, batch: 10 }).expireEnded()).toBe(0);
    await queue.close();
  });
});

describe('sweepSpoolFiles', () => {
  it('removes spool files of processes that no longer run and keeps those of live ones', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'igw-spool-test-'));
    const dead = spawnSync(process.execPath, ['-e', '0']).pid; // a pid that just exited
    const mine = `igw-spool-${process.pid}-${'a'.repeat(16)}`;
    const stale = `igw-spool-${dead}-${'b'.repeat(16)}`;
    const unrelated = 'igw-spool-notes.txt';
    for (const f of [mine, stale, unrelated]) writeFileSync(join(dir, f), 'x');
    expect(await sweepSpoolFiles(dir)).toBe(1);
    expect(readdirSync(dir).sort()).toEqual([mine, unrelated].sort());
  });
});
