import { describe, expect, it } from 'vitest';
import { fieldOf } from './field-of';
import { JsonDecimal } from './json';
import { fromFloat16Bits } from './half';
import { RowBatchBuilder, rowsToBatch } from './row-batch-builder';
import { SchemaError, SchemaErrorCode } from './schema.errors';
import type { CollectionSchema, Column } from './types';

const schema: CollectionSchema = {
  enableDynamicField: false,
  fields: [
    fieldOf('id', 'Int64', { isPrimary: true }),
    fieldOf('title', 'VarChar', { maxLength: 8 }),
    fieldOf('vec', 'FloatVector', { dim: 3 }),
  ],
};

function rejection(fn: () => unknown): SchemaError {
  try {
    fn();
  } catch (e) {
    if (e instanceof SchemaError) return e;
    throw e;
  }
  throw new Error('expected a SchemaError');
}

function col<K extends Column['kind']>(c: Column | undefined, kind: K): Extract<Column, { kind: K }> {
  expect(c?.kind).toBe(kind);
  return c as Extract<Column, { kind: K }>;
}

describe('RowBatchBuilder', () => {
  it('builds typed columns from row objects', () => {
    const b = new RowBatchBuilder(schema, 4);
    b.addRow({ id: 1, title: 'a', vec: [0.5, 1, -2] });
    b.addRow({ id: '9223372036854775807', title: 'bé', vec: [0, 0, 0.1] });
    const batch = b.flush('f.json', 1);
    expect(batch.rowCount).toBe(2);
    expect(Array.from(col(batch.columns.get('id'), 'int64').values)).toEqual([1n, 9223372036854775807n]);
    expect(col(batch.columns.get('title'), 'text').values).toEqual(['a', 'bé']);
    const vec = col(batch.columns.get('vec'), 'floatVector');
    expect(vec.dim).toBe(3);
    expect(Array.from(vec.values)).toEqual([0.5, 1, -2, 0, 0, Math.fround(0.1)]);
    expect(batch.meta).toBeNull();
  });

  it('keeps int64 beyond 2^53 exact when it arrives as bigint or decimal string', () => {
    const batch = rowsToBatch(schema, [
      { id: 9007199254740993n, title: 'a', vec: [1, 2, 3] },
      { id: '-9007199254740993', title: 'a', vec: [1, 2, 3] },
    ]);
    expect(Array.from(col(batch.columns.get('id'), 'int64').values)).toEqual([9007199254740993n, -9007199254740993n]);
  });

  it('refuses a vector with the wrong dimension naming the field', () => {
    const e = rejection(() =>
      rowsToBatch(schema, [
        { id: 1, title: 'a', vec: [1, 2, 3] },
        { id: 2, title: 'a', vec: [1, 2] },
      ]),
    );
    expect(e.code).toBe(SchemaErrorCode.Dimension);
    expect(e.message).toBe("row 2, field 'vec': expected 3 values, got 2");
  });

  it('counts VarChar max_length in UTF-8 bytes', () => {
    const e = rejection(() => rowsToBatch(schema, [{ id: 1, title: 'ééééé', vec: [1, 2, 3] }]));
    expect(e.message).toBe("row 1, field 'title': length 10 exceeds max_length 8");
    expect(() => rowsToBatch(schema, [{ id: 1, title: 'éééé', vec: [1, 2, 3] }])).not.toThrow();
  });

  it('refuses a missing non-nullable field and an explicit null', () => {
    expect(rejection(() => rowsToBatch(schema, [{ id: 1, vec: [1, 2, 3] }])).message).toBe(
      "row 1, field 'title': value of field 'title' is missed",
    );
    expect(rejection(() => rowsToBatch(schema, [{ id: 1, title: null, vec: [1, 2, 3] }])).message).toBe(
      "row 1, field 'title': field 'title' cannot be null",
    );
  });

  it('refuses unknown keys without a dynamic field unless told to ignore them', () => {
    const row = { id: 1, title: 'a', vec: [1, 2, 3], extra: 5 };
    const e = rejection(() => rowsToBatch(schema, [row]));
    expect(e.code).toBe(SchemaErrorCode.UnknownField);
    expect(e.message).toBe("row 1, field 'extra': field 'extra' is not defined in the schema");
    expect(rowsToBatch(schema, [row], { ignoreUnknownFields: true }).rowCount).toBe(1);
  });

  it('refuses an auto-generated primary key in the input and gives it no column', () => {
    const auto: CollectionSchema = {
      enableDynamicField: false,
      fields: [fieldOf('id', 'Int64', { isPrimary: true, autoId: true }), fieldOf('x', 'Int8')],
    };
    expect(rejection(() => rowsToBatch(auto, [{ id: 1, x: 1 }])).message).toBe(
      "row 1, field 'id': the primary key 'id' is auto-generated, no need to provide",
    );
    const batch = rowsToBatch(auto, [{ x: 1 }]);
    expect([...batch.columns.keys()]).toEqual(['x']);
  });

  it('applies defaults for missing and null values, NULL for nullable fields', () => {
    const s: CollectionSchema = {
      enableDynamicField: false,
      fields: [
        fieldOf('id', 'Int64', { isPrimary: true }),
        fieldOf('n', 'Int32', { defaultValue: 7 }),
        fieldOf('big', 'Int64', { defaultValue: '9007199254740993' }),
        fieldOf('opt', 'Double', { nullable: true }),
        fieldOf('s', 'VarChar', { nullable: true, maxLength: 10 }),
      ],
    };
    const batch = rowsToBatch(s, [
      { id: 1, n: null },
      { id: 2, n: 3, opt: 1.5, s: 'x' },
    ]);
    expect(Array.from(col(batch.columns.get('n'), 'int32').values)).toEqual([7, 3]);
    expect(Array.from(col(batch.columns.get('big'), 'int64').values)).toEqual([9007199254740993n, 9007199254740993n]);
    const opt = col(batch.columns.get('opt'), 'float64');
    expect(Array.from(opt.valid ?? [])).toEqual([0, 1]);
    expect(col(batch.columns.get('s'), 'text').values).toEqual([null, 'x']);
    expect(col(batch.columns.get('n'), 'int32').valid).toBeNull();
  });

  it('refuses integers with a fraction, out of range or given as strings for Int32', () => {
    const s: CollectionSchema = { enableDynamicField: false, fields: [fieldOf('i', 'Int8'), fieldOf('j', 'Int32')] };
    expect(rejection(() => rowsToBatch(s, [{ i: new JsonDecimal('1.0', 1), j: 1 }])).message).toBe(
      "row 1, field 'i': expected Int8, got 1.0",
    );
    expect(rejection(() => rowsToBatch(s, [{ i: 128, j: 1 }])).message).toBe(
      "row 1, field 'i': value 128 out of range for Int8",
    );
    expect(rejection(() => rowsToBatch(s, [{ i: 1, j: '1' }])).code).toBe(SchemaErrorCode.TypeMismatch);
  });

  it('stores unknown keys and an explicit $meta in the dynamic field, refusing a key in both', () => {
    const s: CollectionSchema = { enableDynamicField: true, fields: [fieldOf('id', 'Int64', { isPrimary: true })] };
    const batch = rowsToBatch(s, [{ id: 1, a: 1 }, { id: 2, $meta: '{"b":[1,2]}', c: 'x' }, { id: 3 }]);
    expect(batch.meta).toEqual(['{"a":1}', '{"b":[1,2],"c":"x"}', '{}']);
    expect(rejection(() => rowsToBatch(s, [{ id: 1, $meta: { a: 1 }, a: 2 }])).message).toBe(
      "row 1, field '$meta': duplicated key in dynamic field: a",
    );
    expect(rejection(() => rowsToBatch(s, [{ id: 1, $meta: '[1]' }])).code).toBe(SchemaErrorCode.InvalidMeta);
  });

  it('accepts binary and half vectors as numbers, base64 or raw bytes', () => {
    const s: CollectionSchema = {
      enableDynamicField: false,
      fields: [
        fieldOf('b', 'BinaryVector', { dim: 16 }),
        fieldOf('h', 'Float16Vector', { dim: 2 }),
        fieldOf('bf', 'BFloat16Vector', { dim: 2 }),
      ],
    };
    const batch = rowsToBatch(s, [
      { b: [1, 255], h: [1.5, -2], bf: [1, 0.5] },
      { b: Buffer.from([3, 4]).toString('base64'), h: 'AD4AwA==', bf: new Uint8Array([0x80, 0x3f, 0, 0x3f]) },
    ]);
    expect(Array.from(col(batch.columns.get('b'), 'bytes').values)).toEqual([1, 255, 3, 4]);
    const h = col(batch.columns.get('h'), 'bytes').values;
    const halves = new Uint16Array(h.buffer.slice(h.byteOffset, h.byteOffset + h.byteLength));
    expect(Array.from(halves).map(fromFloat16Bits)).toEqual([1.5, -2, 1.5, -2]);
    expect(Array.from(col(batch.columns.get('bf'), 'bytes').values)).toEqual([
      0x80, 0x3f, 0, 0x3f, 0x80, 0x3f, 0, 0x3f,
    ]);
    expect(rejection(() => rowsToBatch(s, [{ b: [1], h: [1, 2], bf: [1, 2] }])).message).toBe(
      "row 1, field 'b': expected 2 bytes, got 1",
    );
  });

  it('canonicalises sparse vectors and refuses repeated or negative indices', () => {
    const s: CollectionSchema = { enableDynamicField: false, fields: [fieldOf('sp', 'SparseFloatVector')] };
    const batch = rowsToBatch(s, [{ sp: { '10': 0.5, '2': 1 } }, { sp: '{"indices":[3,1],"values":[0.25,2]}' }]);
    expect(col(batch.columns.get('sp'), 'text').values).toEqual(['{"2":1,"10":0.5}', '{"1":2,"3":0.25}']);
    expect(rejection(() => rowsToBatch(s, [{ sp: { indices: [1, 1], values: [1, 2] } }])).message).toBe(
      "row 1, field 'sp': invalid sparse vector: index 1 is repeated",
    );
    expect(rejection(() => rowsToBatch(s, [{ sp: { indices: [-1], values: [1] } }])).code).toBe(
      SchemaErrorCode.InvalidSparse,
    );
  });

  it('checks Array capacity and element types, and JSON size', () => {
    const s: CollectionSchema = {
      enableDynamicField: false,
      fields: [fieldOf('a', 'Array', { elementType: 'Int64', maxCapacity: 2 }), fieldOf('j', 'JSON')],
    };
    const ok = rowsToBatch(s, [{ a: [1, '2'], j: '{"k":[1,2]}' }]);
    expect(col(ok.columns.get('a'), 'array').values).toEqual([[1n, 2n]]);
    expect(col(ok.columns.get('j'), 'text').values).toEqual(['{"k":[1,2]}']);
    expect(rejection(() => rowsToBatch(s, [{ a: [1, 2, 3], j: 1 }])).message).toBe(
      "row 1, field 'a': 3 elements exceed max_capacity 2",
    );
    expect(rejection(() => rowsToBatch(s, [{ a: [true], j: 1 }])).message).toBe(
      "row 1, field 'a': element 0: expected Int64, got true",
    );
    expect(rejection(() => rowsToBatch(s, [{ a: [], j: { s: 'x'.repeat(70_000) } }])).code).toBe(
      SchemaErrorCode.JsonTooLarge,
    );
  });

  it('refuses non-finite floats and floats beyond float32 range for Float', () => {
    const s: CollectionSchema = {
      enableDynamicField: false,
      fields: [fieldOf('f', 'Float'), fieldOf('v', 'FloatVector', { dim: 1 })],
    };
    expect(rejection(() => rowsToBatch(s, [{ f: NaN, v: [1] }])).code).toBe(SchemaErrorCode.NotFinite);
    expect(rejection(() => rowsToBatch(s, [{ f: 1e39, v: [1] }])).code).toBe(SchemaErrorCode.OutOfRange);
    expect(rejection(() => rowsToBatch(s, [{ f: 1, v: [null] }])).message).toBe(
      "row 1, field 'v': null element at index 0",
    );
  });

  it('flushes full batches and starts fresh columns', () => {
    const b = new RowBatchBuilder(schema, 2);
    b.addRow({ id: 1, title: 'a', vec: [1, 2, 3] });
    b.addRow({ id: 2, title: 'b', vec: [1, 2, 3] });
    expect(b.isFull).toBe(true);
    const first = b.flush('f', 1);
    b.addRow({ id: 3, title: 'c', vec: [4, 5, 6] });
    const second = b.flush('f', 3);
    expect(first.rowCount).toBe(2);
    expect(second.firstRow).toBe(3);
    expect(Array.from(col(second.columns.get('id'), 'int64').values)).toEqual([3n]);
    expect(Array.from(col(first.columns.get('id'), 'int64').values)).toEqual([1n, 2n]);
  });
});
