import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, startTestWorker, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import Redis from 'ioredis';
import { MAX_STORED_REJECTS_PER_JOB } from '@gw/db';
import { BullJobQueue, Reconciler } from '@gw/jobs';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { numpy, range, vectorOf } from './fixtures';

/**
 * error_mode=continue through HTTP (issue 16 points 2–3, decision 1301): refused rows are skipped,
 * counted in describe and list, reported as JSONL page by page; past max_bad_rows the job fails
 * and publishes nothing. The worker parses in threads, so row numbers are checked across pieces.
 */
const V2 = '/v2/vectordb';
type Describe = {
  dryRun?: {
    done: boolean;
    files: number;
    rows: number;
    bytes: number;
    rejectedRows: number;
    estimatedSeconds: number | null;
    details: {
      fileName: string;
      files: number;
      rows: number;
      bytes: number;
      rejectedRows: number;
      problem: string;
      errors: { file: string; row: number; field: string; reason: string }[];
    }[];
  };
  state: string;
  gatewayState: string;
  importedRows: number;
  rejectedRows?: number;
  reason: string;
  details: { fileName: string; importedRows: number; rejectedRows?: number }[];
};

let s3: S3TestServer;
let gw: TestGateway;
let worker: TestWorker;
let key: string;

beforeAll(async () => {
  s3 = new S3TestServer();
  await s3.start();
  s3.createBucket('data');
  gw = await startTestGateway({
    ...s3.gatewayEnv('data'),
    WORKER_LEASE_MS: '3000',
    WORKER_RECONCILE_INTERVAL_MS: '500',
    WORKER_PARSE_THREADS: '2',
  });
  worker = await startTestWorker(gw.config);
  key = await gw.apiKey(['admin']);
});
afterAll(async () => {
  await worker.close();
  await gw.close();
  await s3.stop();
});

/** JSONL of `ids`; the rows of `bad` have a 3-value vector (the collection's is 4). */
function rows(ids: readonly number[], bad: ReadonlySet<number>): Buffer {
  const line = (i: number) =>
    JSON.stringify({ id: i, vector: bad.has(i) ? vectorOf(i).slice(1) : vectorOf(i), pad: 'x'.repeat(200) });
  return Buffer.from(ids.map(line).join('\n') + '\n');
}

async function newCollection(): Promise<string> {
  const name = uniqueName('rej');
  const r = await call(gw, 'POST', `${V2}/collections/create`, { key, body: { collectionName: name, dimension: 4 } });
  expect(r.body.code).toBe(0);
  return name;
}

async function createJob(body: Record<string, unknown>): Promise<string> {
  const r = await call(gw, 'POST', `${V2}/jobs/import/create`, { key, body });
  expect(r.body.code, r.text).toBe(0);
  return (r.body.data as { jobId: string }).jobId;
}

async function finished(jobId: string): Promise<Describe> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const r = await call(gw, 'POST', `${V2}/jobs/import/describe`, { key, body: { jobId } });
    const d = r.body.data as Describe;
    if (d.gatewayState === 'Completed' || d.gatewayState === 'Failed') return d;
    await new Promise((res) => setTimeout(res, 150));
  }
  throw new Error(`job ${jobId} did not finish\n${worker.logs().slice(-3000)}`);
}

async function count(c: string): Promise<number> {
  const r = await gw.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM "milvus_default"."${c}"`);
  return Number(r.rows[0]!.n);
}

async function rejects(jobId: string, extra = '', k = key) {
  const r = await call(gw, 'GET', `${V2}/jobs/import/rejects?jobId=${jobId}${extra}`, { key: k });
  const lines = r.text === '' ? [] : r.text.trimEnd().split('\n');
  return {
    status: r.status,
    type: r.headers.get('content-type'),
    next: r.headers.get('gateway-rejects-next'),
    total: r.headers.get('gateway-rejected-rows'),
    rows: lines.map((l) => JSON.parse(l) as { file: string; row: number; field: string; reason: string; raw: string }),
    text: r.text,
  };
}

describe('error_mode=continue', () => {
  const N = 6000; // one piece per file here; rows across pieces are checked in test/integration/pipeline
  const bad = new Set([1, 30, 200, 2500, 5999]); // numeric order differs from text order

  it('skips refused rows, completes with rejectedRows, and reports them as JSONL in row order, page by page', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/a.jsonl`, rows(range(1, N), bad));
    const jobId = await createJob({
      collectionName: c,
      objectUrl: `s3://data/${c}/a.jsonl`,
      options: { error_mode: 'continue' },
    });
    const d = await finished(jobId);
    expect(d.reason).toBe('');
    expect(d).toMatchObject({ state: 'Completed', importedRows: N - bad.size, rejectedRows: bad.size });
    expect(d.details[0]).toMatchObject({ importedRows: N - bad.size, rejectedRows: bad.size });
    expect(await count(c)).toBe(N - bad.size);

    const list = await call(gw, 'POST', `${V2}/jobs/import/list`, { key, body: { collectionName: c } });
    const rec = (list.body.data as { records: { jobId: string; rejectedRows?: number }[] }).records;
    expect(rec.find((x) => x.jobId === jobId)?.rejectedRows).toBe(bad.size);

    const all = await rejects(jobId);
    expect(all.status).toBe(200);
    expect(all.type).toContain('application/x-ndjson');
    expect(all.total).toBe(String(bad.size));
    expect(all.next).toBeNull();
    expect(all.rows.map((r) => [r.file, r.row, r.field])).toEqual(
      [...bad].map((i) => [`s3://data/${c}/a.jsonl`, i, 'vector']),
    );
    expect(all.rows[0]!.reason).toBe('expected 4 values, got 3');
    expect(all.rows[0]!.raw).toBe(JSON.stringify(vectorOf(1).slice(1)));

    // Pages of 3: the cursor header leads to the rest, and is absent on the last page.
    const p1 = await rejects(jobId, '&limit=3');
    expect(p1.rows.map((r) => r.row)).toEqual([1, 30, 200]);
    expect(p1.next).not.toBeNull();
    const p2 = await rejects(jobId, `&limit=3&after=${p1.next}`);
    expect(p2.rows.map((r) => r.row)).toEqual([2500, 5999]);
    expect(p2.next).toBeNull();
  });

  it('skips Parquet and NumPy rows the schema refuses (NumPy read row by row), naming file, row and field', async () => {
    const c = uniqueName('rejcol');
    const made = await call(gw, 'POST', `${V2}/collections/create`, {
      key,
      body: {
        collectionName: c,
        schema: {
          fields: [
            { fieldName: 'id', dataType: 'Int64', isPrimary: true },
            { fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: 4 } },
            { fieldName: 'tag', dataType: 'VarChar', elementTypeParams: { max_length: 4 } },
          ],
        },
      },
    });
    expect(made.body.code, made.text).toBe(0);
    // Rows 100, 200, … of each file carry a 12-character tag (max_length 4); the files' metadata is fine.
    const dir = mkdtempSync(join(tmpdir(), 'igw-rej-'));
    const inst = await DuckDBInstance.create(':memory:');
    const con = await inst.connect();
    await con.run(
      `COPY (SELECT i::BIGINT AS id, [i::FLOAT, 0.5::FLOAT, 1::FLOAT, 2::FLOAT] AS vector,
                    CASE WHEN i % 100 = 0 THEN 'twelve-chars' ELSE 'ok' END AS tag
               FROM range(1, 501) t(i)) TO '${dir}/a.parquet' (FORMAT parquet, ROW_GROUP_SIZE 128)`,
    );
    con.closeSync();
    execFileSync('python3', [
      '-c',
      `import numpy as np, sys
d = sys.argv[1]
ids = np.arange(1001, 1501, dtype='<i8')
np.save(d + '/id.npy', ids)
np.save(d + '/vector.npy', np.stack([ids, ids, ids, ids], axis=1).astype('<f4'))
np.save(d + '/tag.npy', np.array(['twelve-chars' if (i - 1000) % 100 == 0 else 'ok' for i in ids], dtype='<U12'))`,
      dir,
    ]);
    s3.putDirect('data', `${c}/a.parquet`, readFileSync(join(dir, 'a.parquet')));
    for (const f of ['id', 'vector', 'tag'])
      s3.putDirect('data', `${c}/np/${f}.npy`, readFileSync(join(dir, `${f}.npy`)));
    const jobId = await createJob({
      collectionName: c,
      files: [[`s3://data/${c}/a.parquet`], ['id', 'vector', 'tag'].map((f) => `s3://data/${c}/np/${f}.npy`)],
      options: { error_mode: 'continue' },
    });
    const d = await finished(jobId);
    expect(d.reason).toBe('');
    expect(d).toMatchObject({ state: 'Completed', importedRows: 990, rejectedRows: 10 });
    expect(d.details.map((x) => x.rejectedRows)).toEqual([5, 5]);
    expect(await count(c)).toBe(990);
    const r = await rejects(jobId);
    expect(r.rows.map((x) => [x.file, x.row, x.field, x.raw])).toEqual([
      ...[100, 200, 300, 400, 500].map((n) => [`s3://data/${c}/a.parquet`, n, 'tag', 'twelve-chars']),
      ...[100, 200, 300, 400, 500].map((n) => [`s3://data/${c}/np/tag.npy`, n, 'tag', 'twelve-chars']),
    ]);
    expect(r.rows[0]!.reason).toBe('length 12 exceeds max_length 4');
  });

  it('shows no rejectedRows for a job without the option (Milvus answers unchanged)', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/ok.jsonl`, rows(range(1, 10), new Set()));
    const jobId = await createJob({ collectionName: c, objectUrl: `s3://data/${c}/ok.jsonl` });
    const d = await finished(jobId);
    expect(d.state).toBe('Completed');
    expect(d).not.toHaveProperty('rejectedRows');
    expect(d.details[0]).not.toHaveProperty('rejectedRows');
  });

  it('fails a one-file job above a max_bad_rows count, publishes nothing, and keeps the report', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/a.jsonl`, rows(range(1, N), bad));
    const jobId = await createJob({
      collectionName: c,
      objectUrl: `s3://data/${c}/a.jsonl`,
      options: { max_bad_rows: '3' },
    });
    const d = await finished(jobId);
    expect(d.state).toBe('Failed');
    expect(d.reason).toContain('5 of 6000 rows rejected, above max_bad_rows=3');
    expect(await count(c)).toBe(0);
    const r = await rejects(jobId);
    expect(r.rows.map((x) => x.row)).toEqual([...bad]);
  });

  it('judges a percentage over all files of a job: 0.1% fails and publishes nothing, 1% completes', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/a.jsonl`, rows(range(1, 1000), new Set([7])));
    s3.putDirect('data', `${c}/b.jsonl`, rows(range(1001, 1000), new Set([1500, 1501])));
    const files = [[`s3://data/${c}/a.jsonl`], [`s3://data/${c}/b.jsonl`]];
    const failed = await finished(await createJob({ collectionName: c, files, options: { max_bad_rows: '0.1%' } }));
    expect(failed.state).toBe('Failed');
    expect(failed.reason).toContain('3 of 2000 rows rejected, above max_bad_rows=0.1%');
    expect(await count(c)).toBe(0);

    const jobId = await createJob({ collectionName: c, files, options: { max_bad_rows: '1%' } });
    const ok = await finished(jobId);
    expect(ok).toMatchObject({ state: 'Completed', importedRows: 1997, rejectedRows: 3 });
    expect(ok.details.map((x) => x.rejectedRows)).toEqual([1, 2]);
    expect(await count(c)).toBe(1997);
    const r = await rejects(jobId);
    expect(r.rows.map((x) => [x.file.slice(-7), x.row])).toEqual([
      ['a.jsonl', 7],
      ['b.jsonl', 500],
      ['b.jsonl', 501],
    ]);
  });

  it('stores the first 10,000 rejected rows with raw values cut to 1 KiB, counts them all, and drops them with the job past IMPORT_JOB_RETENTION', async () => {
    expect(MAX_STORED_REJECTS_PER_JOB).toBe(10_000); // the bound docs/api-extensions.md states
    const c = await newCollection();
    const longVector = Array.from({ length: 1000 }, (_, k) => k + 0.125); // ~7 KB of JSON text
    const bad = 10_050;
    const lines = [JSON.stringify({ id: 1, vector: longVector, pad: '' })];
    for (let i = 2; i <= bad + 1; i++) lines.push(JSON.stringify({ id: i, vector: [1, 2, 3], pad: '' }));
    for (let i = bad + 2; i <= bad + 11; i++) lines.push(JSON.stringify({ id: i, vector: vectorOf(i), pad: '' }));
    s3.putDirect('data', `${c}/many.jsonl`, Buffer.from(lines.join('\n') + '\n'));
    const jobId = await createJob({
      collectionName: c,
      objectUrl: `s3://data/${c}/many.jsonl`,
      options: { error_mode: 'continue' },
    });
    const d = await finished(jobId);
    expect(d).toMatchObject({ state: 'Completed', importedRows: 10, rejectedRows: bad + 1 });

    const page = await rejects(jobId, '&limit=10000');
    expect(page.total).toBe(String(bad + 1));
    expect(page.rows).toHaveLength(10_000);
    expect(page.next).toBeNull(); // nothing stored past the bound
    expect(page.rows.map((r) => r.row)).toEqual(range(1, 10_000));
    const first = page.rows[0]!;
    expect(first.reason).toBe('expected 4 values, got 1000');
    expect(first.raw).toBe(JSON.stringify(longVector).slice(0, 1024)); // ASCII: 1 KiB of the value as sent

    // Retention (IMPORT_JOB_RETENTION, at least 24 h): the job ended "two days ago" is deleted and its
    // report with it (the foreign key cascades).
    const pk = (await gw.db.query<{ id: string }>('SELECT id::text FROM import_jobs WHERE job_id = $1', [jobId]))
      .rows[0]!.id;
    await gw.db.query(`UPDATE import_jobs SET completed_at = now() - interval '2 days' WHERE id = $1`, [pk]);
    const redis = new Redis(gw.config.redisUrl, { maxRetriesPerRequest: null });
    const queue = new BullJobQueue(redis, { prefix: gw.config.queuePrefix, attempts: 1 });
    try {
      const reconciler = new Reconciler(gw.db, queue, { graceMs: 60_000, batch: 10, retentionMs: 24 * 3_600_000 });
      expect(await reconciler.expireEnded()).toBe(1);
    } finally {
      await queue.close();
      redis.disconnect();
    }
    const left = await gw.db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM import_job_rejects WHERE job_id = $1',
      [pk],
    );
    expect(left.rows[0]!.n).toBe(0);
    expect((await rejects(jobId)).text).toContain(`import job not found, jobId=${jobId}`);
  });

  it('answers the report under describe’s rules: unknown job, a key of another collection, a bad cursor', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/a.jsonl`, rows(range(1, 5), new Set([2])));
    const jobId = await createJob({
      collectionName: c,
      objectUrl: `s3://data/${c}/a.jsonl`,
      options: { error_mode: 'continue' },
    });
    await finished(jobId);
    const other = await gw.apiKey(['import:read'], { collections: ['someone_else'] });
    const denied = await rejects(jobId, '', other);
    expect(denied.status).toBe(403);
    const missing = await rejects('job-aaaaaaaaaaaaaaaaaaaaaa');
    expect(JSON.parse(missing.text)).toMatchObject({ code: expect.any(Number) as number });
    expect(missing.text).toContain('import job not found');
    const badCursor = await rejects(jobId, '&after=nonsense');
    expect(badCursor.text).toContain('after is not a cursor');
  });
});

/** A Parquet file whose `vector` column is text: the collection's FloatVector cannot read it. */
async function textVectorParquet(): Promise<Buffer> {
  const file = join(mkdtempSync(join(tmpdir(), 'igw-dry-')), 'bad.parquet');
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  await con.run(`COPY (SELECT i::BIGINT AS id, 'x' AS vector FROM range(1, 11) t(i)) TO '${file}' (FORMAT parquet)`);
  con.closeSync();
  return readFileSync(file);
}

describe('dry run', () => {
  it('validate reads every row and writes nothing: rows, bytes, first errors per file, a Parquet schema mismatch', async () => {
    const c = await newCollection();
    const bad = new Set(Array.from({ length: 30 }, (_, k) => 10 + k * 10)); // 30 bad rows: 20 shown
    const text = rows(range(1, 1000), bad);
    s3.putDirect('data', `${c}/a.jsonl`, text);
    s3.putDirect('data', `${c}/bad.parquet`, await textVectorParquet());
    const r = await call(gw, 'POST', `${V2}/jobs/import/validate`, {
      key,
      body: { collectionName: c, files: [[`s3://data/${c}/a.jsonl`], [`s3://data/${c}/bad.parquet`]] },
    });
    expect(r.body.code, r.text).toBe(0);
    const jobId = (r.body.data as { jobId: string }).jobId;
    const d = await finished(jobId);
    expect(d).toMatchObject({ state: 'Completed', importedRows: 0 });
    expect(await count(c)).toBe(0);
    const dry = d.dryRun!;
    expect(dry).toMatchObject({ done: true, files: 2, rows: 970, rejectedRows: 30, estimatedSeconds: null });
    expect(dry.bytes).toBe(text.length + dry.details[1]!.bytes);
    expect(dry.details[0]).toMatchObject({ rows: 970, bytes: text.length, rejectedRows: 30, problem: '' });
    expect(dry.details[0]!.errors.map((e) => e.row)).toEqual([...bad].slice(0, 20));
    expect(dry.details[0]!.errors[0]).toEqual({
      file: `s3://data/${c}/a.jsonl`,
      row: 10,
      field: 'vector',
      reason: 'expected 4 values, got 3',
    });
    expect(dry.details[1]!.rows).toBe(0);
    expect(dry.details[1]!.problem).toContain('vector');
    // The whole report is there too.
    expect((await rejects(jobId)).rows).toHaveLength(30);
  });

  it('lists a folder and counts its objects as files; a NumPy group whose header cannot hold a field is a problem, no row read', async () => {
    const c = await newCollection();
    // 25 bad rows in a, 2 in b: describe shows the first 20 of each file, so b's are not hidden by a's.
    const a = rows(range(1, 100), new Set(range(3, 25)));
    const b = rows(range(101, 50), new Set([105, 106]));
    s3.putDirect('data', `${c}/in/a.jsonl`, a);
    s3.putDirect('data', `${c}/in/b.jsonl`, b);
    // vector.npy holds the 1-D int64 ids: its header alone shows it cannot be a 4-dim FloatVector.
    const np = numpy(range(1, 10));
    s3.putDirect('data', `${c}/np/id.npy`, np.id);
    s3.putDirect('data', `${c}/np/vector.npy`, np.id);
    const jobId = await createJob({
      collectionName: c,
      files: [[`s3://data/${c}/in/`], [`s3://data/${c}/np/id.npy`, `s3://data/${c}/np/vector.npy`]],
      options: { dry_run: 'true' },
    });
    const d = await finished(jobId);
    expect(d.state).toBe('Completed');
    const dry = d.dryRun!;
    expect(dry).toMatchObject({ done: true, files: 4, rows: 123, rejectedRows: 27 });
    expect(dry.bytes).toBe(a.length + b.length + 2 * np.id.length);
    expect(dry.details.map((x) => [x.fileName, x.files, x.rows, x.rejectedRows])).toEqual([
      [`s3://data/${c}/in/`, 2, 123, 27],
      [`s3://data/${c}/np/id.npy,s3://data/${c}/np/vector.npy`, 2, 0, 0],
    ]);
    expect(dry.details[0]!.errors.map((e) => [e.file, e.row, e.field])).toEqual([
      ...range(3, 20).map((r) => [`s3://data/${c}/in/a.jsonl`, r, 'vector']),
      [`s3://data/${c}/in/b.jsonl`, 5, 'vector'],
      [`s3://data/${c}/in/b.jsonl`, 6, 'vector'],
    ]);
    expect(dry.details[1]!.problem).toMatch(/vector\.npy.*vector/);
    expect(await count(c)).toBe(0);
  });

  it('reads options given as JSON booleans and numbers as their strings (import-api §5)', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/a.jsonl`, rows(range(1, 20), new Set([5, 6])));
    const url = `s3://data/${c}/a.jsonl`;
    const dry = await finished(await createJob({ collectionName: c, objectUrl: url, options: { dry_run: true } }));
    expect(dry.dryRun).toMatchObject({ done: true, rows: 18, rejectedRows: 2 });
    expect(await count(c)).toBe(0);
    const over = await finished(await createJob({ collectionName: c, objectUrl: url, options: { max_bad_rows: 1 } }));
    expect(over.state).toBe('Failed');
    expect(over.reason).toContain('2 of 20 rows rejected, above max_bad_rows=1');
    // A share on a one-file job: judged before anything is visible, so nothing is published.
    const share = await finished(
      await createJob({ collectionName: c, objectUrl: url, options: { max_bad_rows: '5%' } }),
    );
    expect(share.state).toBe('Failed');
    expect(share.reason).toContain('2 of 20 rows rejected, above max_bad_rows=5%');
    expect(await count(c)).toBe(0);
    const off = await finished(
      await createJob({ collectionName: c, objectUrl: url, options: { dry_run: false, max_bad_rows: 2 } }),
    );
    expect(off).toMatchObject({ state: 'Completed', importedRows: 18, rejectedRows: 2 });
    expect(off).not.toHaveProperty('dryRun');
    expect(await count(c)).toBe(18);
    const refused = await call(gw, 'POST', `${V2}/jobs/import/create`, {
      key,
      body: { collectionName: c, objectUrl: url, options: { dry_run: { on: true } } },
    });
    expect(refused.body).toEqual({ code: 1100, message: 'invalid parameter: options.dry_run must be a string' });
    const notBool = await call(gw, 'POST', `${V2}/jobs/import/create`, {
      key,
      body: { collectionName: c, objectUrl: url, options: { dry_run: 1 } },
    });
    expect(notBool.body).toEqual({
      code: 1100,
      message: 'invalid parameter: options.dry_run must be "true" or "false", got "1"',
    });
  });

  it('options.dry_run on create is the same, and the estimate follows the collection’s recent imports', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/a.jsonl`, rows(range(1, 3000), new Set()));
    const real = await finished(await createJob({ collectionName: c, objectUrl: `s3://data/${c}/a.jsonl` }));
    expect(real.state).toBe('Completed');
    const jobId = await createJob({
      collectionName: c,
      objectUrl: `s3://data/${c}/a.jsonl`,
      options: { dry_run: 'true' },
    });
    const d = await finished(jobId);
    expect(d.dryRun).toMatchObject({ done: true, rows: 3000, rejectedRows: 0 });
    expect(d.dryRun!.estimatedSeconds).toBeGreaterThanOrEqual(1);
    expect(await count(c)).toBe(3000); // the real import's rows, none more
  });
});
