import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, startTestWorker, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { csv, DIGEST_SQL, expectedDigestInput, json, jsonl, numpy, parquet, range } from './fixtures';

const V2 = '/v2/vectordb';
type Describe = {
  state: string;
  gatewayState: string;
  progress: number;
  importedRows: number;
  totalRows: number;
  reason: string;
  details: { fileName: string; state: string; importedRows: number; progress: number }[];
};

let s3: S3TestServer;
let web: HttpTestServer;
let gw: TestGateway;
let worker: TestWorker;
let key: string;

beforeAll(async () => {
  s3 = new S3TestServer();
  await s3.start();
  s3.createBucket('data');
  web = new HttpTestServer();
  await web.start();
  gw = await startTestGateway({
    // The server keys are lent to this bucket only (spec §4).
    ...s3.gatewayEnv('data'),
    STORAGE_REQUEST_TIMEOUT_MS: '3000',
    WORKER_LEASE_MS: '3000',
    WORKER_RECONCILE_INTERVAL_MS: '500',
    WORKER_CONCURRENCY: '2',
  });
  worker = await startTestWorker(gw.config);
  key = await gw.apiKey(['admin']);
});
afterAll(async () => {
  await worker.close();
  await gw.close();
  await s3.stop();
  await web.stop();
});

async function newCollection(): Promise<string> {
  const name = uniqueName('e2e');
  const r = await call(gw, 'POST', `${V2}/collections/create`, { key, body: { collectionName: name, dimension: 4 } });
  expect(r.body.code).toBe(0);
  return name;
}

async function createJob(body: Record<string, unknown>): Promise<string> {
  const r = await call(gw, 'POST', `${V2}/jobs/import/create`, { key, body });
  expect(r.body.code, r.text).toBe(0);
  return (r.body.data as { jobId: string }).jobId;
}

async function waitFor(jobId: string, states: readonly string[], timeoutMs = 30_000): Promise<Describe> {
  const deadline = Date.now() + timeoutMs;
  let last: Describe | undefined;
  while (Date.now() < deadline) {
    const r = await call(gw, 'POST', `${V2}/jobs/import/describe`, { key, body: { jobId } });
    last = r.body.data as Describe;
    if (states.includes(last.gatewayState)) return last;
    await new Promise((res) => setTimeout(res, 100));
  }
  const row = await gw.db.query(`SELECT state, reason, attempts FROM import_jobs WHERE job_id = $1`, [jobId]);
  throw new Error(
    `${JSON.stringify(row.rows[0])} job ${jobId} did not reach ${states.join('/')}: ${JSON.stringify(last)}\nworker log tail:\n${worker.logs().slice(-3000)}`,
  );
}

async function digest(collection: string): Promise<{ n: number; text: string }> {
  const r = await gw.db.query(DIGEST_SQL(`"milvus_default"."${collection}"`));
  return r.rows[0] as { n: number; text: string };
}

describe('HTTP create → worker → rows in PostgreSQL (S3 emulator)', () => {
  it.each([
    ['jsonl', 'rows.jsonl', () => jsonl(range(1, 1000))],
    ['json', 'rows.json', () => json(range(1, 1000))],
    ['csv', 'rows.csv', () => csv(range(1, 1000))],
    ['parquet', 'rows.parquet', () => parquet(range(1, 1000))],
  ] as const)('imports %s with exact rows and values', async (_fmt, file, make) => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/${file}`, await make());
    const jobId = await createJob({ collectionName: c, objectUrl: `s3://data/${c}/${file}` });
    const d = await waitFor(jobId, ['Completed', 'Failed']);
    expect(d.reason).toBe('');
    expect(d).toMatchObject({ state: 'Completed', progress: 100, importedRows: 1000, totalRows: 1000 });
    expect(d.details[0]).toMatchObject({ state: 'Completed', importedRows: 1000, progress: 100 });
    expect(await digest(c)).toEqual({ n: 1000, text: expectedDigestInput(range(1, 1000)) });
  });

  it('imports a NumPy group and a folder of NumPy row blocks as one job', async () => {
    const c = await newCollection();
    const a = numpy(range(1, 400));
    const b = numpy(range(401, 300));
    const d3 = numpy(range(701, 300));
    s3.putDirect('data', `${c}/single/id.npy`, a.id);
    s3.putDirect('data', `${c}/single/vector.npy`, a.vector);
    s3.putDirect('data', `${c}/folder/1/id.npy`, b.id);
    s3.putDirect('data', `${c}/folder/1/vector.npy`, b.vector);
    s3.putDirect('data', `${c}/folder/2/id.npy`, d3.id);
    s3.putDirect('data', `${c}/folder/2/vector.npy`, d3.vector);
    s3.putDirect('data', `${c}/folder/_SUCCESS`, Buffer.from(''));
    const jobId = await createJob({
      collectionName: c,
      objectUrls: [[`s3://data/${c}/single/id.npy`, `s3://data/${c}/single/vector.npy`], [`s3://data/${c}/folder/`]],
    });
    const d = await waitFor(jobId, ['Completed', 'Failed']);
    expect(d.reason).toBe('');
    expect(d.importedRows).toBe(1000);
    expect(d.details.map((x) => [x.fileName, x.importedRows])).toEqual([
      [`s3://data/${c}/single/id.npy,s3://data/${c}/single/vector.npy`, 400],
      [`s3://data/${c}/folder/`, 600],
    ]);
    expect(await digest(c)).toEqual({ n: 1000, text: expectedDigestInput(range(1, 1000)) });
  });

  it('fails a job with a bad row naming file, row and field, and leaves no rows', async () => {
    const c = await newCollection();
    const good = jsonl(range(1, 10)).toString();
    s3.putDirect('data', `${c}/good.jsonl`, Buffer.from(good));
    const lines = jsonl(range(11, 10)).toString().split('\n');
    lines[4] = JSON.stringify({ id: 15, vector: [1, 2, 3] });
    s3.putDirect('data', `${c}/bad.jsonl`, Buffer.from(lines.join('\n')));
    const jobId = await createJob({
      collectionName: c,
      files: [[`s3://data/${c}/good.jsonl`], [`s3://data/${c}/bad.jsonl`]],
    });
    const d = await waitFor(jobId, ['Completed', 'Failed']);
    expect(d.gatewayState).toBe('Failed');
    expect(d.reason).toBe(`s3://data/${c}/bad.jsonl: row 5 (byte 200), field 'vector': expected 4 values, got 3`);
    expect(d.importedRows).toBe(0);
    // the reason is on the failing file's detail, not on the file that was fine
    expect(d.details.map((x) => x.state)).toEqual(['Completed', 'Failed']);
    expect((d.details[1] as unknown as { reason: string }).reason).toBe(d.reason);
    expect((d.details[0] as unknown as { reason: string }).reason).toBe('');
    expect(await digest(c)).toEqual({ n: 0, text: '' });
  });

  it('fails a job whose object is missing, naming the object', async () => {
    const c = await newCollection();
    const jobId = await createJob({ collectionName: c, objectUrl: `s3://data/${c}/nothing.parquet` });
    const d = await waitFor(jobId, ['Completed', 'Failed']);
    expect(d.reason).toBe(`object not found: s3://data/${c}/nothing.parquet`);
  });

  it('accepts a bucket outside STORAGE_ALLOWED_BUCKETS and reads it without the server keys: a private one fails as access denied', async () => {
    const c = await newCollection();
    s3.putDirect('victim', `${c}/rows.jsonl`, jsonl(range(1, 10)));
    const from = s3.requests.length;
    const jobId = await createJob({ collectionName: c, objectUrl: `s3://victim/${c}/rows.jsonl` });
    const d = await waitFor(jobId, ['Completed', 'Failed']);
    expect(d.gatewayState).toBe('Failed');
    expect(d.reason).toBe(`access denied: s3://victim/${c}/rows.jsonl`);
    const seen = s3.requests.slice(from).filter((r) => r.path.startsWith('/victim/'));
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => !r.signed)).toBe(true);
    expect(await digest(c)).toEqual({ n: 0, text: '' });
  });

  it('refuses a duplicate primary key against existing rows, naming the key, and leaves no new rows', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/a.jsonl`, jsonl(range(1, 5)));
    const first = await createJob({ collectionName: c, objectUrl: `s3://data/${c}/a.jsonl` });
    expect((await waitFor(first, ['Completed', 'Failed'])).gatewayState).toBe('Completed');
    s3.putDirect('data', `${c}/b.jsonl`, jsonl(range(5, 5)));
    const second = await createJob({ collectionName: c, objectUrl: `s3://data/${c}/b.jsonl` });
    const d = await waitFor(second, ['Completed', 'Failed']);
    expect(d.gatewayState).toBe('Failed');
    expect(d.reason).toMatch(/id=5/);
    expect((await digest(c)).n).toBe(5);
  });
});

describe('timeout and cancel (plain HTTPS server)', () => {
  it('fails a job past options.timeout with the timeout reason and no rows', async () => {
    const c = await newCollection();
    web.put(`/${c}/slow.jsonl`, jsonl(range(1, 50)), { slowFirstByte: { count: 100, ms: 2_500 } });
    const jobId = await createJob({
      collectionName: c,
      objectUrl: web.url(`/${c}/slow.jsonl`),
      options: { timeout: '1s' },
    });
    const d = await waitFor(jobId, ['Completed', 'Failed']);
    expect(d.reason).toBe('import timeout of 1s exceeded');
    expect(await digest(c)).toEqual({ n: 0, text: '' });
  });

  it('stops a running job within 5 s of a cancel and leaves no rows', async () => {
    const c = await newCollection();
    web.put(`/${c}/slow.jsonl`, jsonl(range(1, 50)), { slowFirstByte: { count: 100, ms: 20_000 } });
    const jobId = await createJob({ collectionName: c, objectUrl: web.url(`/${c}/slow.jsonl`) });
    await waitFor(jobId, ['Importing']);
    const t0 = Date.now();
    const r = await call(gw, 'POST', `${V2}/jobs/import/cancel`, { key, body: { jobId } });
    expect(r.body.data).toMatchObject({ gatewayState: 'Cancelled' });
    // The worker stops the running import within 5 s.
    await expect
      .poll(() => logLines(worker.logs()).some((l) => l.jobId === jobId && l.outcome === 'cancelled'), {
        timeout: 5_000,
      })
      .toBe(true);
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(await digest(c)).toEqual({ n: 0, text: '' });
  });
});

describe('retries and live progress', () => {
  it('retries a job after transient storage failures outlast one attempt, and completes it', async () => {
    const c = await newCollection();
    // 7 × 503: the stat's own 5 retries are not enough, so the first attempt fails as transient.
    web.put(`/${c}/flaky.jsonl`, jsonl(range(1, 100)), { failNext: { count: 7, status: 503 } });
    const jobId = await createJob({ collectionName: c, objectUrl: web.url(`/${c}/flaky.jsonl`) });
    const d = await waitFor(jobId, ['Completed', 'Failed'], 40_000);
    expect(d.gatewayState).toBe('Completed');
    const row = await gw.db.query(`SELECT attempts FROM import_jobs WHERE job_id = $1`, [jobId]);
    expect(row.rows[0].attempts).toBe(2);
    expect((await digest(c)).n).toBe(100);
  }, 60_000);

  it('shows progress live in describe, never going backwards, 100 only when Completed', async () => {
    const c = await newCollection();
    // Eight groups: two slots stage them two at a time (decision 0502), so even if each pair
    // finishes together the job passes through at least three values between 0 and 100.
    const groups = range(0, 8).map((g) => {
      web.put(`/${c}/${g}.jsonl`, jsonl(range(g * 100 + 1, 100)), { slowFirstByte: { count: 2, ms: 300 } });
      return [web.url(`/${c}/${g}.jsonl`)];
    });
    const jobId = await createJob({ collectionName: c, objectUrls: groups });
    const seen: number[] = [];
    for (;;) {
      const r = await call(gw, 'POST', `${V2}/jobs/import/describe`, { key, body: { jobId } });
      const d = r.body.data as Describe;
      seen.push(d.progress);
      if (d.gatewayState === 'Completed' || d.gatewayState === 'Failed') break;
      expect(d.progress).toBeLessThan(100);
      await new Promise((res) => setTimeout(res, 50));
    }
    console.log(`progress seen: ${[...new Set(seen)].join(', ')}`);
    expect(seen.at(-1)).toBe(100);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(new Set(seen.filter((p) => p > 0 && p < 100)).size).toBeGreaterThanOrEqual(3);
  }, 60_000);
});

describe('servers that ignore Range', () => {
  it('spools a Parquet file from a server that ignores Range to a temporary file and imports it', async () => {
    const c = await newCollection();
    web.put(`/${c}/rows.parquet`, await parquet(range(1, 500)), { ignoreRange: true });
    const jobId = await createJob({ collectionName: c, objectUrl: web.url(`/${c}/rows.parquet`) });
    const d = await waitFor(jobId, ['Completed', 'Failed']);
    expect(d.reason).toBe('');
    expect(await digest(c)).toEqual({ n: 500, text: expectedDigestInput(range(1, 500)) });
    expect(
      web.requests.filter((r) => r.path === `/${c}/rows.parquet` && r.method === 'GET').length,
    ).toBeLessThanOrEqual(3);
  });
});

describe('transient database failures', () => {
  it('retries a job whose COPY connection is killed mid-stream, and completes it exactly once', async () => {
    const c = await newCollection();
    web.put(`/${c}/big.jsonl`, jsonl(range(1, 150_000)));
    const jobId = await createJob({ collectionName: c, objectUrl: web.url(`/${c}/big.jsonl`) });
    // Wait for the worker's COPY (a one-file job COPYs straight into the collection), then kill that backend.
    let killed = 0;
    const deadline = Date.now() + 20_000;
    while (killed === 0 && Date.now() < deadline) {
      const r = await gw.db.query(
        `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
          WHERE datname = current_database() AND query ILIKE 'COPY %' AND state = 'active'`,
      );
      killed = r.rows.filter((x: { ok: boolean }) => x.ok).length;
      if (killed === 0) await new Promise((res) => setTimeout(res, 10));
    }
    expect(killed).toBe(1);
    const d = await waitFor(jobId, ['Completed', 'Failed'], 60_000);
    expect(d.reason).toBe('');
    expect(d.gatewayState).toBe('Completed');
    const row = await gw.db.query(`SELECT attempts FROM import_jobs WHERE job_id = $1`, [jobId]);
    expect(row.rows[0].attempts).toBe(2);
    expect((await digest(c)).n).toBe(150_000);
  }, 90_000);
});

/** The JSON log lines of a process's output (other lines ignored): fields, not their order, are the contract. */
function logLines(output: string): Record<string, unknown>[] {
  return output.split('\n').flatMap((line) => {
    if (!line.startsWith('{')) return [];
    try {
      return [JSON.parse(line) as Record<string, unknown>];
    } catch {
      return [];
    }
  });
}
