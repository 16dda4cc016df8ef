import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CollectionsError,
  COLLECTIONS_TO_MILVUS,
  createCollection,
  createDatabase,
  describeCollection,
  getCollection,
  insertEntities,
  queryEntities,
  serializeJson,
  type CollectionDef,
} from '@gw/collections';
import { batchOf, makeContext, newDbName } from './helpers';

const ctx = makeContext();
let db: string;
let def: CollectionDef;
const table = (): string => `"milvus_${db}"."all_types"`;

const ALL_TYPES = {
  collectionName: 'all_types',
  schema: {
    enableDynamicField: true,
    fields: [
      { fieldName: 'id', dataType: 'Int64', isPrimary: true },
      { fieldName: 'b', dataType: 'Bool' },
      { fieldName: 'i8', dataType: 'Int8' },
      { fieldName: 'i16', dataType: 'Int16' },
      { fieldName: 'i32', dataType: 'Int32' },
      { fieldName: 'i64', dataType: 'Int64', nullable: true },
      { fieldName: 'f', dataType: 'Float' },
      { fieldName: 'd', dataType: 'Double' },
      { fieldName: 's', dataType: 'VarChar', elementTypeParams: { max_length: 5 } },
      { fieldName: 'j', dataType: 'JSON', nullable: true },
      { fieldName: 'arr', dataType: 'Array', elementDataType: 'Int64', elementTypeParams: { max_capacity: 3 } },
      {
        fieldName: 'arrs',
        dataType: 'Array',
        elementDataType: 'VarChar',
        elementTypeParams: { max_capacity: '2', max_length: '4' },
      },
      { fieldName: 'fv', dataType: 'FloatVector', elementTypeParams: { dim: 3 } },
      { fieldName: 'bv', dataType: 'BinaryVector', elementTypeParams: { dim: 16 } },
      { fieldName: 'f16', dataType: 'Float16Vector', elementTypeParams: { dim: 2 } },
      { fieldName: 'bf16', dataType: 'BFloat16Vector', elementTypeParams: { dim: 2 } },
      { fieldName: 'sp', dataType: 'SparseFloatVector' },
      { fieldName: 'di', dataType: 'Int32', defaultValue: 7 },
      { fieldName: 'ds', dataType: 'VarChar', elementTypeParams: { max_length: 8 }, defaultValue: "it's" },
      { fieldName: 'dbool', dataType: 'Bool', defaultValue: true },
      { fieldName: 'dbig', dataType: 'Int64', defaultValue: '9007199254740993' },
    ],
  },
};

beforeAll(async () => {
  db = newDbName();
  await createDatabase(ctx, { dbName: db });
  await createCollection(ctx, db, ALL_TYPES);
  def = await getCollection(ctx, db, 'all_types');
});
afterAll(() => ctx.close());

const GOOD_SQL_ROW: Record<string, string> = {
  id: '1',
  b: 'true',
  i8: '-128',
  i16: '32767',
  i32: '1',
  i64: 'NULL',
  f: '0.5',
  d: '0.25',
  s: "'héllo'".replace('héllo', 'hélo'),
  j: `'{"a":1}'`,
  arr: `'{1,2,3}'`,
  arrs: `'{abcd}'`,
  fv: `'{1,2,3}'`,
  bv: `B'1010101010101010'`,
  f16: `'\\x00000000'::bytea`,
  bf16: `'\\x00000000'::bytea`,
  sp: `'{"1":0.5}'`,
};

/** Inserts GOOD_SQL_ROW with one column replaced, through raw SQL, so only the table's constraints judge it. */
async function rawInsert(id: number, override: Record<string, string>): Promise<void> {
  const row = { ...GOOD_SQL_ROW, id: String(id), ...override };
  const cols = Object.keys(row).map((c) => `"${c}"`);
  await ctx.target.query(`INSERT INTO ${table()} (${cols.join(', ')}) VALUES (${Object.values(row).join(', ')})`);
}

describe('schema → DDL, every data type', () => {
  it('maps each Milvus type to the spec §3 column type and nullability', async () => {
    const r = await ctx.target.query<{ attname: string; t: string; notnull: boolean; def: string | null }>(
      `SELECT a.attname, format_type(a.atttypid, a.atttypmod) AS t, a.attnotnull AS notnull,
              pg_get_expr(d.adbin, d.adrelid) AS def
         FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
        WHERE a.attrelid = $1::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`,
      [table()],
    );
    expect(r.rows.map((x) => [x.attname, x.t, x.notnull])).toEqual([
      ['id', 'bigint', true],
      ['b', 'boolean', true],
      ['i8', 'smallint', true],
      ['i16', 'smallint', true],
      ['i32', 'integer', true],
      ['i64', 'bigint', false],
      ['f', 'real', true],
      ['d', 'double precision', true],
      ['s', 'text', true],
      ['j', 'jsonb', false],
      ['arr', 'bigint[]', true],
      ['arrs', 'text[]', true],
      ['fv', 'real[]', true],
      ['bv', 'bit(16)', true],
      ['f16', 'bytea', true],
      ['bf16', 'bytea', true],
      ['sp', 'jsonb', true],
      ['di', 'integer', true],
      ['ds', 'text', true],
      ['dbool', 'boolean', true],
      ['dbig', 'bigint', true],
      ['$meta', 'jsonb', true],
      ['$partition', 'text', true],
    ]);
    const defaults = Object.fromEntries(r.rows.map((x) => [x.attname, x.def]));
    expect(defaults.di).toBe('7');
    expect(defaults.ds).toBe(`'it''s'::text`);
    expect(defaults.dbool).toBe('true');
    expect(defaults.dbig).toBe(`'9007199254740993'::bigint`);
    expect(defaults.$meta).toBe(`'{}'::jsonb`);
    expect(defaults.$partition).toBe(`'_default'::text`);
  });

  it('makes the primary field the PRIMARY KEY and indexes $partition', async () => {
    const r = await ctx.target.query<{ def: string }>(
      `SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = $1::regclass ORDER BY 1`,
      [table()],
    );
    const defs = r.rows.map((x) => x.def).join('\n');
    expect(defs).toMatch(/UNIQUE INDEX .* USING btree \(id\)/);
    expect(defs).toMatch(/USING btree \("\$partition"\)/);
  });

  it('uses GENERATED BY DEFAULT AS IDENTITY for an autoId primary key', async () => {
    await createCollection(ctx, db, { collectionName: 'auto', dimension: 2, autoID: true });
    const r = await ctx.target.query<{ attidentity: string }>(
      `SELECT attidentity FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'id'`,
      [`"milvus_${db}"."auto"`],
    );
    expect(r.rows[0]?.attidentity).toBe('d');
  });

  it('accepts a row that satisfies every constraint and applies column defaults', async () => {
    await rawInsert(1, {});
    const r = await ctx.target.query(
      `SELECT di, ds, dbool, dbig::text, "$meta"::text AS m FROM ${table()} WHERE id = 1`,
    );
    expect(r.rows[0]).toEqual({ di: 7, ds: "it's", dbool: true, dbig: '9007199254740993', m: '{}' });
  });

  // Expected SQLSTATE: 23514 check_violation, 23502 not_null_violation, 22026 string_data_length_mismatch.
  const violations: [string, Record<string, string>, string][] = [
    ['Int8 above 127', { i8: '128' }, '23514'],
    ['Int8 below -128', { i8: '-129' }, '23514'],
    ['VarChar over max_length in UTF-8 bytes (3 characters, 6 bytes)', { s: `'ééé'` }, '23514'],
    ['Array over max_capacity', { arr: `'{1,2,3,4}'` }, '23514'],
    ['Array with a NULL element', { arr: `'{1,NULL}'` }, '23514'],
    ['Array with two dimensions', { arr: `'{{1},{2}}'` }, '23514'],
    ['Array of VarChar over max_capacity', { arrs: `'{a,b,c}'` }, '23514'],
    ['FloatVector real[] with too few values', { fv: `'{1,2}'` }, '23514'],
    ['FloatVector real[] with a NULL value', { fv: `'{1,NULL,3}'` }, '23514'],
    ['FloatVector real[] with two dimensions', { fv: `'{{1,2,3}}'` }, '23514'],
    ['BinaryVector with the wrong bit count', { bv: `B'10101010'` }, '22026'],
    ['Float16Vector bytea of the wrong length', { f16: `'\\x000000'::bytea` }, '23514'],
    ['BFloat16Vector bytea of the wrong length', { bf16: `'\\x0000000000'::bytea` }, '23514'],
    ['SparseFloatVector that is not an object', { sp: `'[1,2]'` }, '23514'],
    ['JSON over 64 KiB', { j: `jsonb_build_object('k', repeat('x', 70000))` }, '23514'],
    ['NULL in a non-nullable field', { b: 'NULL' }, '23502'],
    ['NULL vector', { fv: 'NULL' }, '23502'],
    ['$meta that is not an object', { $meta: `'[]'` }, '23514'],
  ];
  it.each(violations)('rejects %s', async (_what, override, sqlstate) => {
    const id = 100 + violations.findIndex((v) => v[1] === override);
    await expect(rawInsert(id, override)).rejects.toMatchObject({ code: sqlstate });
    // The same row with the good value goes in: the failure was the constraint, not the statement.
    await rawInsert(id, {});
  });

  it('reports a CHECK violation through entities/insert as 1804 naming the field', async () => {
    const row = {
      id: 50n,
      b: true,
      i8: 500,
      i16: 1,
      i32: 1,
      i64: null,
      f: 1,
      d: 1,
      s: 'x',
      j: null,
      arr: [],
      arrs: [],
      fv: [1, 2, 3],
      bv: new Uint8Array(2),
      f16: new Uint8Array(4),
      bf16: new Uint8Array(4),
      sp: {},
      di: 1,
      ds: 'a',
      dbool: false,
      dbig: 1n,
    };
    try {
      await insertEntities(ctx, db, { collectionName: 'all_types', rows: batchOf(def.schema, [row]) });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(CollectionsError);
      const err = e as CollectionsError;
      expect(COLLECTIONS_TO_MILVUS[err.code]).toBe(1804);
      expect(err.message).toBe("fail to deal the insert data: field 'i8': value violates the Int8 constraints");
    }
  });

  it('round-trips every type through insert and query with the §6 renderings', async () => {
    const f16 = new Uint8Array([0x00, 0x3c, 0x00, 0xc0]); // 1.0, -2.0 as IEEE half little-endian
    const row = {
      id: 9223372036854775807n,
      b: false,
      i8: -5,
      i16: 300,
      i32: -70000,
      i64: -9223372036854775808n,
      f: 0.1,
      d: 0.1,
      s: 'ab',
      j: { nested: [1, 'x', null], big: 1 },
      arr: [9007199254740993n, -1n],
      arrs: ['a"b', 'c\\d'],
      fv: [0.1, -2.5, 3],
      bv: new Uint8Array([0b10000000, 0x01]),
      f16,
      bf16: new Uint8Array([0x80, 0x3f, 0x00, 0x40]),
      sp: { '3': 0.5, '10': 1 },
      di: 1,
      ds: 'zz',
      dbool: false,
      dbig: 2n,
      extra: 'dyn',
    };
    await insertEntities(ctx, db, { collectionName: 'all_types', rows: batchOf(def.schema, [row]) });
    const out = await queryEntities(ctx, db, { collectionName: 'all_types', filter: 'id == 9223372036854775807' });
    expect(serializeJson(out)).toBe(
      '[{"id":"9223372036854775807","b":false,"i8":-5,"i16":300,"i32":-70000,"i64":"-9223372036854775808",' +
        '"f":0.1,"d":0.1,"s":"ab","j":{"big": 1, "nested": [1, "x", null]},"arr":["9007199254740993","-1"],' +
        '"arrs":["a\\"b","c\\\\d"],"fv":[0.1,-2.5,3],"bv":"gAE=","f16":"ADwAwA==","bf16":"gD8AQA==",' +
        '"sp":{"3": 0.5, "10": 1},"di":1,"ds":"zz","dbool":false,"dbig":"2","extra":"dyn"}]',
    );
    expect(serializeJson(out, { allowInt64Numbers: true })).toContain(
      '"id":9223372036854775807,"b":false,"i8":-5,"i16":300,"i32":-70000,"i64":-9223372036854775808',
    );
  });

  it('shows the chosen representation in describe properties', async () => {
    const d = await describeCollection(ctx, db, { collectionName: 'all_types' });
    expect(d.properties).toEqual([{ key: 'gateway.vectorType', value: 'array' }]);
    expect(d.fields.find((f) => f.name === 'arrs')).toMatchObject({
      elementType: 'VarChar',
      params: [
        { key: 'max_length', value: '4' },
        { key: 'max_capacity', value: '2' },
      ],
    });
    expect(d.fields.find((f) => f.name === 'dbig')?.defaultValue).toBe('9007199254740993');
  });
});
