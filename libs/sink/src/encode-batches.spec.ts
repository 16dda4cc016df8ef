import { describe, expect, it } from 'vitest';
import { fieldOf, type RowBatch } from '@gw/schema';
import { ChunkWriter } from './chunk-writer';
import { encodeBatch, encodeBatches, type EncodedChunk } from './copy';
import { buildCopyLayout } from './layout';

const DIM = 128;
const layout = buildCopyLayout({
  fields: [fieldOf('id', 'Int64', { isPrimary: true }), fieldOf('v', 'FloatVector', { dim: DIM })],
  storage: { vectorType: 'array', halfvec: false },
  dynamicField: false,
});

function vectors(rows: number, firstRow: number, file = 'g.parquet'): RowBatch {
  const ids = BigInt64Array.from({ length: rows }, (_, i) => BigInt(firstRow + i));
  const values = Float32Array.from({ length: rows * DIM }, (_, k) => Math.fround(Math.sin(firstRow * DIM + k)));
  return {
    file,
    firstRow,
    rowCount: rows,
    columns: new Map([
      ['id', { kind: 'int64', values: ids, valid: null }],
      ['v', { kind: 'floatVector', dim: DIM, values }],
    ]),
    meta: null,
  };
}

async function* from<T>(items: T[]): AsyncGenerator<T> {
  for (const x of items) yield x;
}

const bytesOf = (chunks: readonly EncodedChunk[]) => Buffer.concat(chunks.flatMap((c) => c.parts));

describe('encodeBatches', () => {
  it('splits large batches into ~4 MiB chunks with exact row numbers, the same bytes as whole batches', async () => {
    // ~1.1 KB per row: 20,000 rows are ~21 MB of COPY data in one batch.
    const batches = [vectors(20_000, 1), vectors(3, 20_001), vectors(9_000, 20_004)];
    const chunks: EncodedChunk[] = [];
    for await (const c of encodeBatches(layout, from(batches))) chunks.push(c);

    const whole = batches.map((b) => encodeBatch(layout, b, new ChunkWriter(1 << 20)));
    expect(bytesOf(chunks).equals(bytesOf(whole))).toBe(true);
    expect(chunks[0]!.rowCount).toBe(64); // the first rows go before the bytes per row are known
    expect(chunks.length).toBeGreaterThan(6);
    for (const c of chunks.slice(1)) expect(c.byteLength).toBeLessThan(4.5 * 2 ** 20);
    // Rows are numbered on, batch by batch; only a batch's last chunk ends it.
    let next = 1;
    let rows = 0;
    const ends: number[] = [];
    for (const c of chunks) {
      expect(c.firstRow).toBe(next);
      next += c.rowCount;
      rows += c.rowCount;
      if (c.endsBatch !== false) ends.push(rows);
    }
    expect(ends).toEqual([20_000, 20_003, 29_003]);
  });
});
