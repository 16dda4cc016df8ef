/**
 * Throughput of libs/sink's binary COPY against a multi-row INSERT baseline, in one process:
 * N rows × 128-d FloatVector + Int64 primary key into a collection table with vectors as real[]
 * (the DDL of libs/collections, CHECKs and primary key included).
 *
 *   node scripts/build.cjs && node dist/bench/sink-copy.js
 *   env: BENCH_DATABASE_URL (else DATABASE_URL, else postgresql://postgres@127.0.0.1:5432/postgres),
 *        BENCH_ROWS (1,000,000), BENCH_INSERT_ROWS (50,000), BENCH_BATCH_ROWS (10,000)
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createCollectionTable, pgRunner, pgSchemaName } from '@gw/collections';
import type { CollectionSchema, Column, RowBatch } from '@gw/schema';
import { buildCopyLayout, copyBatches, encodeBinaryCopy, type CopyLayout } from '@gw/sink';

const DIM = 128;
const url =
  process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);
const INSERT_ROWS = Number(process.env.BENCH_INSERT_ROWS ?? 50_000);
const BATCH = Number(process.env.BENCH_BATCH_ROWS ?? 10_000);
const INSERT_ROWS_PER_STATEMENT = 1_000;

const schema: CollectionSchema = {
  enableDynamicField: false,
  fields: [
    {
      name: 'id',
      dataType: 'Int64',
      isPrimary: true,
      autoId: false,
      isPartitionKey: false,
      isClusteringKey: false,
      nullable: false,
      description: '',
    },
    {
      name: 'vector',
      dataType: 'FloatVector',
      dim: DIM,
      isPrimary: false,
      autoId: false,
      isPartitionKey: false,
      isClusteringKey: false,
      nullable: false,
      description: '',
    },
  ],
};

/** Random vectors shared by every batch (generation is not what is measured); ids differ per batch. */
const vectors = Float32Array.from({ length: BATCH * DIM }, () => Math.random() * 2 - 1);

function* batches(total: number): Generator<RowBatch> {
  for (let first = 0; first < total; first += BATCH) {
    const n = Math.min(BATCH, total - first);
    const ids = new BigInt64Array(n);
    for (let i = 0; i < n; i++) ids[i] = BigInt(first + i);
    const columns = new Map<string, Column>([
      ['id', { kind: 'int64', values: ids, valid: null }],
      ['vector', { kind: 'floatVector', dim: DIM, values: vectors.subarray(0, n * DIM) }],
    ]);
    yield { file: 'bench', firstRow: first + 1, rowCount: n, columns, meta: null };
  }
}

async function* asyncBatches(total: number): AsyncGenerator<RowBatch> {
  for (const b of batches(total)) {
    await Promise.resolve();
    yield b;
  }
}

const rate = (rows: number, ms: number): number => (rows / ms) * 1000;
const fmt = (n: number): string => Math.round(n).toLocaleString('en-US');
let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

/** The encoder alone (one batch per payload, so the concatenation is included), no database. */
function encodeOnly(layout: CopyLayout, total: number): number {
  let bytes = 0;
  const t0 = performance.now();
  for (const b of batches(total)) bytes += encodeBinaryCopy(layout, [b]).length;
  const ms = performance.now() - t0;
  process.stdout.write(
    `  encode only: ${fmt(rate(total, ms))} rows/s, ${(bytes / 2 ** 20 / (ms / 1000)).toFixed(0)} MiB/s\n`,
  );
  return rate(total, ms);
}

async function timedTx(pool: pg.Pool, fn: (c: pg.PoolClient) => Promise<void>): Promise<number> {
  const c = await pool.connect();
  try {
    await c.query('BEGIN');
    const t0 = performance.now();
    await fn(c);
    await c.query('COMMIT');
    return performance.now() - t0;
  } finally {
    c.release();
  }
}

async function main(): Promise<void> {
  const pool = new pg.Pool({ connectionString: url, max: 2 });
  const db = `bench_${randomBytes(4).toString('hex')}`;
  const pgSchema = pgSchemaName(db);
  await pool.query(`CREATE SCHEMA "${pgSchema}"`);
  try {
    const storage = { vectorType: 'array', halfvec: false } as const;
    await createCollectionTable(pgRunner(pool), db, 'copy', schema, storage);
    await createCollectionTable(pgRunner(pool), db, 'insert', schema, storage);
    const layout = buildCopyLayout({
      fields: schema.fields,
      storage,
      dynamicField: false,
      extra: [{ name: '$partition', type: 'text', value: '_default' }],
    });
    process.stdout.write(
      `sink-copy: ${fmt(ROWS)} rows × ${DIM}-d FloatVector + Int64 id into real[] (${url.replace(/\/\/[^@]*@/, '//')})\n`,
    );
    encodeOnly(layout, Math.min(ROWS, 200_000));

    let copied = 0;
    const copyMs = await timedTx(pool, async (c) => {
      copied = (await copyBatches(c, { schema: pgSchema, name: 'copy' }, layout, asyncBatches(ROWS))).rows;
    });
    if (copied !== ROWS) throw new Error(`COPY reported ${copied} rows, expected ${ROWS}`);
    const copyRate = rate(ROWS, copyMs);
    process.stdout.write(`  binary COPY: ${fmt(copyRate)} rows/s (${(copyMs / 1000).toFixed(1)} s incl. COMMIT)\n`);

    const insertMs = await timedTx(pool, async (c) => {
      for (const b of batches(INSERT_ROWS)) {
        const ids = (b.columns.get('id') as Extract<Column, { kind: 'int64' }>).values;
        const vec = (b.columns.get('vector') as Extract<Column, { kind: 'floatVector' }>).values;
        for (let s = 0; s < b.rowCount; s += INSERT_ROWS_PER_STATEMENT) {
          const n = Math.min(INSERT_ROWS_PER_STATEMENT, b.rowCount - s);
          const params: unknown[] = [];
          const tuples: string[] = [];
          for (let i = s; i < s + n; i++) {
            params.push(ids[i]!.toString(), Array.from(vec.subarray(i * DIM, (i + 1) * DIM)));
            tuples.push(`($${params.length - 1}::bigint, $${params.length}::real[])`);
          }
          await c.query(`INSERT INTO "${pgSchema}"."insert" (id, vector) VALUES ${tuples.join(', ')}`, params);
        }
      }
    });
    const insertRate = rate(INSERT_ROWS, insertMs);
    process.stdout.write(
      `  multi-row INSERT (${INSERT_ROWS_PER_STATEMENT} rows/statement, ${fmt(INSERT_ROWS)} rows): ${fmt(insertRate)} rows/s\n`,
    );
    process.stdout.write(
      `sink-copy ${fmt(ROWS)}×${DIM} real[]  copy/insert = ${(copyRate / insertRate).toFixed(1)}   peak RSS = ${(peakRss / 2 ** 20).toFixed(0)} MB\n`,
    );
  } finally {
    await pool.query(`DROP SCHEMA "${pgSchema}" CASCADE`);
    await pool.end();
    clearInterval(sampler);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
