import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { openFileGroup, type FileFormat } from '@gw/formats';
import { ensureFixtures, OK_ROWS, okRow, okSchema } from '../../fixtures/make';
import { columnValues, inputsOf, readGroup } from './helpers';

let dir = '';
beforeAll(async () => {
  dir = join(await ensureFixtures(), 'ok');
}, 120_000);

const rows = Array.from({ length: OK_ROWS }, (_, i) => okRow(i));

function expectOkColumns(batches: Awaited<ReturnType<typeof readGroup>>, withSparse: boolean): void {
  expect(batches.reduce((a, b) => a + b.rowCount, 0)).toBe(OK_ROWS);
  expect(batches.map((b) => b.firstRow)).toEqual(batches.map((_, k) => 1 + k * 700));
  expect(columnValues(batches, 'id')).toEqual(rows.map((r) => r.id));
  expect(columnValues(batches, 'flag')).toEqual(rows.map((r) => r.flag));
  expect(columnValues(batches, 'i8')).toEqual(rows.map((r) => r.i8));
  expect(columnValues(batches, 'i16')).toEqual(rows.map((r) => r.i16));
  expect(columnValues(batches, 'i32')).toEqual(rows.map((r) => r.i32));
  expect(columnValues(batches, 'f')).toEqual(rows.map((r) => Math.fround(r.f)));
  expect(columnValues(batches, 'd')).toEqual(rows.map((r) => r.d));
  expect(columnValues(batches, 'name')).toEqual(rows.map((r) => r.name));
  // NumPy groups have no opt.npy: the nullable field is NULL throughout.
  expect(columnValues(batches, 'opt')).toEqual(rows.map((r) => (withSparse ? r.opt : null)));
  expect(columnValues(batches, 'doc')).toEqual(rows.map((r) => r.doc));
  expect(columnValues(batches, 'vec')).toEqual(rows.map((r) => r.vec.map(Math.fround)));
  expect(columnValues(batches, 'bin')).toEqual(rows.map((r) => r.bin));
  const halfBytes = (h: number[]): number[] => {
    const b = Buffer.alloc(8);
    h.forEach((v, k) =>
      b.writeUInt16LE(v === 1.5 ? 0x3e00 : v === -2 ? 0xc000 : v === 0.25 ? 0x3400 : halfOfInt(v), 2 * k),
    );
    return Array.from(b);
  };
  expect(columnValues(batches, 'h')).toEqual(rows.map((r) => halfBytes(r.h)));
  if (withSparse) expect(columnValues(batches, 'sp')).toEqual(rows.map((r) => r.sp));
  expect(batches.flatMap((b) => b.meta)).toEqual(rows.map((r) => `{"color":"${r.color}"}`));
}

/** IEEE half bits of a small non-negative integer (exact). */
function halfOfInt(v: number): number {
  if (v === 0) return 0;
  const e = Math.floor(Math.log2(v));
  return ((e + 15) << 10) | Math.round((v / 2 ** e - 1) * 1024);
}

describe('ok fixtures', () => {
  it.each([
    ['json', 'rows.json'],
    ['json', 'array.json'],
    ['jsonl', 'rows.jsonl'],
    ['csv', 'rows.csv'],
    ['parquet', 'rows-snappy.parquet'],
    ['parquet', 'rows-gzip.parquet'],
    ['parquet', 'rows-zstd.parquet'],
    ['parquet', 'rows-uncompressed.parquet'],
  ] as [FileFormat, string][])('reads every value of %s %s exactly', async (format, file) => {
    const batches = await readGroup(format, await inputsOf(dir, [file]), okSchema(true));
    expectOkColumns(batches, true);
  });

  it.each(['npy-le', 'npy-be'])('reads a NumPy group (%s) in step across its files', async (group) => {
    const files = readdirSync(join(dir, group)).map((f) => `${group}/${f}`);
    const batches = await readGroup('numpy', await inputsOf(dir, files), okSchema(false));
    expectOkColumns(batches, false);
  });

  it('reports total rows up front for Parquet and NumPy, and bytes consumed for streams', async () => {
    const pq = openFileGroup('parquet', await inputsOf(dir, ['rows-zstd.parquet']), okSchema(true), { batchRows: 100 });
    expect(await pq.totalRows()).toBe(OK_ROWS);
    const files = readdirSync(join(dir, 'npy-le')).map((f) => `npy-le/${f}`);
    const np = openFileGroup('numpy', await inputsOf(dir, files), okSchema(false), { batchRows: 100 });
    expect(await np.totalRows()).toBe(OK_ROWS);
    const js = openFileGroup('jsonl', await inputsOf(dir, ['rows.jsonl']), okSchema(true), { batchRows: 100 });
    expect(await js.totalRows()).toBeNull();
    let n = 0;
    for await (const b of js.batches()) n += b.rowCount;
    expect(n).toBe(OK_ROWS);
    expect(js.bytesConsumed()).toBe(js.totalBytes);
  });
});
