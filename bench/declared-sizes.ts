/**
 * Reader throughput with the declared-size checks (decision 0801) against a baseline build of the
 * readers, in one process, the two alternating on the same in-memory files. Prints CPU time per
 * read (median of the runs) and new/baseline; CPU time, not wall time, because the bench machine
 * is shared.
 *
 *   git archive <base-rev> | tar -x -C /tmp/base && ln -s "$PWD/node_modules" /tmp/base/node_modules \
 *     && (cd /tmp/base && npm run build)
 *   npm run build && node dist/bench/declared-sizes.js /tmp/base/dist [rows=100000] [runs=5]
 *
 * Files go to bench/out/declared-sizes-<rows>/ (gitignored) and are reused.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import * as current from '@gw/formats';
import { fieldOf, type CollectionSchema } from '@gw/schema';

type Formats = typeof current;
const DIM = 128;
const schema: CollectionSchema = {
  enableDynamicField: false,
  fields: [
    fieldOf('id', 'Int64', { isPrimary: true }),
    fieldOf('name', 'VarChar', { maxLength: 64 }),
    fieldOf('vec', 'FloatVector', { dim: DIM }),
  ],
};
const opts = { batchRows: 4096, batchBytes: 32 * 1024 * 1024 };

interface Case {
  readonly label: string;
  readonly format: 'parquet' | 'numpy';
  readonly files: readonly string[];
}

async function writeParquet(dir: string, rows: number, codec: string, rowGroup: number, names = 0): Promise<string> {
  // `names` > 0: that many distinct names, which DuckDB dictionary-encodes.
  const file = join(dir, `rows-${codec}-rg${rowGroup}${names > 0 ? `-dict${names}` : ''}.parquet`);
  if (existsSync(file)) return file;
  const inst = await DuckDBInstance.create(':memory:');
  const con = await inst.connect();
  await con.run(
    `COPY (SELECT i::BIGINT AS id, 'name-' || ${names > 0 ? `(i % ${names})` : 'i'} AS name,
                  list_transform(range(${DIM}), k -> ((i * 31 + k) % 997)::FLOAT / 997) AS vec
             FROM range(0, ${rows}) t(i))
       TO '${file}' (FORMAT parquet, COMPRESSION ${codec}, ROW_GROUP_SIZE ${rowGroup})`,
  );
  con.closeSync();
  inst.closeSync();
  return file;
}

function writeNumpy(dir: string, rows: number): string[] {
  const files = ['id.npy', 'name.npy', 'vec.npy'].map((f) => join(dir, 'npy', f));
  if (files.every((f) => existsSync(f))) return files;
  mkdirSync(join(dir, 'npy'), { recursive: true });
  execFileSync('python3', [
    '-c',
    `import numpy as np, sys
d, n = sys.argv[1], int(sys.argv[2])
ids = np.arange(n, dtype='<i8')
np.save(d + '/id.npy', ids)
np.save(d + '/name.npy', np.array(['name-%d' % i for i in range(n)], dtype='<U16'))
np.save(d + '/vec.npy', ((ids[:, None] * 31 + np.arange(${DIM})) % 997 / 997).astype('<f4'))`,
    join(dir, 'npy'),
    String(rows),
  ]);
  return files;
}

/** CPU milliseconds to read every row of the case with the given build of the readers. */
async function cpuMs(f: Formats, c: Case, bytes: readonly Buffer[]): Promise<number> {
  const inputs = bytes.map((b, k) => f.byteInputFromBuffer(c.files[k]!, b));
  const start = process.cpuUsage();
  let rows = 0;
  for await (const batch of f.openFileGroup(c.format, inputs, schema, opts).batches()) rows += batch.rowCount;
  const used = process.cpuUsage(start);
  if (rows === 0) throw new Error(`${c.label}: no rows`);
  return (used.user + used.system) / 1000;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const baseDist = process.argv[2];
  if (baseDist === undefined) throw new Error('usage: declared-sizes.js <baseline dist dir> [rows] [runs]');
  const rows = Number(process.argv[3] ?? 100_000);
  const runs = Number(process.argv[4] ?? 5);
  // The baseline build's own copy of libs/formats (its @gw aliases compiled to relative paths).
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const base = require(resolve(baseDist, 'libs/formats/src/index.js')) as Formats;
  const dir = resolve(__dirname, '..', '..', 'bench', 'out', `declared-sizes-${rows}`);
  mkdirSync(dir, { recursive: true });
  const cases: Case[] = [];
  for (const [codec, rg] of [
    ['zstd', 4096],
    ['zstd', 16384],
    ['zstd', 122880],
    ['snappy', 4096],
    ['snappy', 16384],
    ['gzip', 4096],
    ['gzip', 16384],
  ] as const)
    cases.push({
      label: `parquet ${codec} rg${rg}`,
      format: 'parquet',
      files: [await writeParquet(dir, rows, codec, rg)],
    });
  cases.push({
    label: 'parquet zstd rg16384 dict',
    format: 'parquet',
    files: [await writeParquet(dir, rows, 'zstd', 16384, 100)],
  });
  cases.push({ label: 'numpy id+<U16+f4×128', format: 'numpy', files: writeNumpy(dir, rows) });

  console.log(`${rows} rows × ${DIM}d, ${runs} alternating runs each, median CPU ms per full read`);
  for (const c of cases) {
    const bytes = c.files.map((f) => readFileSync(f));
    const times: Record<'base' | 'new', number[]> = { base: [], new: [] };
    await cpuMs(current, c, bytes); // warm both builds' code paths
    await cpuMs(base, c, bytes);
    for (let r = 0; r < runs; r++) {
      const order: ('base' | 'new')[] = r % 2 === 0 ? ['base', 'new'] : ['new', 'base'];
      for (const which of order) times[which].push(await cpuMs(which === 'new' ? current : base, c, bytes));
    }
    const b = median(times.base);
    const n = median(times.new);
    console.log(
      `${c.label.padEnd(24)} baseline ${b.toFixed(0).padStart(6)} ms | declared-size checks ${n.toFixed(0).padStart(6)} ms | new/baseline = ${(n / b).toFixed(3)}`,
    );
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
