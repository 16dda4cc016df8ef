import { describe, expect, it } from 'vitest';
import { fieldOf, type CollectionSchema } from '@gw/schema';
import { byteInputFromBuffer } from './byte-input';
import { readNpyHeader } from './numpy-reader';
import type { RejectedRow } from './reader';
import { columnValues, failure, readAll } from './spec-helpers';

/** A .npy v1.0 file built the way numpy lays it out (header padded to 64 bytes). */
function npy(descr: string, shape: number[], data: Uint8Array, fortran = false): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const header = dict.padEnd(total - 10 - 1, ' ') + '\n';
  const pre = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, header.length & 0xff, header.length >> 8]);
  return Buffer.concat([pre, Buffer.from(header, 'latin1'), data]);
}

const schema: CollectionSchema = {
  enableDynamicField: false,
  fields: [fieldOf('id', 'Int64', { isPrimary: true }), fieldOf('vec', 'FloatVector', { dim: 2 })],
};

describe('NumPy reader', () => {
  it('error_mode=continue: reads row by row and skips a refused row, naming the member file and row', async () => {
    const ids = Buffer.alloc(24);
    [1n, 2n, 3n].forEach((v, k) => ids.writeBigInt64LE(v, 8 * k));
    const vec = Buffer.from(new Float32Array([1, 2, NaN, 4, 5, 6]).buffer);
    const rejected: RejectedRow[] = [];
    const batches = await readAll(
      'numpy',
      [
        byteInputFromBuffer('d/id.npy', npy('<i8', [3], ids)),
        byteInputFromBuffer('d/vec.npy', npy('<f4', [3, 2], vec)),
      ],
      schema,
      { batchRows: 2, onRejectedRow: (r) => rejected.push(r) },
    );
    expect(columnValues(batches, 'id')).toEqual([1n, 3n]);
    expect(rejected.map((r) => [r.file, r.row, r.field])).toEqual([['d/vec.npy', 2, 'vec']]);
    expect(rejected[0]!.raw).toBe('[NaN,4]');
  });

  it('parses a v1.0 header and computes the data offset', async () => {
    const h = await readNpyHeader(byteInputFromBuffer('x.npy', npy('<f4', [3, 2], new Uint8Array(24))));
    expect(h).toMatchObject({
      kind: 'f',
      itemSize: 4,
      littleEndian: true,
      shape: [3, 2],
      dataOffset: 128,
      rowBytes: 8,
    });
  });

  it('reads big-endian int64 beyond 2^53 and float32 vectors in step, batch by batch', async () => {
    const ids = Buffer.alloc(24);
    [9007199254740993n, -1n, 5n].forEach((v, k) => ids.writeBigInt64BE(v, 8 * k));
    const vec = Buffer.from(new Float32Array([1, 2, 3, 4, 5, 6]).buffer);
    const batches = await readAll(
      'numpy',
      [
        byteInputFromBuffer('d/id.npy', npy('>i8', [3], ids)),
        byteInputFromBuffer('d/vec.npy', npy('<f4', [3, 2], vec)),
      ],
      schema,
      { batchRows: 2 },
    );
    expect(batches.map((b) => b.rowCount)).toEqual([2, 1]);
    expect(columnValues(batches, 'id')).toEqual([9007199254740993n, -1n, 5n]);
    expect(columnValues(batches, 'vec')).toEqual([
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
  });

  it('copies little-endian columns block by block with exact values across batch and block bounds, as the row path reads them', async () => {
    const n = 23;
    const ids = new BigInt64Array(Array.from({ length: n }, (_, k) => BigInt(k) * 4_000_000_000n - 7n));
    const vec = new Float32Array(Array.from({ length: 2 * n }, (_, k) => Math.fround(k / 3 - 5)));
    const wide: CollectionSchema = {
      enableDynamicField: false,
      fields: [
        ...schema.fields,
        fieldOf('score', 'Double', {}),
        fieldOf('rank', 'Int32', { nullable: true }),
        fieldOf('bits', 'BinaryVector', { dim: 16 }),
        fieldOf('name', 'VarChar', { maxLength: 64 }),
      ],
    };
    // Strings go row by row next to the copied columns; some long enough to end batches early.
    const names = Array.from({ length: n }, (_, k) => (k % 5 === 0 ? 'x'.repeat(40) : `n${k}`));
    const utf32 = (le: boolean) => {
      const out = Buffer.alloc(n * 40 * 4);
      // ASCII names: one code unit per code point.
      names.forEach((t, r) => {
        for (let c = 0; c < t.length; c++) {
          if (le) out.writeUInt32LE(t.charCodeAt(c), (r * 40 + c) * 4);
          else out.writeUInt32BE(t.charCodeAt(c), (r * 40 + c) * 4);
        }
      });
      return out;
    };
    const score = new Float64Array(Array.from({ length: n }, (_, k) => k * 1.5));
    const rank = new Int32Array(Array.from({ length: n }, (_, k) => -k));
    const bits = new Uint8Array(Array.from({ length: 2 * n }, (_, k) => k % 256));
    const files = (le: boolean) => {
      const swap = (b: Uint8Array, size: number) => {
        const out = Buffer.from(b);
        if (!le) for (let k = 0; k < out.length; k += size) out.subarray(k, k + size).reverse();
        return out;
      };
      const e = le ? '<' : '>';
      return [
        byteInputFromBuffer('g/id.npy', npy(`${e}i8`, [n], swap(new Uint8Array(ids.buffer), 8))),
        byteInputFromBuffer('g/vec.npy', npy(`${e}f4`, [n, 2], swap(new Uint8Array(vec.buffer), 4))),
        byteInputFromBuffer('g/score.npy', npy(`${e}f8`, [n], swap(new Uint8Array(score.buffer), 8))),
        byteInputFromBuffer('g/rank.npy', npy(`${e}i4`, [n], swap(new Uint8Array(rank.buffer), 4))),
        byteInputFromBuffer('g/bits.npy', npy('|u1', [n, 2], bits)),
        byteInputFromBuffer('g/name.npy', npy(`${e}U40`, [n], utf32(le))),
      ];
    };
    // 10-row batches over 7-row blocks (byte bound): batches and blocks end at different rows.
    const opts = { batchRows: 10, batchBytes: 7 * (8 + 8 + 8 + 4 + 2) };
    const fast = await readAll('numpy', files(true), wide, opts);
    const slow = await readAll('numpy', files(false), wide, opts); // big-endian: row by row
    // With the dynamic field every row goes through addRow, the general path.
    const general = await readAll('numpy', files(true), { ...wide, enableDynamicField: true }, opts);
    expect(fast.map((b) => [b.firstRow, b.rowCount])).toEqual(slow.map((b) => [b.firstRow, b.rowCount]));
    expect(fast.length).toBeGreaterThan(Math.ceil(n / 10)); // string bytes ended some batches early
    for (const name of ['id', 'vec', 'score', 'rank', 'bits', 'name']) {
      expect(columnValues(fast, name), name).toEqual(columnValues(slow, name));
      expect(columnValues(fast, name), name).toEqual(columnValues(general, name));
    }
    expect(columnValues(fast, 'id')).toEqual([...ids]);
    expect(columnValues(fast, 'rank')).toEqual([...rank]);
    expect(columnValues(fast, 'name')).toEqual(names);
  });

  it("a non-finite value copied in a block fails with the row path's message, naming the file and row", async () => {
    const n = 9;
    const ids = new BigInt64Array(Array.from({ length: n }, (_, k) => BigInt(k)));
    const vec = new Float32Array(2 * n).fill(0.5);
    vec[2 * 6 + 1] = Number.NaN; // row 7
    const read = (e: string) =>
      failure(
        readAll(
          'numpy',
          [
            byteInputFromBuffer(
              'g/id.npy',
              npy(`${e}i8`, [n], e === '<' ? new Uint8Array(ids.buffer) : swapEach(ids, 8)),
            ),
            byteInputFromBuffer(
              'g/vec.npy',
              npy(`${e}f4`, [n, 2], e === '<' ? new Uint8Array(vec.buffer) : swapEach(vec, 4)),
            ),
          ],
          schema,
          { batchRows: 4 },
        ),
      );
    const fast = await read('<');
    const slow = await read('>');
    expect(fast.message).toBe(slow.message);
    expect(fast.message).toMatch(/^g\/vec\.npy: row 7, field 'vec': element 1 is not finite$/);
  });

  it('refuses a vector file whose width is not the dimension, before reading rows', async () => {
    const e = await failure(
      readAll(
        'numpy',
        [
          byteInputFromBuffer('id.npy', npy('<i8', [1], new Uint8Array(8))),
          byteInputFromBuffer('vec.npy', npy('<f4', [1, 3], new Uint8Array(12))),
        ],
        schema,
      ),
    );
    expect(e.message).toBe("vec.npy: field 'vec': expected 2 values, got 3");
  });

  it('refuses a collection with a sparse vector field', async () => {
    const s: CollectionSchema = { enableDynamicField: false, fields: [fieldOf('sp', 'SparseFloatVector')] };
    const e = await failure(readAll('numpy', [byteInputFromBuffer('sp.npy', npy('<f4', [1], new Uint8Array(4)))], s));
    expect(e.message).toBe("sp.npy: numpy import does not support field type SparseFloatVector (field 'sp')");
  });

  it('stores $meta.npy and unknown files in the dynamic field, or skips unknown files when told to', async () => {
    const ids = Buffer.alloc(8);
    const metaText = '{"a":1}'.padEnd(8, '\0');
    const meta = Buffer.alloc(32);
    for (let k = 0; k < metaText.length; k++) meta.writeUInt32LE(metaText.charCodeAt(k), 4 * k);
    const vec = Buffer.from(new Float32Array([1, 2]).buffer);
    const tag = Buffer.from(new Int32Array([7]).buffer);
    const files = (): ReturnType<typeof byteInputFromBuffer>[] => [
      byteInputFromBuffer('id.npy', npy('<i8', [1], ids)),
      byteInputFromBuffer('vec.npy', npy('<f4', [1, 2], vec)),
      byteInputFromBuffer('$meta.npy', npy('<U8', [1], meta)),
      byteInputFromBuffer('tag.npy', npy('<i4', [1], tag)),
    ];
    const dynamic = await readAll('numpy', files(), { ...schema, enableDynamicField: true });
    expect(dynamic[0]!.meta).toEqual(['{"a":1,"tag":7}']);
    const skipped = await readAll(
      'numpy',
      files().filter((f) => f.name !== '$meta.npy'),
      schema,
      { ignoreUnknownFields: true },
    );
    expect(columnValues(skipped, 'id')).toEqual([0n]);
    const e = await failure(
      readAll(
        'numpy',
        files().filter((f) => f.name !== '$meta.npy'),
        schema,
      ),
    );
    expect(e.message).toBe("tag.npy: field 'tag': field 'tag' is not defined in the schema");
  });

  it('refuses a pickled object array without unpickling it', async () => {
    const e = await failure(
      readAll(
        'numpy',
        [
          byteInputFromBuffer('id.npy', npy('|O', [1], new Uint8Array(8))),
          byteInputFromBuffer('vec.npy', npy('<f4', [1, 2], new Uint8Array(8))),
        ],
        schema,
      ),
    );
    expect(e.message).toBe(
      "id.npy: pickled object arrays are not supported; save strings with a fixed-width unicode dtype ('<U')",
    );
  });
});

function swapEach(a: BigInt64Array | Float32Array, size: number): Uint8Array {
  const out = Buffer.from(new Uint8Array(a.buffer));
  for (let k = 0; k < out.length; k += size) out.subarray(k, k + size).reverse();
  return out;
}
