import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CollectionsError,
  COLLECTIONS_TO_MILVUS,
  createCollection,
  createDatabase,
  deleteEntities,
  getCollection,
  getCollectionStats,
  getEntities,
  insertEntities,
  queryEntities,
  serializeJson,
  type CollectionDef,
} from '@gw/collections';
import { batchOf, makeContext, newDbName } from './helpers';

const ctx = makeContext();
let db: string;
let docs: CollectionDef;
const BIG = 9007199254740993n; // 2^53 + 1: not representable as a JS number

async function milvusError(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CollectionsError) return { code: COLLECTIONS_TO_MILVUS[e.code], message: e.message };
    throw e;
  }
  throw new Error('expected a CollectionsError');
}

const json = (v: unknown, allowInt64Numbers = false): unknown => JSON.parse(serializeJson(v, { allowInt64Numbers }));

beforeAll(async () => {
  db = newDbName();
  await createDatabase(ctx, { dbName: db });
  await createCollection(ctx, db, {
    collectionName: 'docs',
    schema: {
      enableDynamicField: true,
      fields: [
        { fieldName: 'id', dataType: 'Int64', isPrimary: true },
        { fieldName: 'title', dataType: 'VarChar', elementTypeParams: { max_length: 64 }, nullable: true },
        { fieldName: 'score', dataType: 'Float' },
        { fieldName: 'n', dataType: 'Int32' },
        { fieldName: 'ok', dataType: 'Bool' },
        { fieldName: 'info', dataType: 'JSON', nullable: true },
        { fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: 2 } },
      ],
    },
  });
  docs = await getCollection(ctx, db, 'docs');
  const rows = [
    {
      id: 1n,
      title: 'alpha',
      score: 0.5,
      n: 1,
      ok: true,
      info: { lang: 'en', size: 10, tags: { a: true } },
      vector: [1, 0],
      lang: 'en',
      rank: 3,
    },
    {
      id: 2n,
      title: 'beta_x',
      score: 1.5,
      n: 2,
      ok: false,
      info: { lang: 'fr', size: 20 },
      vector: [0, 1],
      lang: 'fr',
      rank: 1,
    },
    {
      id: 3n,
      title: 'gamma%',
      score: 2.5,
      n: 3,
      ok: true,
      info: { lang: 'en', size: '30' },
      vector: [1, 1],
      lang: 'en',
      rank: 2,
    },
    { id: BIG, title: null, score: 0.1, n: 4, ok: false, info: null, vector: [0.1, 0.2], lang: 'de', flag: true },
    { id: -5n, title: 'betaXx', score: -1, n: 5, ok: true, info: { lang: 'en' }, vector: [2, 2], lang: 'en' },
  ];
  const r = await insertEntities(ctx, db, { collectionName: 'docs', rows: batchOf(docs.schema, rows) });
  expect(json(r)).toEqual({ insertCount: 5, insertIds: ['1', '2', '3', String(BIG), '-5'] });
});
afterAll(() => ctx.close());

const ids = async (filter: string, extra: Record<string, unknown> = {}): Promise<unknown> =>
  (
    json(await queryEntities(ctx, db, { collectionName: 'docs', filter, outputFields: ['id'], ...extra })) as {
      id: string;
    }[]
  ).map((r) => r.id);

describe('entities/query', () => {
  it('counts with count(*) as an Int64, ignoring limit, rendered as string or number', async () => {
    const out = await queryEntities(ctx, db, {
      collectionName: 'docs',
      filter: 'id in [1,2,3] and lang == "en"',
      outputFields: ['count(*)'],
      limit: 1,
    });
    expect(serializeJson(out)).toBe('[{"count(*)":"2"}]');
    expect(serializeJson(out, { allowInt64Numbers: true })).toBe('[{"count(*)":2}]');
    expect(json(await queryEntities(ctx, db, { collectionName: 'docs', outputFields: ['count(*)'] }))).toEqual([
      { 'count(*)': '5' },
    ]);
  });

  it('returns all rows in primary-key order by default', async () => {
    expect(await ids('')).toEqual(['-5', '1', '2', '3', String(BIG)]);
  });

  it('filters with id in [...] including an Int64 beyond 2^53, exactly', async () => {
    expect(await ids(`id in [${BIG}, 2]`)).toEqual(['2', String(BIG)]);
    expect(await ids(`id == ${BIG - 1n}`)).toEqual([]);
    expect(await ids('id not in [1, 2, 3]')).toEqual(['-5', String(BIG)]);
    expect(await ids('id in []')).toEqual([]);
    // Ids echoed back as the strings we rendered select the same rows.
    expect(await ids(`id in ["${BIG}", "-5"]`)).toEqual(['-5', String(BIG)]);
  });

  it('combines comparisons with and/or/not, &&, ||, ! and parentheses', async () => {
    expect(await ids('n >= 2 and n < 4')).toEqual(['2', '3']);
    expect(await ids('n == 1 or n == 5')).toEqual(['-5', '1']);
    expect(await ids('not (n > 1)')).toEqual(['1']);
    expect(await ids('(n == 1 || n == 2) && !(ok == false)')).toEqual(['1']);
    // Keywords are case-insensitive; AND binds tighter than OR.
    expect(await ids('ok != true AND n == 2 OR n <= 1')).toEqual(['1', '2']);
    expect(await ids('score > 1 AND NOT title == "beta_x"')).toEqual(['3']);
  });

  it('compares Float fields as float32 so 0.1 matches a stored 0.1', async () => {
    expect(await ids('score == 0.1')).toEqual([String(BIG)]);
    expect(await ids('score < 0')).toEqual(['-5']);
  });

  it('matches like with % as the only wildcard; _ matches itself', async () => {
    expect(await ids('title like "beta%"')).toEqual(['-5', '2']);
    expect(await ids('title like "beta_%"')).toEqual(['2']);
    expect(await ids("title like 'gamma%'")).toEqual(['3']);
    expect(await ids('title like "%a"')).toEqual(['1']);
  });

  it('reads JSON paths comparing as number, string or bool by the literal', async () => {
    expect(await ids('info["lang"] == "en"')).toEqual(['-5', '1', '3']);
    expect(await ids('info["size"] > 15')).toEqual(['2']); // "30" is a string, not a number
    expect(await ids('info["size"] == "30"')).toEqual(['3']);
    expect(await ids('info["tags"]["a"] == true')).toEqual(['1']);
    expect(await ids('info["lang"] in ["fr", "de"]')).toEqual(['2']);
    expect(await ids('info["lang"] like "e%"')).toEqual(['-5', '1', '3']);
  });

  it('treats bare unknown names as dynamic keys', async () => {
    expect(await ids('lang == "en" and rank >= 2')).toEqual(['1', '3']);
    expect(await ids('flag == true')).toEqual([String(BIG)]);
    expect(await ids('rank in [1, 3]')).toEqual(['1', '2']);
    expect(await ids('missing_key == 1')).toEqual([]);
  });

  it('pages with limit and offset and enforces offset + limit ≤ 16384', async () => {
    expect(await ids('', { limit: 2 })).toEqual(['-5', '1']);
    expect(await ids('', { limit: 2, offset: 2 })).toEqual(['2', '3']);
    expect(await ids('', { limit: '2', offset: '4' })).toEqual([String(BIG)]);
    expect(
      (await milvusError(queryEntities(ctx, db, { collectionName: 'docs', limit: 16000, offset: 385 }))).code,
    ).toBe(1100);
  });

  it('returns only outputFields plus the primary key, dynamic keys top-level, never $meta or $partition', async () => {
    const full = json(await queryEntities(ctx, db, { collectionName: 'docs', filter: 'id == 1' }));
    expect(full).toEqual([
      {
        id: '1',
        title: 'alpha',
        score: 0.5,
        n: 1,
        ok: true,
        info: { lang: 'en', size: 10, tags: { a: true } },
        vector: [1, 0],
        lang: 'en',
        rank: 3,
      },
    ]);
    expect(
      json(
        await queryEntities(ctx, db, { collectionName: 'docs', filter: 'id == 1', outputFields: ['title', 'rank'] }),
      ),
    ).toEqual([{ id: '1', title: 'alpha', rank: 3 }]);
    expect(
      (await milvusError(queryEntities(ctx, db, { collectionName: 'docs', outputFields: ['count(*)', 'id'] }))).code,
    ).toBe(1100);
  });

  it('renders Int64 as numbers with allowInt64Numbers, exactly beyond 2^53', async () => {
    const out = await queryEntities(ctx, db, { collectionName: 'docs', filter: `id == ${BIG}`, outputFields: ['id'] });
    expect(serializeJson(out, { allowInt64Numbers: true })).toBe(`[{"id":${BIG}}]`);
    expect(serializeJson(out)).toBe(`[{"id":"${BIG}"}]`);
  });

  it('rejects bad filters with 1100 and the position', async () => {
    expect(await milvusError(queryEntities(ctx, db, { collectionName: 'docs', filter: 'n == 1 and' }))).toEqual({
      code: 1100,
      message: 'invalid parameter: unsupported filter expression at position 10',
    });
    expect((await milvusError(queryEntities(ctx, db, { collectionName: 'docs', filter: 'n == "x"' }))).code).toBe(1100);
    expect(
      (await milvusError(queryEntities(ctx, db, { collectionName: 'docs', filter: 'n == 3000000000' }))).code,
    ).toBe(1100);
    expect((await milvusError(queryEntities(ctx, db, { collectionName: 'docs', filter: 'vector == 1' }))).code).toBe(
      1100,
    );
  });
});

describe('entities/get', () => {
  it('accepts ids as bigint, number or string and returns found rows in key order', async () => {
    const out = await getEntities(ctx, db, {
      collectionName: 'docs',
      id: [BIG, 2, '1', 999],
      outputFields: ['id', 'n'],
    });
    expect(json(out)).toEqual([
      { id: '1', n: 1 },
      { id: '2', n: 2 },
      { id: String(BIG), n: 4 },
    ]);
    expect(json(await getEntities(ctx, db, { collectionName: 'docs', id: String(BIG), outputFields: ['n'] }))).toEqual([
      { id: String(BIG), n: 4 },
    ]);
  });

  it('answers 1806 for ids of the wrong type and 1802 without id', async () => {
    expect((await milvusError(getEntities(ctx, db, { collectionName: 'docs', id: ['abc'] }))).code).toBe(1806);
    expect((await milvusError(getEntities(ctx, db, { collectionName: 'docs', id: [1.5] }))).code).toBe(1806);
    expect((await milvusError(getEntities(ctx, db, { collectionName: 'docs', id: '9223372036854775808' }))).code).toBe(
      1806,
    );
    expect((await milvusError(getEntities(ctx, db, { collectionName: 'docs' }))).code).toBe(1802);
  });
});

describe('entities/insert and delete', () => {
  it('returns generated ids in input order for autoId', async () => {
    await createCollection(ctx, db, { collectionName: 'auto', dimension: 2, autoId: true });
    const def = await getCollection(ctx, db, 'auto');
    const r1 = await insertEntities(ctx, db, {
      collectionName: 'auto',
      rows: batchOf(def.schema, [
        { vector: [1, 2], k: 'a' },
        { vector: [3, 4], k: 'b' },
      ]),
    });
    const got = json(r1) as { insertCount: number; insertIds: string[] };
    expect(got.insertCount).toBe(2);
    const rows = json(await getEntities(ctx, db, { collectionName: 'auto', id: got.insertIds })) as {
      id: string;
      k: string;
    }[];
    expect(rows.map((r) => [r.id, r.k])).toEqual([
      [got.insertIds[0], 'a'],
      [got.insertIds[1], 'b'],
    ]);
  });

  it('rejects a duplicate key with 1804 naming the key value and inserts nothing', async () => {
    await createCollection(ctx, db, { collectionName: 'dup', dimension: 2 });
    const def = await getCollection(ctx, db, 'dup');
    await insertEntities(ctx, db, { collectionName: 'dup', rows: batchOf(def.schema, [{ id: BIG, vector: [1, 2] }]) });
    const err = await milvusError(
      insertEntities(ctx, db, {
        collectionName: 'dup',
        rows: batchOf(def.schema, [
          { id: 7n, vector: [1, 2] },
          { id: BIG, vector: [1, 2] },
        ]),
      }),
    );
    expect(err).toEqual({
      code: 1804,
      message: `fail to deal the insert data: duplicate primary key value ${BIG} (row 2)`,
    });
    expect(await getCollectionStats(ctx, db, { collectionName: 'dup' })).toEqual({ rowCount: 1 });
    const within = await milvusError(
      insertEntities(ctx, db, {
        collectionName: 'dup',
        rows: batchOf(def.schema, [
          { id: 8n, vector: [1, 2] },
          { id: 9n, vector: [1, 2] },
          { id: 8n, vector: [1, 2] },
        ]),
      }),
    );
    expect(within.message).toBe('fail to deal the insert data: duplicate primary key value 8 (row 3)');
  });

  it('inserts VarChar keys and reports them as strings', async () => {
    await createCollection(ctx, db, {
      collectionName: 'vk',
      dimension: 2,
      idType: 'VarChar',
      params: { max_length: 8 },
    });
    const def = await getCollection(ctx, db, 'vk');
    const r = await insertEntities(ctx, db, {
      collectionName: 'vk',
      rows: batchOf(def.schema, [{ id: 'k1', vector: [1, 2] }]),
    });
    expect(json(r)).toEqual({ insertCount: 1, insertIds: ['k1'] });
    expect((await milvusError(getEntities(ctx, db, { collectionName: 'vk', id: 5 }))).code).toBe(1806);
    expect(json(await getEntities(ctx, db, { collectionName: 'vk', id: 'k1' }))).toEqual([
      { id: 'k1', vector: [1, 2] },
    ]);
  });

  it('deletes by id and by filter, and needs one of them', async () => {
    await createCollection(ctx, db, { collectionName: 'del', dimension: 2 });
    const def = await getCollection(ctx, db, 'del');
    const rows = [1n, 2n, 3n, 4n, BIG].map((id) => ({ id, vector: [1, 2], g: Number(id % 2n) }));
    await insertEntities(ctx, db, { collectionName: 'del', rows: batchOf(def.schema, rows) });
    expect(await deleteEntities(ctx, db, { collectionName: 'del', id: [BIG, '1'] })).toEqual({});
    expect(await deleteEntities(ctx, db, { collectionName: 'del', filter: 'g == 0' })).toEqual({});
    const left = json(await queryEntities(ctx, db, { collectionName: 'del', outputFields: ['id'] }));
    expect(left).toEqual([{ id: '3' }]);
    expect((await milvusError(deleteEntities(ctx, db, { collectionName: 'del' }))).code).toBe(1802);
    expect((await milvusError(deleteEntities(ctx, db, { collectionName: 'del', filter: 'g ==' }))).code).toBe(1100);
  });
});
