import { describe, expect, it } from 'vitest';
import { CollectionsError, CollectionsErrorCode } from './collections.errors';
import { parseCreateCollection } from './create-request';

const V = { fieldName: 'v', dataType: 'FloatVector', elementTypeParams: { dim: 4 } };
const PK = { fieldName: 'id', dataType: 'Int64', isPrimary: true };

function fail(body: unknown): { code: CollectionsErrorCode; message: string } {
  try {
    parseCreateCollection(body);
  } catch (e) {
    if (e instanceof CollectionsError) return { code: e.code, message: e.message };
    throw e;
  }
  throw new Error('expected an error');
}

const schemaBody = (fields: unknown[], extra: Record<string, unknown> = {}) => ({
  collectionName: 'c',
  schema: { fields, ...extra },
});

describe('parseCreateCollection', () => {
  it('accepts both autoID spellings and both dynamic-field spellings', () => {
    const a = parseCreateCollection(schemaBody([PK, V], { autoId: true, enabledDynamicField: true }));
    expect(a.schema.fields[0]!.autoId).toBe(true);
    expect(a.schema.enableDynamicField).toBe(true);
    const b = parseCreateCollection({ collectionName: 'c', dimension: 2, autoID: 'true' });
    expect(b.schema.fields[0]!.autoId).toBe(true);
  });

  it('ignores quick-form fields when schema.fields is given', () => {
    const s = parseCreateCollection({ ...schemaBody([PK, V]), dimension: 9, primaryFieldName: 'other' });
    expect(s.schema.fields.map((f) => f.name)).toEqual(['id', 'v']);
    expect(s.schema.enableDynamicField).toBe(false);
  });

  it('reads elementTypeParams given as numbers or decimal strings', () => {
    const s = parseCreateCollection(
      schemaBody([
        PK,
        { ...V, elementTypeParams: { dim: '8' } },
        { fieldName: 's', dataType: 'VarChar', elementTypeParams: { max_length: '10' } },
      ]),
    );
    expect(s.schema.fields[1]!.dim).toBe(8);
    expect(s.schema.fields[2]!.maxLength).toBe(10);
  });

  const invalid: [string, unknown][] = [
    ['no primary field', schemaBody([V])],
    ['two primary fields', schemaBody([PK, { ...PK, fieldName: 'id2' }, V])],
    ['no vector field', schemaBody([PK])],
    [
      'autoId on a VarChar key',
      schemaBody([{ ...PK, dataType: 'VarChar', elementTypeParams: { max_length: 4 } }, V], { autoID: true }),
    ],
    ['nullable primary', schemaBody([{ ...PK, nullable: true }, V])],
    ['nullable vector', schemaBody([PK, { ...V, nullable: true }])],
    ['default on primary', schemaBody([{ ...PK, defaultValue: 1 }, V])],
    ['default on JSON', schemaBody([PK, V, { fieldName: 'j', dataType: 'JSON', defaultValue: '{}' }])],
    ['default of the wrong type', schemaBody([PK, V, { fieldName: 'n', dataType: 'Int8', defaultValue: 300 }])],
    ['dim 0', schemaBody([PK, { ...V, elementTypeParams: { dim: 0 } }])],
    ['dim 32769', schemaBody([PK, { ...V, elementTypeParams: { dim: 32769 } }])],
    [
      'binary dim not a multiple of 8',
      schemaBody([PK, { fieldName: 'b', dataType: 'BinaryVector', elementTypeParams: { dim: 12 } }]),
    ],
    ['VarChar without max_length', schemaBody([PK, V, { fieldName: 's', dataType: 'VarChar' }])],
    [
      'max_length 65536',
      schemaBody([PK, V, { fieldName: 's', dataType: 'VarChar', elementTypeParams: { max_length: 65536 } }]),
    ],
    [
      'Array of arrays',
      schemaBody([
        PK,
        V,
        { fieldName: 'a', dataType: 'Array', elementDataType: 'Array', elementTypeParams: { max_capacity: 2 } },
      ]),
    ],
    [
      'Array capacity 4097',
      schemaBody([
        PK,
        V,
        { fieldName: 'a', dataType: 'Array', elementDataType: 'Int8', elementTypeParams: { max_capacity: 4097 } },
      ]),
    ],
    ['Int8Vector', schemaBody([PK, V, { fieldName: 'x', dataType: 'Int8Vector', elementTypeParams: { dim: 2 } }])],
    ['duplicated field', schemaBody([PK, V, V])],
    [
      '65 fields',
      schemaBody([PK, V, ...Array.from({ length: 63 }, (_, i) => ({ fieldName: `f${i}`, dataType: 'Bool' }))]),
    ],
    [
      'index on an unknown field',
      { collectionName: 'c', dimension: 2, indexParams: [{ fieldName: 'nope', metricType: 'L2' }] },
    ],
  ];
  it.each(invalid)('refuses %s with 1100', (_what, body) => {
    expect(fail(body).code).toBe(CollectionsErrorCode.InvalidParameter);
  });

  it('accepts exactly 64 fields', () => {
    const fields = [PK, V, ...Array.from({ length: 62 }, (_, i) => ({ fieldName: `f${i}`, dataType: 'Bool' }))];
    expect(parseCreateCollection(schemaBody(fields)).schema.fields).toHaveLength(64);
  });

  it('names unsupported data types as the spec words it', () => {
    expect(fail(schemaBody([PK, V, { fieldName: 't', dataType: 'Geometry' }])).message).toBe(
      'invalid parameter: data type Geometry is not supported',
    );
  });

  it('keeps Int64 defaults exact as decimal strings', () => {
    const s = parseCreateCollection(
      schemaBody([PK, V, { fieldName: 'n', dataType: 'Int64', defaultValue: 9007199254740993n }]),
    );
    expect(s.schema.fields[2]!.defaultValue).toBe('9007199254740993');
  });

  it('reports missing collectionName as 1802', () => {
    expect(fail({ dimension: 2 })).toEqual({
      code: CollectionsErrorCode.MissingParameter,
      message: 'missing required parameters: collectionName',
    });
  });
});
