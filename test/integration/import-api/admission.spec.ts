import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACTIVE_JOB_LIMIT_MESSAGE } from '@gw/jobs';
import { call, startTestGateway, type TestGateway } from '@gw/testing';
import { makeCollection } from './helpers';

const CREATE = '/v2/vectordb/jobs/import/create';

/** Runs `n` tasks with at most `width` in flight. */
async function pool<T>(n: number, width: number, task: (i: number) => Promise<T>): Promise<T[]> {
  const out: T[] = new Array<T>(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await task(i);
      }
    }),
  );
  return out;
}

describe('the per-collection active-job cap', () => {
  // Two API instances with their own connection pools stand for two API processes.
  let a: TestGateway;
  let b: TestGateway;
  let key: string;
  beforeAll(async () => {
    a = await startTestGateway({ LOG_LEVEL: 'warn' });
    b = await startTestGateway({ LOG_LEVEL: 'warn', DATABASE_URL: a.config.databaseUrl });
    key = await a.apiKey(['import:write']);
  });
  afterAll(async () => {
    // b shares a's database, which a drops when it closes.
    await b.close();
    await a.close();
  });

  it('accepts exactly 10,000 of 10,050 concurrent creates across two API instances, then admits again as jobs finish', async () => {
    const collection = await makeCollection(a.db);
    const t0 = Date.now();
    const results = await pool(10_050, 256, (i) =>
      call(i % 2 === 0 ? a : b, 'POST', CREATE, {
        key,
        body: { collectionName: collection, objectUrl: `s3://bkt/${i}.json` },
      }),
    );
    const seconds = (Date.now() - t0) / 1000;
    const accepted = results.filter((r) => r.body.code === 0);
    const refused = results.filter((r) => r.body.code === 2101);
    expect(accepted).toHaveLength(10_000);
    expect(refused).toHaveLength(50);
    expect(refused[0]!.body.message).toBe(ACTIVE_JOB_LIMIT_MESSAGE);
    const rows = await a.db.query(
      `SELECT count(*)::int AS n, (SELECT active_jobs FROM import_collection_counters WHERE collection_name = $1) AS counter
         FROM import_jobs WHERE collection_name = $1 AND state IN ('Pending', 'Importing')`,
      [collection],
    );
    expect(rows.rows[0]).toEqual({ n: 10_000, counter: 10_000 });
    console.log(`10,050 creates in ${seconds.toFixed(1)} s (${Math.round(10_050 / seconds)} creates/s)`);

    // Still full: one more is refused.
    const more = await call(a, 'POST', CREATE, {
      key,
      body: { collectionName: collection, objectUrl: 's3://bkt/x.json' },
    });
    expect(more.body.code).toBe(2101);
    // Three jobs finish (completed, failed, cancelled): exactly three more are admitted.
    await a.db.query(
      `UPDATE import_jobs SET state = s.state, completed_at = now()
         FROM (SELECT id, (ARRAY['Completed','Failed','Cancelled'])[row_number() OVER (ORDER BY id)] AS state
                 FROM import_jobs WHERE collection_name = $1 ORDER BY id LIMIT 3) s
        WHERE import_jobs.id = s.id`,
      [collection],
    );
    const again = await Promise.all(
      Array.from({ length: 5 }, (_, i) =>
        call(b, 'POST', CREATE, { key, body: { collectionName: collection, objectUrl: `s3://bkt/again${i}.json` } }),
      ),
    );
    expect(again.filter((r) => r.body.code === 0)).toHaveLength(3);
    expect(again.filter((r) => r.body.code === 2101)).toHaveLength(2);
  }, 300_000);

  it('does not count idempotent replays against the cap', async () => {
    const small = await startTestGateway({ IMPORT_MAX_ACTIVE_JOBS_PER_COLLECTION: '2', LOG_LEVEL: 'warn' });
    try {
      const k = await small.apiKey(['import:write']);
      const c = await makeCollection(small.db);
      const body = { collectionName: c, objectUrl: 's3://bkt/a.json' };
      const first = await call(small, 'POST', CREATE, { key: k, body, headers: { 'Idempotency-Key': 'same' } });
      await call(small, 'POST', CREATE, { key: k, body: { ...body, objectUrl: 's3://bkt/b.json' } });
      const replay = await call(small, 'POST', CREATE, { key: k, body, headers: { 'Idempotency-Key': 'same' } });
      expect(replay.body).toEqual(first.body);
      const third = await call(small, 'POST', CREATE, { key: k, body: { ...body, objectUrl: 's3://bkt/c.json' } });
      expect(third.body.code).toBe(2101);
    } finally {
      await small.close();
    }
  });
});

describe('request limits', () => {
  it('answers 413 / 1102 for a body over REQUEST_BODY_LIMIT', async () => {
    const gw = await startTestGateway({ REQUEST_BODY_LIMIT: '1kb' });
    try {
      const key = await gw.apiKey(['admin']);
      const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/list', { key, body: { pad: 'x'.repeat(2000) } });
      expect(r.status).toBe(413);
      expect(r.body).toEqual({ code: 1102, message: 'parameter too large' });
    } finally {
      await gw.close();
    }
  });

  it('answers 408 / 10001 when a call outlives its Request-Timeout', async () => {
    const gw = await startTestGateway();
    const blocker = await gw.db.connect();
    try {
      const key = await gw.apiKey(['admin']);
      const c = await makeCollection(gw.db);
      await call(gw, 'POST', CREATE, { key, body: { collectionName: c, objectUrl: 's3://bkt/a.json' } });
      // Hold the collection's admission lock so the next create waits past its 1 s budget.
      await blocker.query('BEGIN');
      await blocker.query(`SELECT * FROM import_collection_counters WHERE collection_name = $1 FOR UPDATE`, [c]);
      const r = await call(gw, 'POST', CREATE, {
        key,
        body: { collectionName: c, objectUrl: 's3://bkt/b.json' },
        headers: { 'Request-Timeout': '1' },
      });
      expect(r.status).toBe(408);
      expect(r.body).toEqual({ code: 10001, message: 'request timeout' });
    } finally {
      await blocker.query('ROLLBACK');
      blocker.release();
      await gw.close();
    }
  });
});
