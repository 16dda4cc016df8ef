import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite/vector';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildInsert,
  buildQuery,
  chooseVectorStorage,
  CollectionsError,
  createCollection,
  createCollectionTable,
  createDatabase,
  describeCollection,
  detectPgvector,
  parseCreateCollection,
  runInsert,
  runQuery,
  serializeJson,
  type CollectionDef,
  type SqlRunner,
} from '@gw/collections';
import { batchOf, makeContext, newDbName } from './helpers';

/*
 * This machine's PostgreSQL has no pgvector, so the pgvector DDL, inserts and queries run against
 * PGlite (PostgreSQL in WASM, which ships the extension) through the same SqlRunner port.
 */

let pgl: PGlite;
let q: SqlRunner;

beforeAll(async () => {
  pgl = new PGlite({ extensions: { vector } });
  q = {
    query: async (text, params) => {
      const r = await pgl.query<Record<string, unknown>>(text, params === undefined ? [] : [...params]);
      return { rows: r.rows };
    },
  };
}, 60_000);
afterAll(async () => {
  await pgl.close();
});

const SPEC = {
  collectionName: 'vecs',
  schema: {
    enableDynamicField: true,
    fields: [
      { fieldName: 'id', dataType: 'Int64', isPrimary: true },
      { fieldName: 'fv', dataType: 'FloatVector', elementTypeParams: { dim: 3 } },
      { fieldName: 'f16', dataType: 'Float16Vector', elementTypeParams: { dim: 2 } },
      { fieldName: 'bv', dataType: 'BinaryVector', elementTypeParams: { dim: 8 } },
      { fieldName: 'bf16', dataType: 'BFloat16Vector', elementTypeParams: { dim: 1 } },
    ],
  },
};

describe('pgvector representation (PGlite)', () => {
  it('detects the extension only once it is installed', async () => {
    expect(await detectPgvector(q)).toEqual({ available: false });
    await q.query('CREATE EXTENSION vector');
    const info = await detectPgvector(q);
    expect(info.available).toBe(true);
    expect(info.version).toMatch(/^\d+\.\d+/);
  });

  it('creates vector(dim) and halfvec(dim) columns, inserts and queries them back exactly', async () => {
    const spec = parseCreateCollection(SPEC);
    const storage = chooseVectorStorage(spec.schema, 'auto', await detectPgvector(q));
    expect(storage).toEqual({ vectorType: 'pgvector', halfvec: true });
    await q.query('CREATE SCHEMA "milvus_pg"');
    await createCollectionTable(q, 'pg', 'vecs', spec.schema, storage);
    const cols = await q.query(
      `SELECT attname, format_type(atttypid, atttypmod) AS t FROM pg_attribute
        WHERE attrelid = '"milvus_pg"."vecs"'::regclass AND attnum > 0 ORDER BY attnum`,
    );
    expect(cols.rows.map((r) => [r.attname, r.t])).toEqual([
      ['id', 'bigint'],
      ['fv', 'vector(3)'],
      ['f16', 'halfvec(2)'],
      ['bv', 'bit(8)'],
      ['bf16', 'bytea'],
      ['$meta', 'jsonb'],
      ['$partition', 'text'],
    ]);
    const def: CollectionDef = { ...spec, id: 1, db: 'pg', storage };
    const batch = batchOf(spec.schema, [
      {
        id: 9007199254740993n,
        fv: [0.1, 0.2, 0.3],
        f16: new Uint8Array([0x00, 0x3c, 0x00, 0xb8]), // 1.0, -0.5
        bv: new Uint8Array([0b10100000]),
        bf16: new Uint8Array([0x80, 0x3f]),
        tag: 'a',
      },
      { id: 2n, fv: [1, 0, 0], f16: new Uint8Array(4), bv: new Uint8Array([1]), bf16: new Uint8Array(2), tag: 'b' },
    ]);
    await runInsert(q, buildInsert(def, batch, '_default'));
    const rows = await runQuery(q, def, buildQuery(def, { filter: 'tag == "a"' }));
    expect(serializeJson(rows)).toBe(
      '[{"id":"9007199254740993","fv":[0.1,0.2,0.3],"f16":"ADwAuA==","bv":"oA==","bf16":"gD8=","tag":"a"}]',
    );
    // The column is a real pgvector vector: its distance operator works on it.
    const nearest = await q.query(`SELECT id::text AS id FROM "milvus_pg"."vecs" ORDER BY fv <-> '[1,0,0]' LIMIT 1`);
    expect(nearest.rows).toEqual([{ id: '2' }]);
    const count = await runQuery(q, def, buildQuery(def, { outputFields: ['count(*)'] }));
    expect(serializeJson(count)).toBe('[{"count(*)":"2"}]');
  });

  it('rejects a vector of the wrong dimension in the vector(dim) column', async () => {
    await expect(
      q.query(
        `INSERT INTO "milvus_pg"."vecs" (id, fv, f16, bv, bf16) VALUES (5, '[1,2]', '[1,2]', B'00000000', '\\x0000')`,
      ),
    ).rejects.toThrow(/expected 3 dimensions/);
  });

  it('falls back to real[] above pgvector dim 16000 in auto mode and refuses it in require mode', async () => {
    const big = parseCreateCollection({ collectionName: 'big', dimension: 16001 });
    const info = await detectPgvector(q);
    expect(chooseVectorStorage(big.schema, 'auto', info).vectorType).toBe('array');
    expect(() => chooseVectorStorage(big.schema, 'require', info)).toThrow(CollectionsError);
    expect(
      chooseVectorStorage(parseCreateCollection({ collectionName: 'x', dimension: 16000 }).schema, 'auto', info)
        .vectorType,
    ).toBe('pgvector');
    expect(chooseVectorStorage(big.schema, 'off', info).vectorType).toBe('array');
  });
});

describe('pgvector modes on this machine (no extension)', () => {
  const ctx = makeContext();
  afterAll(() => ctx.close());

  it('fails create with 1100 under require and uses real[] under off', async () => {
    const db = newDbName();
    await createDatabase(ctx, { dbName: db });
    const requireCtx = { ...ctx, config: { pgvector: 'require' as const } };
    await expect(createCollection(requireCtx, db, { collectionName: 'r', dimension: 2 })).rejects.toThrow(
      'invalid parameter: the pgvector extension is not installed in the target database and COLLECTIONS_PGVECTOR=require',
    );
    const offCtx = { ...ctx, config: { pgvector: 'off' as const } };
    await createCollection(offCtx, db, { collectionName: 'o', dimension: 2 });
    expect((await describeCollection(ctx, db, { collectionName: 'o' })).properties).toEqual([
      { key: 'gateway.vectorType', value: 'array' },
    ]);
    expect(
      (await describeCollection(ctx, db, { collectionName: 'r' }).catch((e: unknown) => e)) instanceof CollectionsError,
    ).toBe(true);
  });
});
