import pg from 'pg';
import { afterAll, describe, expect, it, vi } from 'vitest';
import {
  CollectionsError,
  CollectionsErrorCode,
  COLLECTIONS_TO_MILVUS,
  createCollection,
  createDatabase,
  createIndex,
  createPartition,
  describeCollection,
  dropCollection,
  dropDatabase,
  dropPartition,
  flushCollection,
  getCollection,
  getCollectionStats,
  getLoadState,
  getPartitionStats,
  hasCollection,
  hasPartition,
  insertEntities,
  listCollections,
  listDatabases,
  listIndexes,
  listPartitions,
  loadCollection,
  queryEntities,
  releaseCollection,
  serializeJson,
} from '@gw/collections';
import { batchOf, makeContext, newDbName, newName } from './helpers';

const ctx = makeContext();
afterAll(() => ctx.close());

async function freshDb(): Promise<string> {
  const db = newDbName();
  await createDatabase(ctx, { dbName: db });
  return db;
}

/** Resolves to the thrown CollectionsError's Milvus code and message. */
async function milvusError(p: Promise<unknown>): Promise<{ code: number; message: string }> {
  try {
    await p;
  } catch (e) {
    if (e instanceof CollectionsError) return { code: COLLECTIONS_TO_MILVUS[e.code], message: e.message };
    throw e;
  }
  throw new Error('expected a CollectionsError');
}

const SPEC_SCHEMA_BODY = {
  collectionName: 'docs',
  schema: {
    autoID: false,
    enableDynamicField: true,
    fields: [
      { fieldName: 'id', dataType: 'Int64', isPrimary: true },
      { fieldName: 'title', dataType: 'VarChar', elementTypeParams: { max_length: 512 }, nullable: true },
      { fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: 768 } },
    ],
  },
  indexParams: [{ fieldName: 'vector', indexName: 'vector_idx', metricType: 'COSINE' }],
};

describe('collections/create and describe', () => {
  it('creates the spec §4 schema-form example and describes it in the §5 shape', async () => {
    const db = await freshDb();
    expect(await createCollection(ctx, db, SPEC_SCHEMA_BODY)).toEqual({});
    const d = await describeCollection(ctx, db, { collectionName: 'docs' });
    const def = await getCollection(ctx, db, 'docs');
    expect(JSON.parse(serializeJson(d))).toEqual({
      collectionName: 'docs',
      collectionID: def.id,
      description: '',
      autoId: false,
      enableDynamicField: true,
      fields: [
        {
          name: 'id',
          type: 'Int64',
          primaryKey: true,
          autoId: false,
          partitionKey: false,
          clusteringKey: false,
          nullable: false,
          description: '',
        },
        {
          name: 'title',
          type: 'VarChar',
          primaryKey: false,
          autoId: false,
          partitionKey: false,
          clusteringKey: false,
          nullable: true,
          description: '',
          params: [{ key: 'max_length', value: '512' }],
        },
        {
          name: 'vector',
          type: 'FloatVector',
          primaryKey: false,
          autoId: false,
          partitionKey: false,
          clusteringKey: false,
          nullable: false,
          description: '',
          params: [{ key: 'dim', value: '768' }],
        },
      ],
      functions: [],
      aliases: [],
      indexes: [{ fieldName: 'vector', indexName: 'vector_idx', metricType: 'COSINE' }],
      load: 'LoadStateLoaded',
      shardsNum: 1,
      partitionsNum: 1,
      consistencyLevel: 'Bounded',
      // No pgvector in this machine's PostgreSQL: the real[] representation is chosen.
      properties: [{ key: 'gateway.vectorType', value: 'array' }],
    });
    expect(typeof d.collectionID).toBe('number');
  });

  it('creates the quick form with defaults: Int64 id, FloatVector, dynamic field, vector_idx with COSINE', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, { collectionName: 'quick', dimension: 4 });
    const d = await describeCollection(ctx, db, { collectionName: 'quick' });
    expect(d.fields.map((f) => [f.name, f.type, f.primaryKey])).toEqual([
      ['id', 'Int64', true],
      ['vector', 'FloatVector', false],
    ]);
    expect(d.enableDynamicField).toBe(true);
    expect(d.autoId).toBe(false);
    expect(d.indexes).toEqual([{ fieldName: 'vector', indexName: 'vector_idx', metricType: 'COSINE' }]);
  });

  it('creates a quick-form VarChar id with autoID off, custom names, L2 and no dynamic field', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, {
      collectionName: 'q2',
      dimension: '8',
      metricType: 'L2',
      idType: 'Varchar',
      primaryFieldName: 'pk',
      vectorFieldName: 'emb',
      params: { max_length: '64', enableDynamicField: false, consistencyLevel: 'Strong' },
    });
    const d = await describeCollection(ctx, db, { collectionName: 'q2' });
    expect(d.fields[0]).toMatchObject({ name: 'pk', type: 'VarChar', params: [{ key: 'max_length', value: '64' }] });
    expect(d.fields[1]).toMatchObject({ name: 'emb', params: [{ key: 'dim', value: '8' }] });
    expect(d.enableDynamicField).toBe(false);
    expect(d.consistencyLevel).toBe('Strong');
    expect(d.indexes[0]!.metricType).toBe('L2');
  });

  it('reports autoId on the collection and the primary field', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, { collectionName: 'a', dimension: 2, autoId: true });
    const d = await describeCollection(ctx, db, { collectionName: 'a' });
    expect(d.autoId).toBe(true);
    expect(d.fields[0]!.autoId).toBe(true);
  });

  it('treats a second create with the same schema as a no-op and a different one as 1100', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, SPEC_SCHEMA_BODY);
    const before = await getCollection(ctx, db, 'docs');
    expect(await createCollection(ctx, db, SPEC_SCHEMA_BODY)).toEqual({});
    expect((await getCollection(ctx, db, 'docs')).id).toBe(before.id);
    const different = structuredClone(SPEC_SCHEMA_BODY);
    different.schema.fields[2]!.elementTypeParams = { dim: 769 };
    expect(await milvusError(createCollection(ctx, db, different))).toEqual({
      code: 1100,
      message: 'invalid parameter: collection already exists with a different schema',
    });
  });

  it('lets concurrent identical creates all succeed with one table', async () => {
    const db = await freshDb();
    const results = await Promise.all(
      Array.from({ length: 4 }, () => createCollection(ctx, db, { collectionName: 'race', dimension: 3 })),
    );
    expect(results).toEqual([{}, {}, {}, {}]);
    expect(await listCollections(ctx, db)).toEqual(['race']);
  });

  it('recreates a database schema removed behind its back, inside the create transaction', async () => {
    const db = await freshDb();
    await ctx.target.query(`DROP SCHEMA "milvus_${db}"`);
    await Promise.all([
      createCollection(ctx, db, { collectionName: 'x1', dimension: 2 }),
      createCollection(ctx, db, { collectionName: 'x2', dimension: 2 }),
    ]);
    expect(await listCollections(ctx, db)).toEqual(['x1', 'x2']);
  });

  it('rejects missing and invalid parameters with 1802 and 1100', async () => {
    const db = await freshDb();
    expect((await milvusError(createCollection(ctx, db, {}))).code).toBe(1802);
    expect(await milvusError(createCollection(ctx, db, { collectionName: 'x' }))).toEqual({
      code: 1802,
      message: 'missing required parameters: dimension',
    });
    expect((await milvusError(createCollection(ctx, db, { collectionName: 'x', dimension: 0 }))).code).toBe(1100);
    expect(
      (await milvusError(createCollection(ctx, db, { collectionName: 'x', dimension: 4, idType: 'VarChar' }))).code,
    ).toBe(1802);
    expect(
      await milvusError(
        createCollection(ctx, db, {
          collectionName: 'x',
          schema: {
            fields: [
              { fieldName: 'id', dataType: 'Int64', isPrimary: true },
              { fieldName: 't', dataType: 'Text' },
              { fieldName: 'v', dataType: 'FloatVector', elementTypeParams: { dim: 2 } },
            ],
          },
        }),
      ),
    ).toEqual({ code: 1100, message: 'invalid parameter: data type Text is not supported' });
  });

  it('answers 800 for an unknown database and 100 for an unknown collection', async () => {
    expect(await milvusError(describeCollection(ctx, 'nope_db_x', { collectionName: 'c' }))).toEqual({
      code: 800,
      message: 'database not found[database=nope_db_x]',
    });
    const db = await freshDb();
    expect(await milvusError(describeCollection(ctx, db, { collectionName: 'missing' }))).toEqual({
      code: 100,
      message: 'collection not found[collection=missing]',
    });
    expect((await milvusError(loadCollection(ctx, db, { collectionName: 'missing' }))).code).toBe(100);
  });
});

describe('collections list, has, drop, stats and no-ops', () => {
  it('lists collections sorted by name and answers has', async () => {
    const db = await freshDb();
    for (const n of ['b', 'a', 'C']) await createCollection(ctx, db, { collectionName: n, dimension: 2 });
    expect(await listCollections(ctx, db)).toEqual(['C', 'a', 'b']);
    expect(await hasCollection(ctx, db, { collectionName: 'a' })).toEqual({ has: true });
    expect(await hasCollection(ctx, db, { collectionName: 'A' })).toEqual({ has: false });
  });

  it('drops a collection (table and catalog), calling beforeDrop first; absent is a success', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, { collectionName: 'gone', dimension: 2 });
    const calls: unknown[] = [];
    const hookCtx = {
      ...ctx,
      beforeDrop: vi.fn(async (...args: unknown[]) => {
        // The hook runs while the collection still exists.
        calls.push([...args, (await hasCollection(ctx, db, { collectionName: 'gone' })).has]);
      }),
    };
    expect(await dropCollection(hookCtx, db, { collectionName: 'gone' })).toEqual({});
    expect(calls).toEqual([[db, 'gone', true]]);
    expect(await hasCollection(ctx, db, { collectionName: 'gone' })).toEqual({ has: false });
    const t = await ctx.target.query<{ r: string | null }>('SELECT to_regclass($1) AS r', [`"milvus_${db}"."gone"`]);
    expect(t.rows[0]?.r).toBeNull();
    expect(await dropCollection(hookCtx, db, { collectionName: 'gone' })).toEqual({});
    expect(hookCtx.beforeDrop).toHaveBeenCalledTimes(1);
  });

  it('keeps the collection when beforeDrop throws', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, { collectionName: 'kept', dimension: 2 });
    const failing = { ...ctx, beforeDrop: () => Promise.reject(new Error('cannot cancel')) };
    await expect(dropCollection(failing, db, { collectionName: 'kept' })).rejects.toThrow('cannot cancel');
    expect(await hasCollection(ctx, db, { collectionName: 'kept' })).toEqual({ has: true });
  });

  it('counts committed rows exactly in get_stats', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, { collectionName: 's', dimension: 2 });
    expect(await getCollectionStats(ctx, db, { collectionName: 's' })).toEqual({ rowCount: 0 });
    const def = await getCollection(ctx, db, 's');
    const rows = Array.from({ length: 7 }, (_, i) => ({ id: BigInt(i), vector: [i, 1] }));
    await insertEntities(ctx, db, { collectionName: 's', rows: batchOf(def.schema, rows) });
    expect(await getCollectionStats(ctx, db, { collectionName: 's' })).toEqual({ rowCount: 7 });
  });

  it('answers load, release, flush and get_load_state as no-ops', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, { collectionName: 'l', dimension: 2 });
    const body = { collectionName: 'l' };
    expect(await loadCollection(ctx, db, body)).toEqual({});
    expect(await releaseCollection(ctx, db, body)).toEqual({});
    expect(await flushCollection(ctx, db, body)).toEqual({});
    expect(await getLoadState(ctx, db, body)).toEqual({ loadState: 'LoadStateLoaded', loadProgress: 100 });
  });

  it('records indexes, replacing one of the same name, and lists them', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, { collectionName: 'i', dimension: 2 });
    await createIndex(ctx, db, {
      collectionName: 'i',
      indexParams: [{ fieldName: 'id', indexName: 'id_idx', metricType: '', indexType: 'STL_SORT' }],
    });
    await createIndex(ctx, db, {
      collectionName: 'i',
      indexParams: [
        { fieldName: 'vector', indexName: 'vector_idx', metricType: 'IP', indexType: 'HNSW', params: { M: 8 } },
      ],
    });
    expect(await listIndexes(ctx, db, { collectionName: 'i' })).toEqual(['id_idx', 'vector_idx']);
    const d = await describeCollection(ctx, db, { collectionName: 'i' });
    expect(d.indexes).toContainEqual({ fieldName: 'vector', indexName: 'vector_idx', metricType: 'IP' });
    const def = await getCollection(ctx, db, 'i');
    expect(def.indexes.find((x) => x.indexName === 'vector_idx')).toMatchObject({
      indexType: 'HNSW',
      params: { M: 8 },
    });
    expect(
      (await milvusError(createIndex(ctx, db, { collectionName: 'i', indexParams: [{ fieldName: 'nope' }] }))).code,
    ).toBe(1100);
  });
});

describe('partitions', () => {
  it('creates, lists, has and counts partitions; existing create is a success', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, { collectionName: 'p', dimension: 2 });
    expect(await listPartitions(ctx, db, { collectionName: 'p' })).toEqual(['_default']);
    await createPartition(ctx, db, { collectionName: 'p', partitionName: 'p2024' });
    await createPartition(ctx, db, { collectionName: 'p', partitionName: 'p2024' });
    await createPartition(ctx, db, { collectionName: 'p', partitionName: 'a' });
    expect(await listPartitions(ctx, db, { collectionName: 'p' })).toEqual(['_default', 'p2024', 'a']);
    expect(await hasPartition(ctx, db, { collectionName: 'p', partitionName: 'a' })).toEqual({ has: true });
    expect(await hasPartition(ctx, db, { collectionName: 'p', partitionName: 'b' })).toEqual({ has: false });
    expect((await describeCollection(ctx, db, { collectionName: 'p' })).partitionsNum).toBe(3);
    const def = await getCollection(ctx, db, 'p');
    await insertEntities(ctx, db, {
      collectionName: 'p',
      partitionName: 'p2024',
      rows: batchOf(def.schema, [
        { id: 1n, vector: [1, 2] },
        { id: 2n, vector: [1, 2] },
      ]),
    });
    await insertEntities(ctx, db, { collectionName: 'p', rows: batchOf(def.schema, [{ id: 3n, vector: [1, 2] }]) });
    expect(await getPartitionStats(ctx, db, { collectionName: 'p', partitionName: 'p2024' })).toEqual({ rowCount: 2 });
    expect(await getPartitionStats(ctx, db, { collectionName: 'p', partitionName: '_default' })).toEqual({
      rowCount: 1,
    });
    expect(await milvusError(getPartitionStats(ctx, db, { collectionName: 'p', partitionName: 'zz' }))).toEqual({
      code: 200,
      message: 'partition not found[partition=zz]',
    });
    const q = await queryEntities(ctx, db, { collectionName: 'p', partitionNames: ['p2024'], outputFields: ['id'] });
    expect(JSON.parse(serializeJson(q))).toEqual([{ id: '1' }, { id: '2' }]);
    expect((await milvusError(queryEntities(ctx, db, { collectionName: 'p', partitionNames: ['zz'] }))).code).toBe(200);
  });

  it('drops a partition with its rows after beforeDrop, refuses _default, and accepts an absent one', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, { collectionName: 'p', dimension: 2 });
    await createPartition(ctx, db, { collectionName: 'p', partitionName: 'old' });
    const def = await getCollection(ctx, db, 'p');
    await insertEntities(ctx, db, {
      collectionName: 'p',
      partitionName: 'old',
      rows: batchOf(def.schema, [{ id: 1n, vector: [1, 2] }]),
    });
    await insertEntities(ctx, db, { collectionName: 'p', rows: batchOf(def.schema, [{ id: 2n, vector: [1, 2] }]) });
    const hook = vi.fn(async () => undefined);
    await dropPartition({ ...ctx, beforeDrop: hook }, db, { collectionName: 'p', partitionName: 'old' });
    expect(hook).toHaveBeenCalledWith(db, 'p', 'old');
    expect(await listPartitions(ctx, db, { collectionName: 'p' })).toEqual(['_default']);
    expect(await getCollectionStats(ctx, db, { collectionName: 'p' })).toEqual({ rowCount: 1 });
    expect(await dropPartition(ctx, db, { collectionName: 'p', partitionName: 'old' })).toEqual({});
    expect((await milvusError(dropPartition(ctx, db, { collectionName: 'p', partitionName: '_default' }))).code).toBe(
      1100,
    );
  });

  it('caps partitions at 1,024 per collection', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, { collectionName: 'cap', dimension: 2 });
    const def = await getCollection(ctx, db, 'cap');
    // Fill the catalog directly: 1,023 API calls would only test the loop.
    await ctx.catalog.query(
      `INSERT INTO gateway_partitions (collection_id, name) SELECT $1, 'p' || g FROM generate_series(1, 1023) g`,
      [def.id],
    );
    expect(await milvusError(createPartition(ctx, db, { collectionName: 'cap', partitionName: 'one_more' }))).toEqual({
      code: 1100,
      message: 'invalid parameter: a collection has at most 1024 partitions',
    });
    expect(await createPartition(ctx, db, { collectionName: 'cap', partitionName: 'p5' })).toEqual({});
  });

  it('rejects partitionName on insert into a partition-key collection', async () => {
    const db = await freshDb();
    await createCollection(ctx, db, {
      collectionName: 'pk',
      schema: {
        fields: [
          { fieldName: 'id', dataType: 'Int64', isPrimary: true },
          { fieldName: 'tenant', dataType: 'VarChar', isPartitionKey: true, elementTypeParams: { max_length: 16 } },
          { fieldName: 'v', dataType: 'FloatVector', elementTypeParams: { dim: 2 } },
        ],
      },
    });
    const def = await getCollection(ctx, db, 'pk');
    expect((await describeCollection(ctx, db, { collectionName: 'pk' })).fields[1]!.partitionKey).toBe(true);
    const idx = await ctx.target.query<{ def: string }>(
      'SELECT pg_get_indexdef(indexrelid) AS def FROM pg_index WHERE indrelid = $1::regclass',
      [`"milvus_${db}"."pk"`],
    );
    expect(idx.rows.some((r) => r.def.endsWith('USING btree (tenant)'))).toBe(true);
    const rows = batchOf(def.schema, [{ id: 1n, tenant: 't', v: [1, 2] }]);
    expect(
      (await milvusError(insertEntities(ctx, db, { collectionName: 'pk', partitionName: '_default', rows }))).code,
    ).toBe(1100);
    await insertEntities(ctx, db, { collectionName: 'pk', rows });
  });
});

describe('databases', () => {
  it('creates, lists and drops databases; duplicates, default and non-empty ones are refused', async () => {
    const db = newDbName();
    await createDatabase(ctx, { dbName: db });
    expect(await milvusError(createDatabase(ctx, { dbName: db }))).toEqual({
      code: 1100,
      message: `invalid parameter: database already exists: ${db}`,
    });
    const list = await listDatabases(ctx);
    expect(list).toContain('default');
    expect(list).toContain(db);
    expect([...list].sort()).toEqual(list);
    await createCollection(ctx, db, { collectionName: 'c', dimension: 2 });
    expect(await milvusError(dropDatabase(ctx, { dbName: db }))).toEqual({
      code: 1100,
      message: `invalid parameter: database ${db} is not empty`,
    });
    await dropCollection(ctx, db, { collectionName: 'c' });
    expect(await dropDatabase(ctx, { dbName: db })).toEqual({});
    expect(await listDatabases(ctx)).not.toContain(db);
    const s = await ctx.target.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [`milvus_${db}`]);
    expect(s.rowCount).toBe(0);
    expect((await milvusError(dropDatabase(ctx, { dbName: 'default' }))).code).toBe(1100);
    expect((await milvusError(dropDatabase(ctx, { dbName: db }))).code).toBe(800);
    expect((await milvusError(createDatabase(ctx, { dbName: 'default' }))).code).toBe(1100);
    expect((await milvusError(createDatabase(ctx, {}))).code).toBe(1802);
  });

  it('creates the default database and its schema on first use', async () => {
    const name = newName();
    await createCollection(ctx, 'default', { collectionName: name, dimension: 2 });
    const s = await ctx.target.query<{ r: string | null }>(`SELECT to_regclass($1) AS r`, [
      `"milvus_default"."${name}"`,
    ]);
    expect(s.rows[0]?.r).not.toBeNull();
    expect(await listCollections(ctx, 'default')).toContain(name);
    await dropCollection(ctx, 'default', { collectionName: name });
  });

  it('answers the retryable code 2 when PostgreSQL cannot be reached', async () => {
    const down = new pg.Pool({
      connectionString: 'postgresql://postgres@127.0.0.1:1/none',
      connectionTimeoutMillis: 2000,
    });
    try {
      const err = await describeCollection({ catalog: down, target: down, config: { pgvector: 'auto' } }, 'default', {
        collectionName: 'x',
      }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(CollectionsError);
      expect(COLLECTIONS_TO_MILVUS[(err as CollectionsError).code]).toBe(2);
      expect((err as CollectionsError).retryable).toBe(true);
      expect((err as CollectionsError).message).toBe('service unavailable');
    } finally {
      await down.end();
    }
  });

  it('maps every error code to a Milvus code', () => {
    expect(Object.values(CollectionsErrorCode).map((c) => COLLECTIONS_TO_MILVUS[c])).toEqual([
      100, 200, 800, 1100, 1802, 1804, 1806, 2,
    ]);
  });
});
