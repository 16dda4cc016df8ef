/**
 * The staging pipeline (libs/jobs stageGroup) against a raw binary COPY of the same row shape into
 * the same table shape, in one process: N rows × (Int64 id, short VarChar, 128-d FloatVector)
 * from in-memory JSONL / Parquet (DuckDB) / NumPy (numpy). Each format runs three ways: today's
 * serial path (openFileGroup → copyBatches), stageGroup parsing on the main thread, and stageGroup
 * with a pool of parse threads. Every figure is printed as a ratio to the COPY baseline.
 *
 *   npm run build && node dist/bench/stage-pipeline.js
 *   env: BENCH_ROWS (200,000), BENCH_FORMATS (jsonl,parquet,numpy; also json, csv),
 *        BENCH_THREADS (WORKER_PARSE_THREADS' default: the core count), BENCH_DATABASE_URL
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { createCollectionTable, pgRunner, pgSchemaName } from '@gw/collections';
import { byteInputFromBuffer, openFileGroup, type ByteInput, type FileFormat } from '@gw/formats';
import { ParsePool, stageGroup } from '@gw/jobs';
import { fieldOf, type CollectionSchema, type Column, type RowBatch } from '@gw/schema';
import { buildCopyLayout, copyBatches, type LayoutInput, type TableName } from '@gw/sink';

const DIM = 128;
const ROWS = Number(process.env.BENCH_ROWS ?? 200_000);
const FORMATS = (process.env.BENCH_FORMATS ?? 'jsonl,parquet,numpy').split(',') as FileFormat[];
const THREADS = Number(process.env.BENCH_THREADS ?? Math.max(1, availableParallelism()));
const BATCH_ROWS = 10_000;
const url =
  process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const out = resolve(__dirname, '..', '..', 'bench', 'out', `stage-pipeline-${ROWS}`);

const schema: CollectionSchema = {
  enableDynamicField: false,
  fields: [
    fieldOf('id', 'Int64', { isPrimary: true }),
    fieldOf('name', 'VarChar', { maxLength: 64 }),
    fieldOf('vec', 'FloatVector', { dim: DIM }),
  ],
};
const storage = { vectorType: 'array', halfvec: false } as const;
const layoutInput: LayoutInput = {
  fields: schema.fields,
  storage,
  dynamicField: false,
  extra: [{ name: '$partition', type: 'text', value: '_default' }],
};

/** Deterministic float32 values printed as their shortest text (as bench/formats-rss.ts). */
function vecText(i: number): string {
  const parts = new Array<string>(DIM);
  let x = (i * 2654435761) >>> 0;
  for (let k = 0; k < DIM; k++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    parts[k] = String(Math.fround(x / 4294967296 - 0.5));
  }
  return parts.join(',');
}

function textRows(format: 'jsonl' | 'json' | 'csv'): Buffer {
  const parts: string[] = [];
  const json = (i: number): string => `{"id":${i},"name":"name-${i}","vec":[${vecText(i)}]}`;
  if (format === 'json') parts.push('{"rows":[\n');
  if (format === 'csv') parts.push('id\tname\tvec\n');
  for (let i = 0; i < ROWS; i++) {
    if (format === 'csv') parts.push(`${i}\tname-${i}\t[${vecText(i)}]\n`);
    else parts.push((format === 'json' && i > 0 ? ',\n' : '') + json(i) + (format === 'jsonl' ? '\n' : ''));
  }
  if (format === 'json') parts.push('\n]}\n');
  return Buffer.from(parts.join(''));
}

async function inputsOf(format: FileFormat): Promise<{ inputs: ByteInput[]; sep?: string }> {
  mkdirSync(out, { recursive: true });
  switch (format) {
    case 'jsonl':
    case 'json':
      return { inputs: [byteInputFromBuffer(`rows.${format}`, textRows(format))] };
    case 'csv':
      // Tab-separated, so the vectors need no quotes and the file is cut into pieces.
      return { inputs: [byteInputFromBuffer('rows.csv', textRows('csv'))], sep: '\t' };
    case 'parquet': {
      const path = join(out, 'rows.parquet');
      if (!existsSync(path)) {
        const { DuckDBInstance } = await import('@duckdb/node-api');
        const inst = await DuckDBInstance.create(':memory:');
        const c = await inst.connect();
        await c.run(
          `COPY (SELECT i::BIGINT AS id, 'name-' || i AS name, list_transform(range(${DIM}), x -> (random() - 0.5)::FLOAT) AS vec FROM range(${ROWS}) t(i)) TO '${path}' (FORMAT parquet)`,
        );
        c.closeSync();
        inst.closeSync();
      }
      return { inputs: [byteInputFromBuffer('rows.parquet', readFileSync(path))] };
    }
    case 'numpy': {
      const dir = join(out, 'npy');
      if (!existsSync(join(dir, 'vec.npy'))) {
        mkdirSync(dir, { recursive: true });
        const py = `
import numpy as np, sys
n, d, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
np.save(out + '/id.npy', np.arange(n, dtype='<i8'))
np.save(out + '/name.npy', np.array(['name-%d' % i for i in range(n)], dtype='<U16'))
np.save(out + '/vec.npy', np.random.default_rng(1).random((n, d), dtype=np.float32) - 0.5)
`;
        execFileSync('python3', ['-c', py, String(ROWS), String(DIM), dir], { stdio: 'inherit' });
      }
      return {
        inputs: ['id', 'name', 'vec'].map((f) =>
          byteInputFromBuffer(`npy/${f}.npy`, readFileSync(join(dir, `${f}.npy`))),
        ),
      };
    }
  }
}

/** The baseline's rows: prebuilt batches (vectors shared, ids distinct), so only COPY is measured. */
async function* baselineBatches(): AsyncGenerator<RowBatch> {
  const vectors = Float32Array.from({ length: BATCH_ROWS * DIM }, () => Math.random() - 0.5);
  const names = Array.from({ length: BATCH_ROWS }, (_, i) => `name-${i}`);
  for (let first = 0; first < ROWS; first += BATCH_ROWS) {
    const n = Math.min(BATCH_ROWS, ROWS - first);
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(first + i);
    const columns = new Map<string, Column>([
      ['id', { kind: 'int64', values: ids, valid: null }],
      ['name', { kind: 'text', values: names.slice(0, n) }],
      ['vec', { kind: 'floatVector', dim: DIM, values: vectors.subarray(0, n * DIM) }],
    ]);
    await Promise.resolve();
    yield { file: 'bench', firstRow: first + 1, rowCount: n, columns, meta: null };
  }
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');

interface Run {
  readonly rate: number;
  /** Cores busy in this process (main thread + parse threads) and in the COPY's backend. */
  readonly node: number;
  readonly pg: number;
}

/** CPU time of a local PostgreSQL backend from /proc (NaN when the server is elsewhere). */
function backendCpuMs(pid: number): number {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // utime + stime in clock ticks (USER_HZ 100)
  } catch {
    return NaN;
  }
}

async function main(): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const db = `bench_${randomBytes(4).toString('hex')}`;
  const pgSchema = pgSchemaName(db);
  await pool.query(`CREATE SCHEMA "${pgSchema}"`);
  const parse = new ParsePool(THREADS);
  let tables = 0;
  /**
   * Runs fn into a fresh collection table inside one transaction: rows/s including COMMIT, and the
   * cores this process (all its threads) and the PostgreSQL backend kept busy meanwhile.
   */
  const timed = async (fn: (c: pg.PoolClient, t: TableName) => Promise<{ rows: number }>): Promise<Run> => {
    const name = `t${tables++}`;
    await createCollectionTable(pgRunner(pool), db, name, schema, storage);
    const c = await pool.connect();
    try {
      const pid = (await c.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
      await c.query('BEGIN');
      const cpu0 = process.cpuUsage();
      const pg0 = backendCpuMs(pid);
      const t0 = performance.now();
      const { rows } = await fn(c, { schema: pgSchema, name });
      await c.query('COMMIT');
      const ms = performance.now() - t0;
      const cpu = process.cpuUsage(cpu0);
      const pgMs = backendCpuMs(pid) - pg0;
      if (rows !== ROWS) throw new Error(`staged ${rows} rows, expected ${ROWS}`);
      return { rate: (rows / ms) * 1000, node: (cpu.user + cpu.system) / 1000 / ms, pg: pgMs / ms };
    } finally {
      c.release();
      await pool.query(`DROP TABLE "${pgSchema}"."${name}"`);
    }
  };
  try {
    const layout = buildCopyLayout(layoutInput);
    process.stdout.write(
      `stage-pipeline: ${fmt(ROWS)} rows × (Int64 id, VarChar, ${DIM}-d FloatVector) into real[]; parse threads ${THREADS}\n`,
    );
    const cores = (x: Run): string => `cores node ${x.node.toFixed(2)} pg ${x.pg.toFixed(2)}`;
    const copy = (): Promise<Run> => timed((c, t) => copyBatches(c, t, layout, baselineBatches()));
    for (const format of FORMATS) {
      const { inputs, sep } = await inputsOf(format);
      const readOptions = { batchRows: BATCH_ROWS, ...(sep !== undefined ? { sep } : {}) };
      const group = { format, inputs, schema, readOptions, layout: layoutInput };
      const signal = new AbortController().signal;
      // The load of a shared machine drifts within a run: the baseline is measured before and
      // after each format's runs, and each ratio is against their mean.
      const before = await copy();
      const serial = await timed((c, t) =>
        copyBatches(c, t, layout, openFileGroup(format, inputs, schema, readOptions).batches()),
      );
      const here = await timed((c, t) => stageGroup(c, t, group, { signal, parseThreads: null }));
      // Twice: the first use of a format in the pool pays each thread's module load and JIT warm-up;
      // the second is what a long-running worker process sees.
      const cold = await timed((c, t) => stageGroup(c, t, group, { signal, parseThreads: parse }));
      const warm = await timed((c, t) => stageGroup(c, t, group, { signal, parseThreads: parse }));
      const after = await copy();
      const copyRate = (before.rate + after.rate) / 2;
      const line = (label: string, x: Run): string =>
        `  ${format.padEnd(7)} ${label.padEnd(22)} /COPY = ${(x.rate / copyRate).toFixed(2)}  ${fmt(x.rate).padStart(7)} rows/s  ${cores(x)}\n`;
      process.stdout.write(
        `  ${format.padEnd(7)} raw binary COPY        ${fmt(before.rate)} / ${fmt(after.rate)} rows/s before/after  ${cores(before)}\n` +
          line('serial (today)', serial) +
          line('pipeline, 0 threads', here) +
          line(`pipeline, ${THREADS} thr, cold`, cold) +
          line(`pipeline, ${THREADS} thr, warm`, warm),
      );
    }
  } finally {
    await parse.close();
    await pool.query(`DROP SCHEMA "${pgSchema}" CASCADE`);
    await pool.end();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
