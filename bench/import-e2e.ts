/**
 * End-to-end import throughput (issue 12, "Targets"): the real API and worker processes from dist/
 * on a scratch database and a private Redis key prefix, files served over loopback HTTP, each job
 * timed from create to Completed, against a raw binary COPY of the same rows into a table of the
 * same shape measured in the same run.
 *
 *   npm run build && node dist/bench/import-e2e.js             200,000 rows, every format + multi-worker case
 *   BENCH_E2E_ROWS=20000 node dist/bench/import-e2e.js         quick run
 *   node dist/bench/import-e2e.js --large [jsonl,json,csv,numpy,parquet]
 *                                                              ~2 GB file per format (default jsonl): worker peak RSS
 *
 * env: BENCH_E2E_ROWS (200,000), BENCH_E2E_FORMATS (jsonl,json,csv,numpy,parquet),
 *      BENCH_E2E_MULTI (1; 0 skips the 16-group case), BENCH_E2E_MULTI_FORMAT (jsonl | numpy),
 *      BENCH_E2E_LARGE_BYTES (2 GiB), BENCH_DATABASE_URL / DATABASE_URL (admin URL of the server),
 *      BENCH_REDIS_URL / REDIS_URL. WORKER_*, IMPORT_* and COLLECTIONS_* variables are passed to the
 *      gateway processes (e.g. WORKER_PARSE_THREADS).
 * Data goes to bench/out/e2e-<rows>/ (gitignored) and is reused when present. PostgreSQL, Redis,
 * the API, the workers and the file server all listen on 127.0.0.1 only.
 */
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fieldOf, type Column, type FieldSchema, type RowBatch } from '@gw/schema';
import { buildCopyLayout, copyBatches } from '@gw/sink';
import {
  DIM,
  DiskHttpServer,
  exists,
  rowsForTextBytes,
  tagOf,
  vectorInto,
  writeNumpyGroup,
  writeParquet,
  writeTextFiles,
} from './e2e-fixtures';
import { ADMIN_URL, Gateway, type JobResult, postgresCpuSeconds, REDIS_URL } from './e2e-gateway';

type Format = 'jsonl' | 'json' | 'csv' | 'numpy' | 'parquet';
const ALL_FORMATS: Format[] = ['jsonl', 'json', 'csv', 'numpy', 'parquet'];

const DIST = resolve(__dirname, '..'); // dist/bench → dist
const REPO = resolve(DIST, '..');
/** Generated data (gitignored); the file server serves this directory, paths below are relative to it. */
const OUT = join(REPO, 'bench', 'out');
const MULTI_GROUPS = 16;

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);
const load = (): string => loadavg()[0]!.toFixed(2);
const out = (s: string) => process.stdout.write(`${s}\n`);

function parseFormats(text: string): Format[] {
  const list = text.split(',').filter((f) => f !== '');
  for (const f of list) if (!ALL_FORMATS.includes(f as Format)) throw new Error(`unknown format ${f}`);
  return list as Format[];
}

const SCHEMA_FIELDS: FieldSchema[] = [
  fieldOf('id', 'Int64', { isPrimary: true }),
  fieldOf('vector', 'FloatVector', { dim: DIM }),
  fieldOf('tag', 'VarChar', { maxLength: 64 }),
];

// ---------------------------------------------------------------- data

interface DataSet {
  rows: number;
  /** Paths relative to OUT, one inner list per file group. */
  groups: Record<Format, string[][]>;
  multi: string[][];
}

function numpyGroup(dir: string): string[] {
  return ['id.npy', 'vector.npy', 'tag.npy'].map((f) => join(dir, f));
}

async function prepareData(rows: number, multiFormat: 'jsonl' | 'numpy', formats: Format[]): Promise<DataSet> {
  const dir = join(OUT, `e2e-${rows}`);
  const rel = (p: string) => relative(OUT, p);
  const parts = Array.from({ length: MULTI_GROUPS }, (_, k) => String(k).padStart(2, '0'));
  const per = Math.ceil(rows / MULTI_GROUPS);
  const files = {
    jsonl: join(dir, 'rows.jsonl'),
    json: join(dir, 'rows.json'),
    csv: join(dir, 'rows.csv'),
    parquet: join(dir, 'rows.parquet'),
    npy: join(dir, 'npy'),
    multiJsonl: parts.map((p) => join(dir, 'multi', `part-${p}.jsonl`)),
    multiNpy: parts.map((p) => join(dir, 'multi-npy', `part-${p}`)),
  };
  const t0 = performance.now();
  const needText = {
    jsonl: (formats.includes('jsonl') || formats.includes('parquet')) && !exists(files.jsonl),
    json: formats.includes('json') && !exists(files.json),
    csv: formats.includes('csv') && !exists(files.csv),
    parts: multiFormat === 'jsonl' && !exists(...files.multiJsonl),
  };
  if (needText.jsonl || needText.json || needText.csv || needText.parts) {
    writeTextFiles(rows, {
      ...(needText.jsonl ? { jsonl: files.jsonl } : {}),
      ...(needText.json ? { json: files.json } : {}),
      ...(needText.csv ? { csv: files.csv } : {}),
      ...(needText.parts ? { jsonlParts: files.multiJsonl } : {}),
    });
  }
  if (formats.includes('numpy') && !exists(...numpyGroup(files.npy))) writeNumpyGroup(files.npy, 0, rows);
  if (multiFormat === 'numpy') {
    files.multiNpy.forEach((d, k) => {
      if (!exists(...numpyGroup(d))) writeNumpyGroup(d, k * per, Math.max(0, Math.min(per, rows - k * per)));
    });
  }
  if (formats.includes('parquet') && !exists(files.parquet)) await writeParquet(files.parquet, { jsonl: files.jsonl });
  const secs = (performance.now() - t0) / 1000;
  if (secs > 1) {
    // Written data still in the page cache is flushed while the jobs run and stalls PostgreSQL's WAL
    // writes (the first job after a fresh write ran at a third of its speed): flush it first.
    execFileSync('sync');
    out(`  (data written in ${secs.toFixed(0)} s to ${relative(REPO, dir)}, synced)`);
  }
  return {
    rows,
    groups: {
      jsonl: [[rel(files.jsonl)]],
      json: [[rel(files.json)]],
      csv: [[rel(files.csv)]],
      parquet: [[rel(files.parquet)]],
      numpy: [numpyGroup(files.npy).map(rel)],
    },
    multi:
      multiFormat === 'jsonl'
        ? files.multiJsonl.map((f) => [rel(f)])
        : files.multiNpy.map((d) => numpyGroup(d).map(rel)),
  };
}

function groupBytes(groups: string[][]): number {
  return groups.flat().reduce((a, f) => a + statSync(join(OUT, f)).size, 0);
}

// ---------------------------------------------------------------- binary COPY baseline

/** The same rows as the files, built before timing starts (generation is not what is measured). */
function baselineBatches(rows: number, batchRows = 10_000): RowBatch[] {
  const out: RowBatch[] = [];
  for (let first = 0; first < rows; first += batchRows) {
    const n = Math.min(batchRows, rows - first);
    const ids = new BigInt64Array(n);
    const vectors = new Float32Array(n * DIM);
    const tags: string[] = [];
    for (let k = 0; k < n; k++) {
      ids[k] = BigInt(first + k);
      vectorInto(first + k, vectors, k * DIM);
      tags.push(tagOf(first + k));
    }
    const columns = new Map<string, Column>([
      ['id', { kind: 'int64', values: ids, valid: null }],
      ['vector', { kind: 'floatVector', dim: DIM, values: vectors }],
      ['tag', { kind: 'text', values: tags }],
    ]);
    out.push({ file: 'baseline', firstRow: first + 1, rowCount: n, columns, meta: null });
  }
  return out;
}

/** One transaction: binary COPY of every row into the collection's own table, COMMIT included. */
async function binaryCopy(
  gw: Gateway,
  collection: string,
  vectorType: 'pgvector' | 'array',
  batches: RowBatch[],
): Promise<{ rows: number; ms: number; clientCpu: number; pgCpu: number }> {
  const layout = buildCopyLayout({
    fields: SCHEMA_FIELDS,
    storage: { vectorType, halfvec: false },
    dynamicField: false,
    extra: [{ name: '$partition', type: 'text', value: '_default' }],
  });
  async function* source(): AsyncGenerator<RowBatch> {
    for (const b of batches) {
      await Promise.resolve();
      yield b;
    }
  }
  const c = await gw.db.connect();
  try {
    const pg0 = postgresCpuSeconds();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await c.query('BEGIN');
    const { rows } = await copyBatches(c, { schema: 'milvus_default', name: collection }, layout, source());
    await c.query('COMMIT');
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    return { rows, ms, clientCpu: (cpu.user + cpu.system) / 1e6, pgCpu: postgresCpuSeconds() - pg0 };
  } finally {
    c.release();
  }
}

// ---------------------------------------------------------------- runs

interface FormatRun {
  rate: number;
  peakRss: number;
  /** CPU seconds each worker process used during the job. */
  cpu: number[];
  /** CPU seconds PostgreSQL's processes used during the job. */
  pgCpu: number;
  job: JobResult;
}

/**
 * One job on fresh worker processes (so the peak RSS is this job's), verified against the table.
 * `warm`: the same files are imported once first into a scratch collection, untimed, so the timed
 * job runs on a worker whose code is already compiled — as on a long-lived worker (BENCH_E2E_WARM=1).
 */
async function runJob(
  gw: Gateway,
  web: DiskHttpServer,
  collection: string,
  groups: string[][],
  expectRows: number,
  workers: number,
  warm = false,
): Promise<FormatRun> {
  const procs = await gw.startWorkers(workers);
  try {
    if (warm) {
      const scratch = `${collection}_warmup`;
      await gw.createCollection(scratch);
      await gw.importJob(
        scratch,
        { objectUrls: groups.map((g) => g.map((f) => web.url(f))) },
        Math.max(300_000, expectRows * 2),
      );
      await gw.dropCollection(scratch);
    }
    const cpu0 = procs.map((p) => p.cpuSeconds());
    const pg0 = postgresCpuSeconds();
    const job = await gw.importJob(
      collection,
      { objectUrls: groups.map((g) => g.map((f) => web.url(f))) },
      Math.max(300_000, expectRows * 2),
    );
    const cpu = procs.map((p, k) => p.cpuSeconds() - cpu0[k]!);
    const pgCpu = postgresCpuSeconds() - pg0;
    const peakRss = Math.max(...procs.map((p) => p.peakRssBytes()));
    const inTable = await gw.tableCount(collection);
    if (job.rows !== expectRows || inTable !== expectRows) {
      throw new Error(`${collection}: job reported ${job.rows} rows, table holds ${inTable}, expected ${expectRows}`);
    }
    return { rate: (expectRows / job.ms) * 1000, peakRss, cpu, pgCpu, job };
  } finally {
    await gw.stopWorkers();
  }
}

const msText = (ms: number | null): string => (ms === null ? '-' : `${fmt(ms)} ms`);

/**
 * The first evidence of a staged row: the job's imported_rows (written after a batch went into the
 * COPY, but throttled to one write a second, so it can lag by up to 1 s) or the staging table's
 * first data page (exact to the 20 ms poll), whichever came first.
 */
function firstStagedMs(job: JobResult): number | null {
  const seen = [job.firstRowMs, job.firstPageMs].filter((x): x is number => x !== null);
  return seen.length === 0 ? null : Math.min(...seen);
}

function stagedText(job: JobResult): string {
  const ms = firstStagedMs(job);
  return ms === null ? `≤ ${fmt(job.ms)} ms (job done before a poll saw it)` : `${fmt(ms)} ms`;
}

async function standard(gw: Gateway, web: DiskHttpServer): Promise<void> {
  const rows = Number(process.env.BENCH_E2E_ROWS ?? 200_000);
  const formats = parseFormats(process.env.BENCH_E2E_FORMATS ?? ALL_FORMATS.join(','));
  const multi = process.env.BENCH_E2E_MULTI !== '0';
  const multiFormat = process.env.BENCH_E2E_MULTI_FORMAT === 'numpy' ? 'numpy' : 'jsonl';
  const warm = process.env.BENCH_E2E_WARM === '1';
  const data = await prepareData(rows, multiFormat, formats);
  const size = `${fmt(rows)}×${DIM}`;

  const batches = baselineBatches(rows);
  const baselineRuns: number[] = [];
  let baselineDigest = '';
  const baseline = async (k: number) => {
    const name = `baseline_${k}`;
    const vectorType = await gw.createCollection(name);
    const r = await binaryCopy(gw, name, vectorType, batches);
    if (r.rows !== rows || (await gw.tableCount(name)) !== rows) throw new Error(`baseline COPY: ${r.rows} rows`);
    baselineRuns.push((rows / r.ms) * 1000);
    if (k === 1) baselineDigest = await gw.sampleDigest(name);
    out(
      `  binary COPY baseline run ${k}: ${fmt((rows / r.ms) * 1000)} rows/s, ${(r.ms / 1000).toFixed(1)} s, ` +
        `client CPU ${r.clientCpu.toFixed(1)} s, PostgreSQL CPU ${r.pgCpu.toFixed(1)} s  (${vectorType} vectors, load ${load()})`,
    );
    await gw.dropCollection(name);
  };
  await baseline(1);

  const lines: string[] = [];
  const results: { format: Format; run: FormatRun; bytes: number; digestOk: boolean; l: string }[] = [];
  for (const format of formats) {
    const name = `e2e_${format}`;
    await gw.createCollection(name);
    const run = await runJob(gw, web, name, data.groups[format], rows, 1, warm);
    const digestOk = (await gw.sampleDigest(name)) === baselineDigest;
    const bytes = groupBytes(data.groups[format]);
    results.push({ format, run, bytes, digestOk, l: load() });
    out(
      `  ${format}: ${mb(bytes)} MB, ${fmt(run.rate)} rows/s, create→Completed ${(run.job.ms / 1000).toFixed(1)} s, ` +
        `worker CPU ${run.cpu[0]!.toFixed(1)} s, PostgreSQL CPU ${run.pgCpu.toFixed(1)} s, imported_rows > 0 after ${msText(run.job.firstRowMs)}, ` +
        `first staging page after ${msText(run.job.firstPageMs)}, ` +
        `rows verified, sample ${digestOk ? 'equals' : 'DIFFERS FROM'} baseline, ` +
        `${run.job.stagingLeft ? 'staging table NOT dropped 3 s after Completed, ' : ''}load ${load()}\n` +
        `    phases after create: ${run.job.phases}`,
    );
    await gw.dropCollection(name);
  }
  await baseline(2);
  const copyRate = baselineRuns.reduce((a, b) => a + b, 0) / baselineRuns.length;
  out(`  binary COPY baseline (mean of ${baselineRuns.length} runs, before and after): ${fmt(copyRate)} rows/s`);
  for (const r of results) {
    lines.push(
      `e2e ${r.format.padEnd(7)} ${size}  import/binary-COPY = ${(r.run.rate / copyRate).toFixed(2)}  ` +
        `(${fmt(r.run.rate)} rows/s vs ${fmt(copyRate)})  worker peak RSS = ${mb(r.run.peakRss)} MB  ` +
        `first row staged after ${stagedText(r.run.job)}  (load ${r.l})`,
    );
  }

  if (multi) {
    const expect = rows;
    const groupRows = Math.ceil(rows / MULTI_GROUPS);
    const rates: FormatRun[] = [];
    for (const workers of [1, 2]) {
      const name = `e2e_multi_${workers}`;
      await gw.createCollection(name);
      const run = await runJob(gw, web, name, data.multi, expect, workers);
      rates.push(run);
      out(
        `  multi ${multiFormat} ${MULTI_GROUPS} groups on ${workers} worker process${workers > 1 ? 'es' : ''}: ` +
          `${fmt(run.rate)} rows/s, CPU per worker process ${run.cpu.map((c) => `${c.toFixed(1)} s`).join(' + ')} of ${(run.job.ms / 1000).toFixed(1)} s, load ${load()}`,
      );
      await gw.dropCollection(name);
    }
    lines.push(
      `e2e multi-worker ${multiFormat} ${MULTI_GROUPS} groups × ${fmt(groupRows)}  two/one workers = ` +
        `${(rates[1]!.rate / rates[0]!.rate).toFixed(2)}  (${fmt(rates[1]!.rate)} rows/s vs ${fmt(rates[0]!.rate)})  (load ${load()})`,
    );
  }
  const left = (await gw.stagingTables()).length;
  if (left > 0) out(`  note: ${left} staging table(s) of completed jobs still present at the end`);
  out('');
  for (const l of lines) out(l);
}

/** --large: one ~2 GB file (or NumPy group) per format, streamed to disk; reports the worker's peak RSS. */
async function large(gw: Gateway, web: DiskHttpServer, formats: Format[]): Promise<void> {
  const target = Number(process.env.BENCH_E2E_LARGE_BYTES ?? 2 * 2 ** 30);
  const dir = join(OUT, `e2e-large-${mb(target)}`);
  const rel = (p: string) => relative(OUT, join(dir, p));
  const textRows = rowsForTextBytes(target);
  const npyRows = Math.round(target / (8 + 4 * DIM + 4 * 16));
  const parquetRows = Math.round(target / (8 + 4 * DIM + 20)); // float32 values barely compress
  for (const format of formats) {
    let groups: string[][];
    let rows: number;
    const t0 = performance.now();
    switch (format) {
      case 'jsonl':
      case 'json':
      case 'csv': {
        const file = join(dir, `rows.${format}`);
        if (!exists(file)) writeTextFiles(textRows, { [format]: file });
        groups = [[rel(`rows.${format}`)]];
        rows = textRows;
        break;
      }
      case 'numpy': {
        if (!exists(...numpyGroup(join(dir, 'npy')))) writeNumpyGroup(join(dir, 'npy'), 0, npyRows);
        groups = [numpyGroup('npy').map(rel)];
        rows = npyRows;
        break;
      }
      case 'parquet': {
        const file = join(dir, 'rows.parquet');
        if (!exists(file)) await writeParquet(file, { rows: parquetRows });
        groups = [[rel('rows.parquet')]];
        rows = parquetRows;
        break;
      }
    }
    const secs = (performance.now() - t0) / 1000;
    if (secs > 1) {
      execFileSync('sync'); // as for the standard data: no writeback under the job
      out(`  (${format} written in ${secs.toFixed(0)} s, synced)`);
    }
    // The text files are written synchronously for up to a minute: meanwhile the API closed the
    // kept-alive connection (65 s idle) and fetch's own idle timer could not run. One turn of the
    // event loop lets fetch see the close instead of sending the next request on a dead socket.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const name = `e2e_large_${format}`;
    await gw.createCollection(name);
    const run = await runJob(gw, web, name, groups, rows, 1);
    await gw.dropCollection(name);
    out(
      `e2e-large ${format.padEnd(7)} ${mb(groupBytes(groups))} MB ${fmt(rows)}×${DIM}  ${fmt(run.rate)} rows/s  ` +
        `worker peak RSS = ${mb(run.peakRss)} MB  first row staged after ${stagedText(run.job)}  (load ${load()})`,
    );
  }
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const largeAt = argv.indexOf('--large');
  out(
    `import-e2e: API + worker processes from dist/, PostgreSQL ${new URL(ADMIN_URL).host}, Redis ${new URL(REDIS_URL).host}, ` +
      `load average ${loadavg()
        .map((x) => x.toFixed(2))
        .join(' ')}`,
  );
  const gw = new Gateway();
  const web = new DiskHttpServer(OUT);
  let interrupted = false;
  const onSignal = () => {
    if (interrupted) return;
    interrupted = true;
    out('interrupted: cleaning up');
    // Children, the scratch database and the Redis keys go even when the run is cut short.
    void web
      .stop()
      .then(() => gw.close())
      .finally(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await web.start();
    await gw.start();
    if (largeAt >= 0) {
      const formats = parseFormats(argv[largeAt + 1] ?? 'jsonl');
      await large(gw, web, formats);
    } else {
      await standard(gw, web);
    }
  } finally {
    await web.stop();
    await gw.close();
  }
  out(
    `load average at the end ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
