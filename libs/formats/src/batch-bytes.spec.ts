import { describe, expect, it } from 'vitest';
import { fieldOf, RowBatchBuilder, type CollectionSchema, type RowBatch } from '@gw/schema';
import { byteInputFromBuffer } from './byte-input';
import { columnValues, readAll, textInput } from './spec-helpers';

const DIM = 32_768;
const wide: CollectionSchema = {
  enableDynamicField: false,
  fields: [fieldOf('id', 'Int64', { isPrimary: true }), fieldOf('vec', 'FloatVector', { dim: DIM })],
};
/** Row data of a batch as RowBatchBuilder estimates it: 8 (id) + 4·dim per row. */
const rowBytes = 8 + 4 * DIM;
const ROWS = 20;
const BOUND = 1024 * 1024;

/** A .npy v1.0 file (header padded to 64 bytes). */
function npy(descr: string, shape: number[], data: Uint8Array): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - 10 - 1, ' ') + '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), data]);
}

function expectBounded(batches: RowBatch[]): void {
  expect(batches.reduce((a, b) => a + b.rowCount, 0)).toBe(ROWS);
  expect(batches.map((b) => b.firstRow)).toEqual([1, 8, 15]);
  for (const b of batches) {
    expect(b.rowCount * rowBytes).toBeLessThanOrEqual(BOUND);
    const vec = b.columns.get('vec');
    expect(vec?.kind === 'floatVector' ? vec.values.byteLength : -1).toBe(b.rowCount * 4 * DIM);
  }
}

describe('batches bounded by bytes (batchBytes)', () => {
  const vec = (i: number): string => `[${i}${',0'.repeat(DIM - 1)}]`;
  const opts = { batchRows: 10_000, batchBytes: BOUND };

  it('ends JSONL, JSON and CSV batches of a 32,768-dim vector at the byte bound, not at batchRows', async () => {
    const rows = Array.from({ length: ROWS }, (_, i) => `{"id":${i},"vec":${vec(i)}}`);
    const csv = `id,vec\n${Array.from({ length: ROWS }, (_, i) => `${i},"${vec(i)}"`).join('\n')}\n`;
    for (const [format, text] of [
      ['jsonl', rows.join('\n')],
      ['json', `[${rows.join(',')}]`],
      ['csv', csv],
    ] as const) {
      const batches = await readAll(format, [textInput(`f.${format}`, text, 1 << 16)], wide, opts);
      expectBounded(batches);
      expect(columnValues(batches, 'id')).toEqual(Array.from({ length: ROWS }, (_, i) => BigInt(i)));
      expect(batches.flatMap((b) => (b.columns.get('vec') as { values: Float32Array }).values[0])).toHaveLength(3);
    }
  });

  it('ends NumPy blocks at the byte bound too', async () => {
    const ids = Buffer.from(new BigInt64Array(Array.from({ length: ROWS }, (_, i) => BigInt(i))).buffer);
    const vecs = Buffer.from(new Float32Array(ROWS * DIM).fill(0.5).buffer);
    const batches = await readAll(
      'numpy',
      [
        byteInputFromBuffer('g/id.npy', npy('<i8', [ROWS], ids)),
        byteInputFromBuffer('g/vec.npy', npy('<f4', [ROWS, DIM], vecs)),
      ],
      wide,
      opts,
    );
    expectBounded(batches);
  });

  it('counts string lengths, so long strings end a batch before its rows are used up', async () => {
    const s: CollectionSchema = {
      enableDynamicField: false,
      fields: [fieldOf('id', 'Int64', { isPrimary: true }), fieldOf('t', 'VarChar', { maxLength: 65_535 })],
    };
    const text = Array.from({ length: 10 }, (_, i) => `{"id":${i},"t":"${'x'.repeat(30_000)}"}`).join('\n');
    const batches = await readAll('jsonl', [textInput('f.jsonl', text, 1 << 16)], s, {
      batchRows: 1000,
      batchBytes: 100_000,
    });
    // 30,016 bytes per row: the fourth row reaches the bound and ends the batch.
    expect(batches.map((b) => b.rowCount)).toEqual([4, 4, 2]);
  });

  it('sizes the builder from the bound, so a 10,000-row batch of wide vectors is never allocated', () => {
    const b = new RowBatchBuilder(wide, 10_000, { batchBytes: 32 * 1024 * 1024 });
    expect(b.capacity).toBe(Math.floor((32 * 1024 * 1024) / rowBytes));
    expect(b.capacity * rowBytes).toBeLessThanOrEqual(32 * 1024 * 1024);
  });
});
