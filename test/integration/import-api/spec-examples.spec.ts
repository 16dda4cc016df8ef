import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, freePort, startTestGateway, startTestWorker, type TestGateway, type TestWorker } from '@gw/testing';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { makeCollection } from './helpers';
import {
  completeEllipsis,
  type SpecExample,
  sharedSpecDir,
  specDir,
  specExamples,
  VENDORED_SPEC_DIR,
} from './spec-markdown';

const V2 = '/v2/vectordb/jobs/import';

/**
 * Every example of shared/spec/*.md, read from the markdown at test time (spec-markdown.ts) and
 * sent as printed, against the setup the examples assume: the collection `medium_articles` and an
 * `s3://docs/articles.parquet` served by the loopback S3 emulator (STORAGE_S3_ENDPOINT), so the
 * create example runs as written, through a real worker. Decision 1702 lists how each is run.
 */
describe('the copy of the spec in test/fixtures/spec', () => {
  // A clean clone on a CI machine has no shared/spec beside it and runs the examples of the copy;
  // wherever both exist, the copy must be the contract itself, so a spec change cannot go unseen.
  const shared = sharedSpecDir();
  it.skipIf(shared === undefined)('equals shared/spec file for file', () => {
    const names = (d: string) =>
      readdirSync(d)
        .filter((f) => f.endsWith('.md'))
        .sort();
    expect(names(VENDORED_SPEC_DIR)).toEqual(names(shared!));
    for (const f of names(shared!))
      expect(
        readFileSync(join(VENDORED_SPEC_DIR, f), 'utf8'),
        `test/fixtures/spec/${f} differs from ${shared}/${f}: copy it again`,
      ).toBe(readFileSync(join(shared!, f), 'utf8'));
  });
});

describe('the examples of the spec, as printed', () => {
  const examples = specExamples();
  const example = (id: string): SpecExample => {
    const e = examples.find((x) => x.id === id);
    if (e === undefined) throw new Error(`the spec has no example ${id}`);
    return e;
  };
  const JOB_ID = /^job-[a-z0-9]{22}$/;
  /** A documented answer with its job ids (examples, not the ones we will get) as patterns. */
  const documented = (text: string): unknown =>
    JSON.parse(text, (_k, v: unknown) => (typeof v === 'string' && JOB_ID.test(v) ? expect.stringMatching(JOB_ID) : v));
  /** Keys and value types, recursively (first element of arrays): what a client's parser relies on. */
  const shapeOf = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.slice(0, 1).map(shapeOf)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, shapeOf(x)]))
        : v === null
          ? 'null'
          : typeof v;

  let s3: S3TestServer;
  let gw: TestGateway;
  let worker: TestWorker;
  let key: string;
  const send = (e: SpecExample, body = e.text) => call(gw, e.route!.method, e.route!.path, { key, body });

  beforeAll(async () => {
    s3 = new S3TestServer();
    await s3.start();
    s3.createBucket('docs');
    gw = await startTestGateway({
      // The example sends accessKey "" (= absent): the server's keys, lent to this bucket only.
      ...s3.gatewayEnv('docs'),
      WORKER_LEASE_MS: '3000',
      WORKER_RECONCILE_INTERVAL_MS: '500',
    });
    worker = await startTestWorker(gw.config);
    key = await gw.apiKey(['admin']);
    // The collection the import examples name: medium_articles (id, title, 768-d vector), as in
    // Zilliz's dataset of that name, with the dynamic field.
    const r = await call(gw, 'POST', '/v2/vectordb/collections/create', {
      key,
      body: {
        collectionName: 'medium_articles',
        schema: {
          enableDynamicField: true,
          fields: [
            { fieldName: 'id', dataType: 'Int64', isPrimary: true },
            { fieldName: 'title', dataType: 'VarChar', elementTypeParams: { max_length: 512 } },
            { fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: 768 } },
          ],
        },
      },
    });
    expect(r.body.code, r.text).toBe(0);
  });
  afterAll(async () => {
    await worker?.close();
    await gw?.close();
    await s3?.stop();
  });

  it('runs every example the spec prints (a new one must be added here)', () => {
    expect(examples.map((e) => e.id).sort()).toEqual(
      [
        'collections-api.md §4 request',
        'collections-api.md §5 response',
        'collections-api.md §7 request',
        'collections-api.md §8 request',
        'import-api.md §5 request',
        'import-api.md §7 response',
        'import-api.md §8 response',
      ].sort(),
    );
    // Requests carry the answer the spec documents for them.
    for (const e of examples.filter((x) => x.kind === 'request')) expect(e.answer, e.id).toBeDefined();
  });

  describe('collections-api.md', () => {
    it('§4: creates the example collection `docs` and answers as documented', async () => {
      const e = example('collections-api.md §4 request');
      expect((await send(e)).body).toEqual(documented(e.answer!));
    });

    it('§5: describes `docs` as the example shows (fields the example lists, same keys and values)', async () => {
      const shown = JSON.parse(example('collections-api.md §5 response').text) as {
        data: { collectionID: number; fields: { name: string }[]; properties: { key: string; value: string }[] };
      };
      const r = await call(gw, 'POST', '/v2/vectordb/collections/describe', {
        key,
        body: { collectionName: 'docs' },
      });
      const data = r.body.data as typeof shown.data;
      expect(Object.keys(data).sort()).toEqual(Object.keys(shown.data).sort());
      // The example abbreviates the schema of §4 (no `title`): each field it shows is ours exactly.
      for (const f of shown.data.fields) expect(data.fields.find((x) => x.name === f.name)).toEqual(f);
      expect(data.fields.map((f) => f.name)).toEqual(['id', 'title', 'vector']);
      // pgvector when the extension is installed in the target database, array otherwise (§3).
      const vectorType = (await gw.db.query(`SELECT 1 FROM pg_extension WHERE extname = 'vector'`)).rowCount
        ? 'pgvector'
        : 'array';
      expect(r.body).toEqual({
        ...shown,
        data: {
          ...shown.data,
          collectionID: expect.any(Number) as number,
          fields: data.fields,
          properties: [{ key: 'gateway.vectorType', value: vectorType }],
        },
      });
    });

    it('§7: refuses the insert example as printed (its `…` is not JSON: 1801) and inserts it once completed', async () => {
      const e = example('collections-api.md §7 request');
      expect(e.text).toContain('…');
      expect((await send(e)).body).toEqual({ code: 1801, message: 'can only accept json format request' });
      // `[0.1,0.2,…]` completed to the 768 values of the §4 schema, as a reader would.
      expect((await send(e, completeEllipsis(e.text, 768))).body).toEqual(documented(e.answer!));
    });

    it('§8: counts the rows the query example matches (setup: ids 2 and 3 in English, 4 in French)', async () => {
      const vector = Array.from({ length: 768 }, () => 0.5);
      const setup = await call(gw, 'POST', '/v2/vectordb/entities/insert', {
        key,
        body: {
          collectionName: 'docs',
          data: [2, 3, 4].map((id) => ({ id, title: `t${id}`, vector, lang: id === 4 ? 'fr' : 'en' })),
        },
      });
      expect(setup.body.code, setup.text).toBe(0);
      const e = example('collections-api.md §8 request');
      expect((await send(e)).body).toEqual(documented(e.answer!));
    });
  });

  describe('import-api.md', () => {
    /** articles.parquet as DuckDB writes it: `rows` articles in row groups of 500; `badRow` has 767 values. */
    async function articles(rows: number, badRow?: number): Promise<Buffer> {
      const file = join(mkdtempSync(join(tmpdir(), 'igw-articles-')), 'articles.parquet');
      const inst = await DuckDBInstance.create(':memory:');
      const con = await inst.connect();
      await con.run(
        `COPY (SELECT i::BIGINT AS id, 'article ' || i AS title,
                      list_transform(range(CASE WHEN i = ${badRow ?? -1} THEN 767 ELSE 768 END),
                                     x -> (((x + i) % 97) / 97.0)::FLOAT) AS vector
                 FROM range(1, ${rows + 1}) t(i) ORDER BY i)
           TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 500)`,
      );
      con.closeSync();
      return readFileSync(file);
    }
    async function finished(jobId: string): Promise<Record<string, unknown>> {
      let d: Record<string, unknown> = {};
      await expect
        .poll(
          async () => {
            const r = await call(gw, 'POST', `${V2}/describe`, { key, body: { jobId } });
            d = r.body.data as Record<string, unknown>;
            return d.gatewayState;
          },
          { timeout: 60_000, interval: 100 },
        )
        .toMatch(/^(Completed|Failed|Cancelled)$/);
      return d;
    }
    let completedJob = '';
    let size = 0;

    it('§5 and §7: the create example fails a job with exactly the failed-row reason §7 prints', async () => {
      // §7: A failed row names file, row and field: `"reason":"…"` — read from the spec too.
      const spec = readFileSync(join(specDir(), 'import-api.md'), 'utf8');
      const m = /A failed row names file, row and field: `"reason":"([^`]*)"`/.exec(spec);
      expect(m, 'import-api.md §7 failed-row example').not.toBeNull();
      const reason = m![1]!;
      const row = Number(/row (\d+),/.exec(reason)![1]);
      s3.putDirect('docs', 'articles.parquet', await articles(row + 58, row));
      const e = example('import-api.md §5 request');
      const r = await send(e);
      expect(r.body).toEqual(documented(e.answer!));
      const d = await finished((r.body.data as { jobId: string }).jobId);
      expect(d).toMatchObject({ state: 'Failed', gatewayState: 'Failed', progress: 0, importedRows: 0, reason });
    }, 90_000);

    it('§5: the create example as printed, curl --data-raw without a Content-Type, imports the file', async () => {
      const body = await articles(1200);
      size = body.length;
      s3.putDirect('docs', 'articles.parquet', body);
      const e = example('import-api.md §5 request');
      const r = await send(e);
      expect(r.body).toEqual(documented(e.answer!));
      completedJob = (r.body.data as { jobId: string }).jobId;
      const d = await finished(completedJob);
      expect(d.reason).toBe('');
      const n = await gw.db.query(`SELECT count(*)::int AS n FROM "milvus_default"."medium_articles"`);
      expect(n.rows[0].n).toBe(1200);
    }, 90_000);

    it('§7: describe of that job has the keys and value types of the example, and its values', async () => {
      const shown = JSON.parse(example('import-api.md §7 response').text) as {
        data: Record<string, unknown> & { details: Record<string, unknown>[] };
      };
      const r = await call(gw, 'POST', `${V2}/describe`, { key, body: { jobId: completedJob } });
      const data = r.body.data as Record<string, unknown>;
      // Gateway extensions (docs/api-extensions.md "Phases") may follow; everything else is the example's.
      const { phases: _phases, ...milvus } = data;
      expect(shapeOf({ ...r.body, data: milvus })).toEqual(shapeOf(shown));
      expect(r.body).toMatchObject({
        code: 0,
        data: {
          ...shown.data,
          jobId: completedJob,
          fileSize: size,
          importedRows: 1200,
          totalRows: 1200,
          createTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) as string,
          completeTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) as string,
          details: [
            {
              ...shown.data.details[0],
              fileSize: size,
              importedRows: 1200,
              totalRows: 1200,
              completeTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/) as string,
            },
          ],
        },
      });
    });

    it('§8: a paged list record has the keys and value types of the example', async () => {
      const shown = JSON.parse(example('import-api.md §8 response').text) as {
        data: { currentPage: number; pageSize: number; records: Record<string, unknown>[] };
      };
      const r = await call(gw, 'POST', `${V2}/list`, {
        key,
        body: { pageSize: shown.data.pageSize, currentPage: shown.data.currentPage },
      });
      expect(shapeOf(r.body)).toEqual(shapeOf(shown));
      // Newest first: the completed job, then the failed one (which adds `reason`, §8).
      expect(r.body.data).toMatchObject({ count: 2, currentPage: 1, pageSize: 10 });
      const [completed, failed] = (r.body.data as typeof shown.data).records;
      expect(Object.keys(completed!).sort()).toEqual(Object.keys(shown.data.records[0]!).sort());
      expect(completed).toMatchObject({ collectionName: 'medium_articles', jobId: completedJob, progress: 100 });
      expect(Object.keys(failed!).sort()).toEqual([...Object.keys(shown.data.records[0]!), 'reason'].sort());
    });
  });
});

describe('bodies exactly as vendor clients send them', () => {
  let gw: TestGateway;
  let key: string;
  beforeAll(async () => {
    gw = await startTestGateway();
    key = await gw.apiKey(['admin']);
    const name = await makeCollection(gw.db);
    await gw.db.query(`UPDATE gateway_collections SET name = 'medium_articles' WHERE name = $1`, [name]);
    await gw.db.query(`ALTER TABLE "milvus_default"."${name}" RENAME TO "medium_articles"`);
  });
  afterAll(async () => {
    await gw.close();
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
