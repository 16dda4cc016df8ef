import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, type TestGateway } from '@gw/testing';

const LIST = '/v2/vectordb/jobs/import/list';

interface Rec {
  jobId: string;
  gatewayState: string;
  createTime: string;
}

/**
 * List answers through HTTP: pages found by keys (decision 1101) must equal what a plain ORDER BY
 * gives, `count` comes from the trigger-kept counts, and the gateway's filters (createdAfter,
 * createdBefore, states) — #16 point 9.
 */
describe('job list: pages, counts and filters', () => {
  let gw: TestGateway;
  let key: string;
  const c1 = 'lf_one';
  const c2 = 'lf_two';
  const states = ['Pending', 'Importing', 'Completed', 'Failed', 'Cancelled'];
  beforeAll(async () => {
    gw = await startTestGateway({ LOG_LEVEL: 'warn' });
    key = await gw.apiKey(['import:read']);
    // 250 jobs over two collections, one a minute from 2026-01-01T00:00:00Z, states round-robin;
    // jobs 100 and 101 share a creation time (ties are ordered by jobId).
    await gw.db.query(
      `INSERT INTO import_jobs (job_id, db_name, collection_name, state, created_at)
       SELECT 'job' || lpad(i::text, 4, '0'), 'default', CASE WHEN i % 3 = 0 THEN $1 ELSE $2 END,
              ($3::text[])[1 + i % 5],
              timestamptz '2026-01-01T00:00:00Z' + make_interval(mins => CASE WHEN i = 101 THEN 100 ELSE i END)
         FROM generate_series(1, 250) i`,
      [c1, c2, states],
    );
  });
  afterAll(async () => {
    await gw.close();
  });

  async function list(body: Record<string, unknown>) {
    const r = await call(gw, 'POST', LIST, { key, body });
    return r.body as { code: number; message?: string; data: { count?: number; records: Rec[] } };
  }

  /** Every job matching, newest first, from SQL: what each page must be a slice of. */
  async function expected(where: string, params: unknown[]): Promise<string[]> {
    const r = await gw.db.query<{ job_id: string }>(
      `SELECT job_id FROM import_jobs WHERE db_name = 'default' AND ${where} ORDER BY created_at DESC, job_id DESC`,
      params,
    );
    return r.rows.map((x) => x.job_id);
  }

  it('pages through a collection, one state, several states and the whole database exactly, with exact counts', async () => {
    const cases: { body: Record<string, unknown>; where: string; params: unknown[] }[] = [
      { body: {}, where: 'true', params: [] },
      { body: { collectionName: c2 }, where: 'collection_name = $1', params: [c2] },
      { body: { state: 'Completed' }, where: `state = 'Completed'`, params: [] },
      // v2 "Failed" is Failed and Cancelled: two ordered branches merged.
      {
        body: { collectionName: c1, state: 'Failed' },
        where: `collection_name = $1 AND state IN ('Failed', 'Cancelled')`,
        params: [c1],
      },
      {
        body: { states: ['Pending', 'Importing', 'Completed'] },
        where: `state IN ('Pending', 'Importing', 'Completed')`,
        params: [],
      },
    ];
    for (const c of cases) {
      const all = await expected(c.where, c.params);
      const seen: string[] = [];
      for (let page = 1; page <= Math.ceil(all.length / 30) + 1; page++) {
        const r = await list({ ...c.body, pageSize: 30, currentPage: page });
        expect(r.code, JSON.stringify(c.body)).toBe(0);
        expect(r.data.count, JSON.stringify(c.body)).toBe(all.length);
        seen.push(...r.data.records.map((x) => x.jobId));
      }
      expect(seen, JSON.stringify(c.body)).toEqual(all);
    }
  });

  it('filters by creation time (at or after createdAfter, before createdBefore) with states, counting exactly', async () => {
    const body = {
      collectionName: c2,
      createdAfter: '2026-01-01T01:00:00Z',
      createdBefore: '2026-01-01T03:30:00+01:00',
      pageSize: 100,
    };
    const r = await list(body);
    expect(r.code).toBe(0);
    const want = await expected(
      `collection_name = $1 AND created_at >= '2026-01-01T01:00:00Z' AND created_at < '2026-01-01T02:30:00Z'`,
      [c2],
    );
    expect(want.length).toBeGreaterThan(0);
    expect(r.data.records.map((x) => x.jobId)).toEqual(want);
    expect(r.data.count).toBe(want.length);

    const s = await list({ states: ['Importing', 'Failed'], createdAfter: '2026-01-01T03:00:00.5Z', pageSize: 100 });
    const wantS = await expected(
      `state IN ('Importing', 'Failed', 'Cancelled') AND created_at >= '2026-01-01T03:00:00.5Z'`,
      [],
    );
    expect(s.data.records.map((x) => x.jobId)).toEqual(wantS);
    expect(s.data.count).toBe(wantS.length);
  });

  it('takes states as a comma list in a GET query string, and state with states as the jobs in both', async () => {
    const g = await call(gw, 'GET', `${LIST}?states=Pending,Completed&pageSize=100&collectionName=${c1}`, { key });
    const wantG = await expected(`collection_name = $1 AND state IN ('Pending', 'Completed')`, [c1]);
    const gd = g.body.data as { count: number; records: Rec[] };
    expect(gd.records.map((x) => x.jobId)).toEqual(wantG);
    expect(gd.count).toBe(wantG.length);

    const both = await list({ state: 'Failed', states: ['Cancelled', 'Pending'], pageSize: 100 });
    expect(both.data.records.map((x) => x.gatewayState)).toEqual(expect.arrayContaining(['Cancelled']));
    expect(new Set(both.data.records.map((x) => x.gatewayState))).toEqual(new Set(['Cancelled']));
    const none = await list({ state: 'Completed', states: ['Pending'], pageSize: 10 });
    expect(none.data).toEqual({ count: 0, currentPage: 1, pageSize: 10, records: [] });
  });

  it('refuses bad values with 1100 naming the field', async () => {
    const bad: [Record<string, unknown>, string][] = [
      [{ createdAfter: '2026-01-01' }, 'createdAfter must be an RFC 3339 time'],
      [{ states: 'Pending,Done' }, 'state "Done" is not one of'],
      [{ states: [1, 2] }, 'states must be an array of state names'],
      [{ states: ['Pending', ''] }, 'states must name at least one state'],
      [{ states: { a: 'Pending' } }, 'states must be an array of state names'],
    ];
    for (const [body, message] of bad) {
      const r = await list(body);
      expect(r.code, JSON.stringify(body)).toBe(1100);
      expect(r.message, JSON.stringify(body)).toContain(message);
    }
  });
  it('finds deep pages from the oldest end with the same rows and order (offsets ≥ 1,000 count first)', async () => {
    // 6,000 jobs in a collection of their own, in 2025 (outside the other cases' time ranges),
    // with runs of equal creation times so that the jobId tie-break matters at both ends.
    const deep = 'lf_deep';
    await gw.db.query(
      `INSERT INTO import_jobs (job_id, db_name, collection_name, state, created_at)
       SELECT 'deep' || lpad(i::text, 5, '0'), 'default', $1, ($2::text[])[1 + i % 5],
              timestamptz '2025-06-01T00:00:00Z' + make_interval(secs => i / 3)
         FROM generate_series(1, 6000) i`,
      [deep, states],
    );
    const cases: { body: Record<string, unknown>; where: string }[] = [
      { body: { collectionName: deep }, where: 'collection_name = $1' },
      {
        body: { collectionName: deep, state: 'Failed' },
        where: `collection_name = $1 AND state IN ('Failed', 'Cancelled')`,
      },
      {
        body: { collectionName: deep, states: ['Pending', 'Completed', 'Importing'] },
        where: `collection_name = $1 AND state IN ('Pending', 'Completed', 'Importing')`,
      },
      {
        body: { collectionName: deep, createdAfter: '2025-06-01T00:02:00Z' },
        where: `collection_name = $1 AND created_at >= '2025-06-01T00:02:00Z'`,
      },
    ];
    for (const c of cases) {
      const all = await expected(c.where, [deep]);
      const size = 100;
      const pages = Math.ceil(all.length / size);
      expect(all.length, JSON.stringify(c.body)).toBeGreaterThan(2_000 + size); // pages past the middle at offsets ≥ 1,000
      for (let page = 1; page <= pages + 1; page++) {
        const r = await list({ ...c.body, pageSize: size, currentPage: page });
        expect(r.code, JSON.stringify(c.body)).toBe(0);
        expect(r.data.count, JSON.stringify(c.body)).toBe(all.length);
        expect(
          r.data.records.map((x) => x.jobId),
          `${JSON.stringify(c.body)} page ${page}`,
        ).toEqual(all.slice((page - 1) * size, page * size));
      }
    }
  });
});
