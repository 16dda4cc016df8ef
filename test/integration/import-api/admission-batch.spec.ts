import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, type TestGateway } from '@gw/testing';
import { makeCollection } from './helpers';

const CREATE = '/v2/vectordb/jobs/import/create';
const LIST = '/v2/vectordb/jobs/import/list';

/**
 * Grouped admission (decision 1102) and the key cache (1103) through HTTP against real PostgreSQL
 * and Redis. The cap itself (10,050 concurrent creates → 10,000) is admission.spec.ts, which runs
 * with the default IMPORT_ADMISSION_BATCH and so through the grouped path.
 */
describe('grouped admission and the key cache', () => {
  let gw: TestGateway;
  let key: string;
  beforeAll(async () => {
    gw = await startTestGateway({ LOG_LEVEL: 'warn', IMPORT_MAX_ACTIVE_JOBS_PER_COLLECTION: '150' });
    key = await gw.apiKey(['import:write']);
  });
  afterAll(async () => {
    await gw.close();
  });

  it('admits 200 concurrent creates of one collection with each request its own answer and the cap exact', async () => {
    const collection = await makeCollection(gw.db);
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        call(gw, 'POST', CREATE, { key, body: { collectionName: collection, objectUrl: `s3://bkt/${i}.json` } }),
      ),
    );
    const ok = results.filter((r) => r.body.code === 0);
    expect(ok).toHaveLength(150);
    expect(results.filter((r) => r.body.code === 2101)).toHaveLength(50);
    const ids = ok.map((r) => (r.body.data as { jobId: string }).jobId);
    expect(new Set(ids).size).toBe(150);
    // Each answer names the job made from that request's own body.
    const rows = await gw.db.query<{ job_id: string; url: string }>(
      `SELECT job_id, request -> 'groups' -> 0 ->> 0 AS url FROM import_jobs WHERE collection_name = $1`,
      [collection],
    );
    expect(rows.rows).toHaveLength(150);
    const byId = new Map(rows.rows.map((r) => [r.job_id, r.url]));
    results.forEach((r, i) => {
      if (r.body.code === 0) expect(byId.get((r.body.data as { jobId: string }).jobId)).toBe(`s3://bkt/${i}.json`);
    });
    const counter = await gw.db.query(`SELECT active_jobs FROM import_collection_counters WHERE collection_name = $1`, [
      collection,
    ]);
    expect(counter.rows[0]).toEqual({ active_jobs: 150 });
  });

  it('keeps idempotency under concurrency: one job for 100 identical keyed creates, 1100 for a different body', async () => {
    const collection = await makeCollection(gw.db);
    const body = { collectionName: collection, objectUrl: 's3://bkt/same.json' };
    const results = await Promise.all([
      ...Array.from({ length: 100 }, () =>
        call(gw, 'POST', CREATE, { key, body, headers: { 'Idempotency-Key': 'batch-key-1' } }),
      ),
      call(gw, 'POST', CREATE, {
        key,
        body: { ...body, objectUrl: 's3://bkt/other.json' },
        headers: { 'Idempotency-Key': 'batch-key-1' },
      }),
    ]);
    const same = results.slice(0, 100);
    const other = results[100]!;
    const ids = new Set(same.map((r) => (r.body.data as { jobId: string } | undefined)?.jobId));
    const jobs = await gw.db.query<{ job_id: string; url: string }>(
      `SELECT job_id, request -> 'groups' -> 0 ->> 0 AS url FROM import_jobs WHERE collection_name = $1`,
      [collection],
    );
    expect(jobs.rows).toHaveLength(1);
    if (jobs.rows[0]!.url === 's3://bkt/same.json') {
      // The identical requests got that one job (one created, the rest replays); the other body a 1100.
      expect(ids).toEqual(new Set([jobs.rows[0]!.job_id]));
      expect(same.filter((r) => r.headers.get('idempotent-replayed') === 'true')).toHaveLength(99);
      expect(other.body.code).toBe(1100);
    } else {
      // The different body came first: every identical request is the conflict.
      expect(same.every((r) => r.body.code === 1100)).toBe(true);
      expect(other.body.code).toBe(0);
    }
  });

  it('sees a revoked key refused within API_KEY_CACHE_MS', async () => {
    const k = await gw.apiKey(['import:read']);
    expect((await call(gw, 'POST', LIST, { key: k, body: {} })).body.code).toBe(0);
    await gw.db.query(`UPDATE api_keys SET revoked_at = now() WHERE key_prefix = $1`, [k.slice(0, 12)]);
    const t0 = Date.now();
    let status = 0;
    while (Date.now() - t0 < gw.config.apiKeyCacheMs + 1000) {
      status = (await call(gw, 'POST', LIST, { key: k, body: {} })).status;
      if (status === 401) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(status).toBe(401);
    expect(Date.now() - t0).toBeLessThan(gw.config.apiKeyCacheMs + 500);
  });
});
