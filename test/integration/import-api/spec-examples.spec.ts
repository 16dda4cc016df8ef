import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '@gw/testing';
import { call, startTestGateway, type TestGateway } from '@gw/testing';
import { makeCollection } from './helpers';

const V2 = '/v2/vectordb/jobs/import';

describe('bodies exactly as the spec and vendor examples send them', () => {
  let gw: TestGateway;
  let key: string;
  beforeAll(async () => {
    gw = await startTestGateway();
    key = await gw.apiKey(['admin']);
    // The spec's example collection.
    const name = await makeCollection(gw.db);
    await gw.db.query(`UPDATE gateway_collections SET name = 'medium_articles' WHERE name = $1`, [name]);
    await gw.db.query(`ALTER TABLE "milvus_default"."${name}" RENAME TO "medium_articles"`);
  });
  afterAll(async () => {
    await gw.close();
  });

  it('accepts the create example of import-api.md §5 as written (curl --data-raw, no Content-Type)', async () => {
    const r = await call(gw, 'POST', `${V2}/create`, {
      key,
      body: '{"collectionName":"medium_articles","partitionName":"","objectUrl":"s3://docs/articles.parquet","accessKey":"","secretKey":""}',
    });
    expect(r.body.code).toBe(0);
    expect((r.body.data as { jobId: string }).jobId).toMatch(/^job-[a-z0-9]{22}$/);
  });

  it('accepts the Zilliz list example with its trailing comma, and the Node SDK body with dbName', async () => {
    const z = await call(gw, 'POST', `${V2}/list`, { key, body: '{"clusterId":"in01-xxx","pageSize":10,}' });
    expect(z.body).toMatchObject({ code: 0, data: { currentPage: 1, pageSize: 10 } });
    const sdk = await call(gw, 'POST', `${V2}/list`, {
      key,
      body: '{"dbName":"default"}',
      headers: { 'Content-Type': 'text/plain;charset=UTF-8', ContentType: 'application/json' },
    });
    expect(Object.keys(sdk.body.data as object)).toEqual(['records']);
  });

  it('accepts pymilvus bulk_import bodies that send every key, empty ones included', async () => {
    const r = await call(gw, 'POST', `${V2}/create`, {
      key,
      body: {
        collectionName: 'medium_articles',
        files: [['1.parquet']],
        partitionName: null,
        dbName: '',
        objectUrl: '',
        clusterId: '',
        accessKey: '',
        secretKey: '',
        apiKey: '',
        options: null,
      },
    });
    // relative path, no default bucket configured: a 1100 naming STORAGE_DEFAULT_URL, not a parse error
    expect(r.body.code).toBe(1100);
    expect(r.body.message).toMatch(/STORAGE_DEFAULT_URL/);
  });
});

describe('service availability', () => {
  it('answers code 2 "service unavailable" when PostgreSQL cannot be reached', async () => {
    const port = await freePort();
    const down = await startTestGateway({
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/none`,
      AUTH_DISABLED: 'true',
    });
    try {
      const r = await call(down, 'POST', `${V2}/create`, {
        body: { collectionName: 'c', objectUrl: 's3://bkt/a.json' },
      });
      expect(r.body).toEqual({ code: 2, message: 'service unavailable' });
    } finally {
      await down.close();
    }
  });

  it('with AUTH_DISABLED=true accepts requests without a key', async () => {
    const open = await startTestGateway({ AUTH_DISABLED: 'true' });
    try {
      expect((await call(open, 'POST', `${V2}/list`, { body: {} })).body.code).toBe(0);
    } finally {
      await open.close();
    }
  });
});

describe('list at scale', () => {
  it('serves list and count for one collection from an index with 200,000 jobs in the table', async () => {
    const gw2 = await startTestGateway();
    try {
      await gw2.db.query(
        `INSERT INTO import_jobs (job_id, db_name, collection_name, state, request_hash, created_at)
         SELECT 'job-' || lpad(i::text, 22, '0'), 'default', 'c' || (i % 200), (ARRAY['Completed','Failed','Pending'])[1 + i % 3],
                'h', now() - (i || ' seconds')::interval
           FROM generate_series(1, 200000) i`,
      );
      await gw2.db.query('ANALYZE import_jobs');
      const plan = async (sql: string, params: unknown[]) =>
        (await gw2.db.query(`EXPLAIN ${sql}`, params)).rows
          .map((r: { 'QUERY PLAN': string }) => r['QUERY PLAN'])
          .join('\n');
      const list = await plan(
        `SELECT job_id FROM import_jobs WHERE db_name = $1 AND collection_name = $2 ORDER BY created_at DESC, job_id DESC LIMIT 10`,
        ['default', 'c7'],
      );
      expect(list).toMatch(/Index (Only )?Scan using import_jobs_list_collection_idx/);
      expect(list).not.toMatch(/Seq Scan/);
      const byState = await plan(
        `SELECT job_id FROM import_jobs WHERE db_name = $1 AND collection_name = $2 AND state = ANY($3::text[])
          ORDER BY created_at DESC, job_id DESC LIMIT 10`,
        ['default', 'c7', ['Failed']],
      );
      expect(byState).not.toMatch(/Seq Scan/);
      const count = await plan(`SELECT count(*) FROM import_jobs WHERE db_name = $1 AND collection_name = $2`, [
        'default',
        'c7',
      ]);
      expect(count).not.toMatch(/Seq Scan/);
      const t0 = Date.now();
      const key2 = await gw2.apiKey(['import:read']);
      const r = await call(gw2, 'POST', `${V2}/list`, {
        key: key2,
        body: { collectionName: 'c7', pageSize: 10, currentPage: 3 },
      });
      expect(r.body.data).toMatchObject({ count: 1000, currentPage: 3, pageSize: 10 });
      console.log(`list page 3 of one collection among 200,000 jobs: ${Date.now() - t0} ms`);
    } finally {
      await gw2.close();
    }
  }, 120_000);
});

describe('GET /metrics', () => {
  it('exposes active jobs per collection, recent jobs by state and HTTP request counts', async () => {
    const gw3 = await startTestGateway();
    try {
      const k = await gw3.apiKey(['admin']);
      const c = await makeCollection(gw3.db);
      for (let i = 0; i < 3; i++) {
        await call(gw3, 'POST', `${V2}/create`, {
          key: k,
          body: { collectionName: c, objectUrl: `s3://bkt/${i}.json` },
        });
      }
      await call(gw3, 'POST', `${V2}/describe`, { key: k, body: { jobId: 'job-none' } });
      const r = await fetch(`${gw3.url}/metrics`, { headers: { Authorization: `Bearer ${k}` } });
      expect(r.headers.get('content-type')).toContain('text/plain');
      const text = await r.text();
      // Without a key: totals only, no database or collection names.
      const anonymous = await (await fetch(`${gw3.url}/metrics`)).text();
      expect(anonymous).toContain('igw_import_active_jobs 3');
      expect(anonymous).toMatch(/^igw_import_jobs\{state="Pending"\} 3$/m);
      expect(anonymous).not.toContain(c);
      // A key limited to one collection does not learn the names of the others either.
      const limited = await gw3.apiKey(['import:read'], { collections: ['another'] });
      const scoped = await (
        await fetch(`${gw3.url}/metrics`, { headers: { Authorization: `Bearer ${limited}` } })
      ).text();
      expect(scoped).not.toContain(c);
      expect(text).toContain(`igw_import_active_jobs{db="default",collection="${c}"} 3`);
      expect(text).toContain(`igw_import_jobs{db="default",collection="${c}",state="Pending"} 3`);
      // Latency by route pattern, and the process's own metrics.
      expect(text).toMatch(
        /igw_http_request_duration_seconds_count\{method="POST",route="\/v2\/vectordb\/jobs\/import\/create"\} 3/,
      );
      expect(text).toMatch(/^igw_api_process_resident_memory_bytes \d+/m);
      // The job counts come from trigger-kept counters: they follow cancels without counting import_jobs.
      const jobId = (await gw3.db.query(`SELECT job_id FROM import_jobs WHERE collection_name = $1 LIMIT 1`, [c]))
        .rows[0].job_id as string;
      await call(gw3, 'POST', `${V2}/cancel`, { key: k, body: { jobId } });
      const after = await (await fetch(`${gw3.url}/metrics`, { headers: { Authorization: `Bearer ${k}` } })).text();
      expect(after).toContain(`igw_import_jobs{db="default",collection="${c}",state="Pending"} 2`);
      expect(after).toContain(`igw_import_jobs{db="default",collection="${c}",state="Cancelled"} 1`);
      expect(text).toMatch(
        /igw_http_requests_total\{method="POST",route="\/v2\/vectordb\/jobs\/import\/create",status="200"\} 3/,
      );
      expect(text).not.toContain('job-none');
    } finally {
      await gw3.close();
    }
  });
});
