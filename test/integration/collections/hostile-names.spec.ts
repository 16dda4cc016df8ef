import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CollectionsError,
  COLLECTIONS_TO_MILVUS,
  createCollection,
  createDatabase,
  createPartition,
  describeCollection,
  dropCollection,
  getCollection,
  hasCollection,
  insertEntities,
  listCollections,
  queryEntities,
  serializeJson,
} from '@gw/collections';
import { batchOf, makeContext, newDbName } from './helpers';

const ctx = makeContext();
let db: string;

async function milvusCode(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CollectionsError) return COLLECTIONS_TO_MILVUS[e.code];
    throw e;
  }
  return 0;
}

const HOSTILE = [
  'x"; DROP TABLE gateway_collections; --',
  "x'; DROP TABLE gateway_collections; --",
  'café',
  'ü',
  'a b',
  '1abc',
  'a-b',
  '$meta',
  '"quoted"',
  'x\u0000y',
  'emoji_😀',
  'a'.repeat(64),
  '',
];

async function catalogIntact(): Promise<void> {
  const r = await ctx.catalog.query<{ n: string }>('SELECT count(*)::text AS n FROM gateway_collections');
  expect(Number(r.rows[0]?.n)).toBeGreaterThan(0);
}

beforeAll(async () => {
  db = newDbName();
  await createDatabase(ctx, { dbName: db });
  await createCollection(ctx, db, { collectionName: 'safe', dimension: 2 });
});
afterAll(() => ctx.close());

describe('hostile names and values', () => {
  it.each(HOSTILE.filter((n) => n !== ''))('refuses collection name %j with 1100', async (name) => {
    expect(await milvusCode(createCollection(ctx, db, { collectionName: name, dimension: 2 }))).toBe(1100);
    await catalogIntact();
  });

  it('accepts a 63-byte collection name and refuses 64 bytes', async () => {
    const n63 = 'A'.repeat(63);
    await createCollection(ctx, db, { collectionName: n63, dimension: 2 });
    expect((await describeCollection(ctx, db, { collectionName: n63 })).collectionName).toBe(n63);
    expect(await milvusCode(createCollection(ctx, db, { collectionName: `${n63}B`, dimension: 2 }))).toBe(1100);
  });

  it('refuses hostile field, database and partition names', async () => {
    // 'a'.repeat(64) is a valid partition name (≤ 255 bytes), so the partition loop skips it.
    for (const name of HOSTILE.filter((n) => n !== '')) {
      expect(
        await milvusCode(createCollection(ctx, db, { collectionName: 'f', dimension: 2, primaryFieldName: name })),
      ).toBe(1100);
      expect(await milvusCode(createDatabase(ctx, { dbName: name }))).toBe(1100);
      if (name.length <= 255 && /^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) continue;
      expect(await milvusCode(createPartition(ctx, db, { collectionName: 'safe', partitionName: name }))).toBe(1100);
    }
    expect(await milvusCode(createDatabase(ctx, { dbName: 'd'.repeat(57) }))).toBe(1100);
    expect(await milvusCode(createPartition(ctx, db, { collectionName: 'safe', partitionName: 'p'.repeat(256) }))).toBe(
      1100,
    );
    await catalogIntact();
  });

  it('answers hostile names in lookups without effect: has=false, drop no-op, unknown database 800', async () => {
    for (const name of HOSTILE) {
      expect(await hasCollection(ctx, db, { collectionName: name || 'x"' })).toEqual({ has: false });
      expect(await dropCollection(ctx, db, { collectionName: name || 'x"' })).toEqual({});
      expect(await milvusCode(listCollections(ctx, name || 'x"'))).toBe(800);
    }
    expect(await listCollections(ctx, db)).toContain('safe');
    await catalogIntact();
  });

  it('binds hostile values in filters and inserted rows as data', async () => {
    const def = await getCollection(ctx, db, 'safe');
    const evil = `x'); DROP TABLE gateway_collections; --\\ " \u00e9`;
    await insertEntities(ctx, db, {
      collectionName: 'safe',
      rows: batchOf(def.schema, [{ id: 1n, vector: [1, 2], marker: evil, [evil]: 1 }]),
    });
    const literal = JSON.stringify(evil); // a double-quoted literal with backslash escapes
    const found = await queryEntities(ctx, db, {
      collectionName: 'safe',
      filter: `marker == ${literal}`,
      outputFields: ['id'],
    });
    expect(JSON.parse(serializeJson(found))).toEqual([{ id: '1' }]);
    const rows = await queryEntities(ctx, db, { collectionName: 'safe', filter: 'id == 1' });
    expect(JSON.parse(serializeJson(rows))).toEqual([{ id: '1', vector: [1, 2], marker: evil, [evil]: 1 }]);
    expect(await milvusCode(queryEntities(ctx, db, { collectionName: 'safe', filter: 'marker == "a\\u0000b"' }))).toBe(
      1100,
    );
    await catalogIntact();
  });

  it('stores a default with quotes and backslashes verbatim', async () => {
    const tricky = `it's \\ "fine"`;
    await createCollection(ctx, db, {
      collectionName: 'defaults',
      schema: {
        fields: [
          { fieldName: 'id', dataType: 'Int64', isPrimary: true },
          { fieldName: 's', dataType: 'VarChar', elementTypeParams: { max_length: 64 }, defaultValue: tricky },
          { fieldName: 'v', dataType: 'FloatVector', elementTypeParams: { dim: 1 } },
        ],
      },
    });
    await ctx.target.query(`INSERT INTO "milvus_${db}"."defaults" (id, v) VALUES (1, '{1}')`);
    const r = await ctx.target.query<{ s: string }>(`SELECT s FROM "milvus_${db}"."defaults"`);
    expect(r.rows[0]?.s).toBe(tricky);
  });
});
