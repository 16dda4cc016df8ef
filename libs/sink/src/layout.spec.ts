import { describe, expect, it } from 'vitest';
import { fieldOf, type Column, type RowBatch } from '@gw/schema';
import { buildCopyLayout, encodeBinaryCopy } from './index';

const f = fieldOf;

const batch = (columns: [string, Column][], rowCount = 1): RowBatch => ({
  file: 'f',
  firstRow: 1,
  rowCount,
  columns: new Map(columns),
  meta: null,
});

const HEADER = Buffer.from('5047434f50590aff0d0a00' + '00000000' + '00000000', 'hex');

/** The tuple bytes of a one-row COPY: header, int16 field count and trailer checked and stripped. */
function tuple(payload: Buffer, ncols: number): Buffer {
  expect(payload.subarray(0, 19)).toEqual(HEADER);
  expect(payload.readInt16BE(19)).toBe(ncols);
  expect(payload.subarray(payload.length - 2)).toEqual(Buffer.from([0xff, 0xff]));
  return payload.subarray(21, payload.length - 2);
}

describe('pgvector binary formats', () => {
  it('encodes vector(dim) as vector_recv reads it: int16 dim, int16 0, big-endian float4s', () => {
    const layout = buildCopyLayout({
      fields: [f('v', 'FloatVector', { dim: 3 })],
      storage: { vectorType: 'pgvector', halfvec: true },
      dynamicField: false,
    });
    expect(layout.columns[0]!.sqlType).toBe('vector(3)');
    const values = Float32Array.of(9, 9, 9, 1.5, -2, 0.1);
    const t = tuple(encodeBinaryCopy(layout, [batch([['v', { kind: 'floatVector', dim: 3, values }]], 2)]), 1);
    // Row 0 then the second tuple; look at row 1 (floats 1.5, -2, 0.1) after row 0's 4+16 bytes and int16 count.
    const row1 = t.subarray(4 + 16 + 2);
    const want = Buffer.alloc(4 + 16);
    want.writeInt32BE(16, 0);
    want.writeUInt16BE(3, 4);
    want.writeUInt16BE(0, 6);
    want.writeFloatBE(1.5, 8);
    want.writeFloatBE(-2, 12);
    want.writeFloatBE(0.1, 16);
    expect(row1).toEqual(want);
  });

  it('encodes halfvec(dim) as halfvec_recv reads it, swapping our little-endian halves to big-endian', () => {
    const layout = buildCopyLayout({
      fields: [f('h', 'Float16Vector', { dim: 2 })],
      storage: { vectorType: 'pgvector', halfvec: true },
      dynamicField: false,
    });
    expect(layout.columns[0]!.sqlType).toBe('halfvec(2)');
    const le = Uint8Array.of(0x00, 0x3c, 0x01, 0xc0); // 1.0 (0x3c00), -2.002 (0xc001)
    const t = tuple(encodeBinaryCopy(layout, [batch([['h', { kind: 'bytes', width: 4, values: le }]])]), 1);
    expect(t).toEqual(Buffer.from([0, 0, 0, 8, 0, 2, 0, 0, 0x3c, 0x00, 0xc0, 0x01]));
  });

  it('keeps Float16Vector as raw little-endian bytea when halfvec is unavailable', () => {
    const layout = buildCopyLayout({
      fields: [f('h', 'Float16Vector', { dim: 2 })],
      storage: { vectorType: 'pgvector', halfvec: false },
      dynamicField: false,
    });
    expect(layout.columns[0]!.sqlType).toBe('bytea');
    const le = Uint8Array.of(0x00, 0x3c, 0x01, 0xc0);
    const t = tuple(encodeBinaryCopy(layout, [batch([['h', { kind: 'bytes', width: 4, values: le }]])]), 1);
    expect(t).toEqual(Buffer.from([0, 0, 0, 4, 0x00, 0x3c, 0x01, 0xc0]));
  });
});

describe('plain PostgreSQL binary formats', () => {
  it('encodes bit(n) as int32 bit length then the bytes, and real[] as a one-dimensional float4 array', () => {
    const layout = buildCopyLayout({
      fields: [f('b', 'BinaryVector', { dim: 16 }), f('v', 'FloatVector', { dim: 1 })],
      storage: { vectorType: 'array', halfvec: false },
      dynamicField: false,
    });
    const t = tuple(
      encodeBinaryCopy(layout, [
        batch([
          ['b', { kind: 'bytes', width: 2, values: Uint8Array.of(0xa0, 0x01) }],
          ['v', { kind: 'floatVector', dim: 1, values: Float32Array.of(2) }],
        ]),
      ]),
      2,
    );
    expect(t.toString('hex')).toBe(
      '00000006' +
        '00000010' +
        'a001' +
        '0000001c' +
        '00000001' +
        '00000000' +
        '000002bc' +
        '00000001' +
        '00000001' +
        '00000004' +
        '40000000',
    );
  });

  it('encodes an empty array with zero dimensions and a NULL as length -1', () => {
    const layout = buildCopyLayout({
      fields: [f('a', 'Array', { elementType: 'Int32', maxCapacity: 2, nullable: true })],
      storage: { vectorType: 'array', halfvec: false },
      dynamicField: false,
    });
    const payload = encodeBinaryCopy(layout, [batch([['a', { kind: 'array', values: [[], null] }]], 2)]);
    const t = tuple(payload, 1);
    expect(t.toString('hex')).toBe('0000000c' + '00000000' + '00000000' + '00000017' + '0001' + 'ffffffff');
  });

  it('refuses a smallint value out of range instead of wrapping it', () => {
    const layout = buildCopyLayout({
      fields: [f('i', 'Int16')],
      storage: { vectorType: 'array', halfvec: false },
      dynamicField: false,
    });
    expect(() =>
      encodeBinaryCopy(layout, [batch([['i', { kind: 'int32', values: Int32Array.of(40_000), valid: null }]])]),
    ).toThrow(/field 'i': 40000 does not fit smallint/);
  });

  it('refuses array elements beyond integer or bigint instead of wrapping them', () => {
    const layout = (t: 'Int32' | 'Int64') =>
      buildCopyLayout({
        fields: [f('a', 'Array', { elementType: t, maxCapacity: 2 })],
        storage: { vectorType: 'array', halfvec: false },
        dynamicField: false,
      });
    expect(() => encodeBinaryCopy(layout('Int32'), [batch([['a', { kind: 'array', values: [[2 ** 31]] }]])])).toThrow(
      /does not fit integer/,
    );
    expect(() => encodeBinaryCopy(layout('Int64'), [batch([['a', { kind: 'array', values: [[2n ** 63n]] }]])])).toThrow(
      /does not fit bigint/,
    );
  });
});
