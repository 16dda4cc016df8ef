/**
 * Reads a large file of each format with our readers and with a baseline in the same run, printing
 * rows/s and peak RSS. Each measurement runs in its own child process so peak RSS is its own.
 *
 *   node dist/bench/formats-rss.js [sizeMB=200] [formats=jsonl,json,csv,parquet,numpy] [parquetRowGroup=122880] [parquetCodec=zstd]
 *
 * Build first (`npm run build`).
 * Data goes to bench/out/data-<size>/ (gitignored) and is reused when present.
 */
import { execFileSync, fork } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, openSync, statSync, writeSync, closeSync, renameSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parse as csvParse } from 'csv-parse';
import { JSONParser } from '@streamparser/json';
import { byteInputFromFile, openFileGroup, type FileFormat } from '@gw/formats';
import { fieldOf, type CollectionSchema } from '@gw/schema';

/** DuckDB is loaded only where it is used, so its ~24 MB native library is not in our reader's RSS. */
function loadDuckDb(): Promise<typeof import('@duckdb/node-api')> {
  return import('@duckdb/node-api');
}

const DIM = 128;
const BATCH_ROWS = 4096;
/** IMPORT_BATCH_BYTES's default. */
const BATCH_BYTES = 32 * 1024 * 1024;
const schema: CollectionSchema = {
  enableDynamicField: false,
  fields: [
    fieldOf('id', 'Int64', { isPrimary: true }),
    fieldOf('name', 'VarChar', { maxLength: 64 }),
    fieldOf('vec', 'FloatVector', { dim: DIM }),
  ],
};

/** Approximate bytes per row, to size each file near the requested size. */
const BYTES_PER_ROW: Record<FileFormat, number> = { json: 2530, jsonl: 2530, csv: 2530, parquet: 530, numpy: 600 };

const root = resolve(__dirname, '..', '..'); // dist/bench → repo
/** Rows per Parquet row group (DuckDB's default is 122,880); hyparquet's memory grows with it. */
const ROW_GROUP = Number((process.argv[2] === '--child' ? process.argv[6] : process.argv[4]) ?? 122_880);
/** Parquet codec (DuckDB's default is snappy; zstd is the bench's default since session 1). */
const CODEC = ((process.argv[2] === '--child' ? process.argv[7] : process.argv[5]) ?? 'zstd').toLowerCase();
const FILES: Record<FileFormat, string[]> = {
  json: ['rows.json'],
  jsonl: ['rows.jsonl'],
  csv: ['rows.csv'],
  parquet: [`rows-rg${ROW_GROUP}${CODEC === 'zstd' ? '' : `-${CODEC}`}.parquet`],
  numpy: ['npy/id.npy', 'npy/name.npy', 'npy/vec.npy'],
};

function rowsFor(format: FileFormat, sizeMb: number): number {
  return Math.round((sizeMb * 1024 * 1024) / BYTES_PER_ROW[format]);
}

/** Deterministic float32 values printed as their shortest text. */
function vecText(i: number): string {
  const parts = new Array<string>(DIM);
  let x = (i * 2654435761) >>> 0;
  for (let k = 0; k < DIM; k++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    parts[k] = String(Math.fround(x / 4294967296 - 0.5));
  }
  return parts.join(',');
}

function writeText(
  path: string,
  rows: number,
  head: string,
  row: (i: number) => string,
  sep: string,
  tail: string,
): void {
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w');
  writeSync(fd, head);
  let buf: string[] = [];
  for (let i = 0; i < rows; i++) {
    buf.push((i > 0 ? sep : '') + row(i));
    if (buf.length === 2000) {
      writeSync(fd, buf.join(''));
      buf = [];
    }
  }
  writeSync(fd, buf.join('') + tail);
  closeSync(fd);
  renameSync(tmp, path);
}

async function generate(dir: string, format: FileFormat, sizeMb: number): Promise<void> {
  const n = rowsFor(format, sizeMb);
  const done = FILES[format].every((f) => existsSync(join(dir, f)));
  if (done) return;
  mkdirSync(dir, { recursive: true });
  const json = (i: number): string => `{"id":${i},"name":"name-${i}","vec":[${vecText(i)}]}`;
  switch (format) {
    case 'json':
      return writeText(join(dir, 'rows.json'), n, '{"rows":[\n', json, ',\n', '\n]}\n');
    case 'jsonl':
      return writeText(join(dir, 'rows.jsonl'), n, '', json, '\n', '\n');
    case 'csv':
      return writeText(
        join(dir, 'rows.csv'),
        n,
        'id,name,vec\n',
        (i) => `${i},name-${i},"[${vecText(i)}]"`,
        '\n',
        '\n',
      );
    case 'parquet': {
      const { DuckDBInstance } = await loadDuckDb();
      const inst = await DuckDBInstance.create(':memory:');
      const c = await inst.connect();
      await c.run(
        `COPY (SELECT i::BIGINT AS id, 'name-' || i AS name, list_transform(range(${DIM}), x -> (random() - 0.5)::FLOAT) AS vec FROM range(${n}) t(i))
         TO '${join(dir, FILES.parquet[0]!)}' (FORMAT parquet, COMPRESSION ${CODEC}, ROW_GROUP_SIZE ${ROW_GROUP})`,
      );
      c.closeSync();
      inst.closeSync();
      return;
    }
    case 'numpy': {
      mkdirSync(join(dir, 'npy'), { recursive: true });
      const py = `
import numpy as np, sys
n, d, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
np.save(out + '/id.npy', np.arange(n, dtype='<i8'))
np.save(out + '/name.npy', np.array(['name-%d' % i for i in range(n)], dtype='<U16'))
m = np.lib.format.open_memmap(out + '/vec.npy', mode='w+', dtype='<f4', shape=(n, d))
rng = np.random.default_rng(1)
for s in range(0, n, 65536):
    e = min(n, s + 65536)
    m[s:e] = rng.random((e - s, d), dtype=np.float32) - 0.5
m.flush()
`;
      execFileSync('python3', ['-c', py, String(n), String(DIM), join(dir, 'npy')], { stdio: 'inherit' });
      return;
    }
  }
}

/** Peak RSS sampler: an interval plus explicit samples from the read loop. */
function rssTracker(): { sample(): void; stop(): number } {
  let peak = process.memoryUsage.rss();
  const t = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 10);
  return {
    sample: () => (peak = Math.max(peak, process.memoryUsage.rss())),
    stop: () => {
      clearInterval(t);
      return Math.max(peak, process.memoryUsage.rss());
    },
  };
}

async function ours(dir: string, format: FileFormat): Promise<number> {
  const inputs = await Promise.all(FILES[format].map((f) => byteInputFromFile(join(dir, f), f)));
  const reader = openFileGroup(format, inputs, schema, { batchRows: BATCH_ROWS, batchBytes: BATCH_BYTES });
  let rows = 0;
  for await (const b of reader.batches()) rows += b.rowCount;
  return rows;
}

async function baseline(dir: string, format: FileFormat, sample: () => void): Promise<number> {
  let rows = 0;
  switch (format) {
    case 'jsonl': {
      const rl = createInterface({ input: createReadStream(join(dir, 'rows.jsonl')), crlfDelay: Infinity });
      for await (const line of rl) {
        if (line.length > 0) {
          JSON.parse(line);
          rows++;
        }
      }
      return rows;
    }
    case 'json': {
      const p = new JSONParser({ paths: ['$.rows.*'], keepStack: false });
      p.onValue = () => {
        rows++;
      };
      for await (const chunk of createReadStream(join(dir, 'rows.json'))) {
        p.write(chunk as Buffer);
        sample();
      }
      return rows;
    }
    case 'csv': {
      const parser = createReadStream(join(dir, 'rows.csv')).pipe(csvParse({ from_line: 2 }));
      for await (const rec of parser) {
        JSON.parse((rec as string[])[2]!);
        rows++;
      }
      return rows;
    }
    case 'parquet': {
      const { DuckDBInstance } = await loadDuckDb();
      const inst = await DuckDBInstance.create(':memory:');
      const c = await inst.connect();
      const res = await c.stream(`SELECT * FROM read_parquet('${join(dir, FILES.parquet[0]!)}')`);
      for (;;) {
        const chunk = await res.fetchChunk();
        if (chunk === null || chunk.rowCount === 0) break;
        rows += chunk.getRows().length;
        sample();
      }
      c.closeSync();
      inst.closeSync();
      return rows;
    }
    case 'numpy': {
      // I/O ceiling: the same ranged reads without decoding or validation.
      const inputs = await Promise.all(FILES.numpy.map((f) => byteInputFromFile(join(dir, f), f)));
      const per = [8, 64, DIM * 4];
      const total = (statSync(join(dir, 'npy/id.npy')).size - 128) / 8;
      for (let r = 0; r < total; r += BATCH_ROWS) {
        const e = Math.min(total, r + BATCH_ROWS);
        await Promise.all(inputs.map((inp, k) => inp.slice(128 + r * per[k]!, 128 + e * per[k]!)));
        rows = e;
      }
      return rows;
    }
  }
}

async function child(mode: 'ours' | 'baseline' | 'jsonparse', dir: string, format: FileFormat): Promise<void> {
  const rss = rssTracker();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const rows =
    mode === 'ours'
      ? await ours(dir, format)
      : // JSON.parse of every JSONL line: the speed the text readers had to beat (issue 12 point 3).
        await baseline(dir, mode === 'jsonparse' ? 'jsonl' : format, rss.sample);
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  process.send?.({ rows, secs, cpuSecs: (cpu.user + cpu.system) / 1e6, peakRss: rss.stop() });
}

interface Result {
  rows: number;
  secs: number;
  /** CPU time of the child (user + system, all its threads: DuckDB reads with several): the per-core cost. */
  cpuSecs: number;
  peakRss: number;
}

function runChild(mode: string, dir: string, format: FileFormat): Promise<Result> {
  return new Promise((res, rej) => {
    const p = fork(__filename, ['--child', mode, dir, format, String(ROW_GROUP), CODEC], { stdio: 'inherit' });
    p.on('message', (m) => res(m as Result));
    p.on('exit', (code) => (code === 0 ? undefined : rej(new Error(`${mode} ${format} exited with ${code}`))));
  });
}

const BASELINE_NAME: Record<FileFormat, string> = {
  json: '@streamparser/json $.rows.*',
  jsonl: 'readline + JSON.parse',
  csv: 'csv-parse + JSON.parse(vec)',
  parquet: 'DuckDB read_parquet → JS rows',
  numpy: 'raw ranged reads (no decode)',
};

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  if (argv[0] === '--child')
    return child(argv[1] as 'ours' | 'baseline' | 'jsonparse', argv[2]!, argv[3] as FileFormat);
  const sizeMb = Number(argv[0] ?? 200);
  const formats = (argv[1] ?? 'jsonl,json,csv,parquet,numpy').split(',') as FileFormat[];
  const dir = join(root, 'bench', 'out', `data-${sizeMb}`);
  const mb = (b: number): string => `${Math.round(b / 1048576)} MB`;
  const rate = (r: Result): string => `${(r.rows / r.secs / 1000).toFixed(1)}k rows/s`;
  let jsonParse: Result | null = null;
  if (formats.some((f) => f === 'jsonl' || f === 'json' || f === 'csv')) {
    await generate(dir, 'jsonl', sizeMb);
    jsonParse = await runChild('jsonparse', dir, 'jsonl');
    console.log(
      `JSON.parse per JSONL line (reference for the text readers): ${rate(jsonParse)}, ` +
        `${(jsonParse.rows / jsonParse.cpuSecs / 1000).toFixed(1)}k rows per CPU-second; load average ${loadavg()[0]!.toFixed(1)}`,
    );
  }
  for (const format of formats) {
    await generate(dir, format, sizeMb);
    const bytes = FILES[format].reduce((a, f) => a + statSync(join(dir, f)).size, 0);
    const o = await runChild('ours', dir, format);
    const b = await runChild('baseline', dir, format);
    const vsParse =
      jsonParse !== null && (format === 'jsonl' || format === 'json' || format === 'csv')
        ? ` | ours/JSON.parse = ${(o.rows / o.secs / (jsonParse.rows / jsonParse.secs)).toFixed(2)} wall, ` +
          `${(o.rows / o.cpuSecs / (jsonParse.rows / jsonParse.cpuSecs)).toFixed(2)} CPU`
        : '';
    console.log(
      `${format.padEnd(8)} ${mb(bytes).padStart(7)} ${String(o.rows).padStart(8)} rows × ${DIM}d | ours ${rate(o)}, peak RSS ${mb(o.peakRss)} | ` +
        `baseline (${BASELINE_NAME[format]}) ${rate(b)}, peak RSS ${mb(b.peakRss)} | ours/baseline = ${(o.rows / o.secs / (b.rows / b.secs)).toFixed(2)}${vsParse}`,
    );
    // Parquet: also per CPU-second, which a loaded machine disturbs less and which counts DuckDB's
    // threads (the import has one core for reading while PostgreSQL takes the other).
    if (format === 'parquet') {
      const perCpu = (r: Result): string => `${(r.rows / r.cpuSecs / 1000).toFixed(1)}k rows/CPU-s`;
      console.log(
        `${''.padEnd(8)} per CPU-second: ours ${perCpu(o)} | baseline ${perCpu(b)} | ours/baseline = ${(o.rows / o.cpuSecs / (b.rows / b.cpuSecs)).toFixed(2)}`,
      );
    }
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
