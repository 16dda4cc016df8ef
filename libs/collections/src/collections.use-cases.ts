import { z } from 'zod';
import { canonicalJson, type FieldSchema } from '@gw/schema';
import { parseBody } from './body';
import {
  DEFAULT_DB,
  DEFAULT_PARTITION,
  createSchemaTolerant,
  listPartitionNames,
  partitionExists,
  readCollection,
  requireCollection,
  resolveDatabase,
  storedSchemaJson,
} from './catalog';
import { invalidParameter, partitionNotFound } from './collections.errors';
import { guard, withCatalogAndTarget, withTx, type CollectionsContext } from './context';
import { parseCreateCollection, parseIndexParams, indexParamZ } from './create-request';
import { chooseVectorStorage, createTableSql, detectPgvector, type PgvectorInfo } from './ddl';
import type { CollectionDef, IndexParam } from './model';
import { checkName } from './names';
import { dbText } from './rows';
import { pgRunner, pgSchemaName, quoteIdent, type SqlRunner, tableRef } from './sql';

/*
 * Collection, partition, index and database use-cases (spec §1). Each takes the context, the
 * resolved Milvus database name and the JSON body (empty values already removed), validates the
 * body with zod and returns the exact `data` of the Milvus response.
 */

export type Empty = Record<string, never>;
const EMPTY: Empty = {};

const collectionZ = z.object({ collectionName: z.string() });

const sameSchema = (a: CollectionDef['schema'], b: CollectionDef['schema']): boolean =>
  canonicalJson(a) === canonicalJson(b);

// ---------------------------------------------------------------- collections

/** collections/create (§4): quick or schema form; same schema again → no-op, different → 1100. */
export async function createCollection(ctx: CollectionsContext, db: string, body: unknown): Promise<Empty> {
  const spec = parseCreateCollection(body);
  await resolveDatabase(ctx, db);
  const judgeExisting = async (q: SqlRunner): Promise<Empty | null> => {
    const existing = await guard(readCollection(q, db, spec.name));
    if (!existing) return null;
    if (sameSchema(existing.schema, spec.schema)) return EMPTY;
    throw invalidParameter('collection already exists with a different schema');
  };
  // The common case (it exists already) answers without taking a lock.
  const before = await judgeExisting(pgRunner(ctx.catalog));
  if (before) return before;
  const info: PgvectorInfo =
    ctx.config.pgvector === 'off' ? { available: false } : await guard(detectPgvector(pgRunner(ctx.target)));
  const storage = chooseVectorStorage(spec.schema, ctx.config.pgvector, info);
  const ddl = createTableSql(db, spec.name, spec.schema, storage);
  try {
    return await withCatalogAndTarget(
      ctx,
      {
        commitFirst: 'target',
        // Separate databases: the table committed but the catalog row did not; remove the table.
        compensate: async (t) => {
          await t.query(`DROP TABLE IF EXISTS ${tableRef(db, spec.name)}`);
        },
      },
      async (cat, tgt) => {
        // Concurrent creates of one name queue here, across API processes, until the first one's
        // catalog row commits (the catalog commits last); each then sees it and judges its schema.
        await cat.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [
          `igw:collection-create:${db}.${spec.name}`,
        ]);
        const raced = await judgeExisting(cat);
        if (raced) return raced;
        await createSchemaTolerant(tgt, db, true);
        for (const s of ddl) await tgt.query(s);
        const r = await cat.query(
          `INSERT INTO gateway_collections (db_name, name, description, schema, index_params, params, vector_type)
           VALUES ($1, $2, $3, $4::jsonb, $5::jsonb, $6::jsonb, $7) RETURNING id::text AS id`,
          [
            db,
            spec.name,
            spec.description,
            storedSchemaJson(spec.schema, storage),
            JSON.stringify(spec.indexes),
            JSON.stringify(spec.params),
            storage.vectorType,
          ],
        );
        await cat.query('INSERT INTO gateway_partitions (collection_id, name) VALUES ($1, $2)', [
          r.rows[0]!.id,
          DEFAULT_PARTITION,
        ]);
        return EMPTY;
      },
    );
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === '23505' || code === '42P07') {
      // Under the lock only a table made outside the gateway (or a dropped-but-lingering one) is left.
      throw invalidParameter(`table ${pgSchemaName(db)}.${spec.name} already exists outside the gateway catalog`);
    }
    throw e;
  }
}

export interface DescribeField {
  name: string;
  type: string;
  primaryKey: boolean;
  autoId: boolean;
  partitionKey: boolean;
  clusteringKey: boolean;
  nullable: boolean;
  description: string;
  params?: { key: string; value: string }[];
  elementType?: string;
  defaultValue?: boolean | number | string;
}

export interface DescribeData {
  collectionName: string;
  collectionID: number;
  description: string;
  autoId: boolean;
  enableDynamicField: boolean;
  fields: DescribeField[];
  functions: never[];
  aliases: never[];
  indexes: { fieldName: string; indexName: string; metricType: string }[];
  load: 'LoadStateLoaded';
  shardsNum: number;
  partitionsNum: number;
  consistencyLevel: string;
  properties: { key: string; value: string }[];
}

function describeField(f: FieldSchema): DescribeField {
  const params: { key: string; value: string }[] = [];
  if (f.dim !== undefined) params.push({ key: 'dim', value: String(f.dim) });
  if (f.maxLength !== undefined) params.push({ key: 'max_length', value: String(f.maxLength) });
  if (f.maxCapacity !== undefined) params.push({ key: 'max_capacity', value: String(f.maxCapacity) });
  return {
    name: f.name,
    type: f.dataType,
    primaryKey: f.isPrimary,
    autoId: f.autoId,
    partitionKey: f.isPartitionKey,
    clusteringKey: f.isClusteringKey,
    nullable: f.nullable,
    description: f.description,
    ...(params.length > 0 ? { params } : {}),
    ...(f.elementType !== undefined ? { elementType: f.elementType } : {}),
    ...(f.defaultValue !== undefined ? { defaultValue: f.defaultValue } : {}),
  };
}

/** collections/describe (§5). */
export async function describeCollection(ctx: CollectionsContext, db: string, body: unknown): Promise<DescribeData> {
  const { collectionName } = parseBody(collectionZ, body);
  const def = await requireCollection(ctx, db, collectionName);
  const partitions = await guard(listPartitionNames(pgRunner(ctx.catalog), def.id));
  return {
    collectionName: def.name,
    collectionID: def.id,
    description: def.description,
    autoId: def.schema.fields.some((f) => f.isPrimary && f.autoId),
    enableDynamicField: def.schema.enableDynamicField,
    fields: def.schema.fields.map(describeField),
    functions: [],
    aliases: [],
    indexes: def.indexes.map((i) => ({ fieldName: i.fieldName, indexName: i.indexName, metricType: i.metricType })),
    load: 'LoadStateLoaded',
    shardsNum: 1,
    partitionsNum: partitions.length,
    consistencyLevel: def.params.consistencyLevel ?? 'Bounded',
    properties: [{ key: 'gateway.vectorType', value: def.storage.vectorType }],
  };
}

/** collections/list: names sorted by name (byte order). */
export async function listCollections(ctx: CollectionsContext, db: string, _body?: unknown): Promise<string[]> {
  await resolveDatabase(ctx, db);
  const r = await guard(
    ctx.catalog.query<{ name: string }>(
      'SELECT name FROM gateway_collections WHERE db_name = $1 ORDER BY name COLLATE "C"',
      [db],
    ),
  );
  return r.rows.map((x) => x.name);
}

/** collections/has. */
export async function hasCollection(ctx: CollectionsContext, db: string, body: unknown): Promise<{ has: boolean }> {
  const { collectionName } = parseBody(collectionZ, body);
  await resolveDatabase(ctx, db);
  return { has: (await guard(readCollection(pgRunner(ctx.catalog), db, collectionName))) !== null };
}

/** collections/drop: cancels the collection's imports (beforeDrop), then drops table and catalog rows. */
export async function dropCollection(ctx: CollectionsContext, db: string, body: unknown): Promise<Empty> {
  const { collectionName } = parseBody(collectionZ, body);
  await resolveDatabase(ctx, db);
  const def = await guard(readCollection(pgRunner(ctx.catalog), db, collectionName));
  if (!def) return EMPTY;
  if (ctx.beforeDrop) await ctx.beforeDrop(db, collectionName);
  // Separate databases: the catalog row goes first, so a failure can leave an unused table but
  // never a catalog entry whose table is gone.
  await withCatalogAndTarget(ctx, { commitFirst: 'catalog' }, async (cat, tgt) => {
    await cat.query('DELETE FROM gateway_collections WHERE id = $1', [def.id]);
    await tgt.query(`DROP TABLE IF EXISTS ${tableRef(db, collectionName)}`);
  });
  return EMPTY;
}

/** collections/get_stats: exact count of committed rows. */
export async function getCollectionStats(
  ctx: CollectionsContext,
  db: string,
  body: unknown,
): Promise<{ rowCount: number }> {
  const { collectionName } = parseBody(collectionZ, body);
  const def = await requireCollection(ctx, db, collectionName);
  const r = await guard(ctx.target.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${tableRef(db, def.name)}`));
  return { rowCount: Number(r.rows[0]!.n) };
}

/** collections/load, release, flush: compatibility no-ops that still need the collection (100). */
export async function loadCollection(ctx: CollectionsContext, db: string, body: unknown): Promise<Empty> {
  const { collectionName } = parseBody(collectionZ, body);
  await requireCollection(ctx, db, collectionName);
  return EMPTY;
}
export const releaseCollection = loadCollection;
export const flushCollection = loadCollection;

/** collections/get_load_state: always loaded (rows are queryable as soon as committed). */
export async function getLoadState(
  ctx: CollectionsContext,
  db: string,
  body: unknown,
): Promise<{ loadState: 'LoadStateLoaded'; loadProgress: 100 }> {
  await loadCollection(ctx, db, body);
  return { loadState: 'LoadStateLoaded', loadProgress: 100 };
}

// ---------------------------------------------------------------- indexes

const createIndexZ = z.object({ collectionName: z.string(), indexParams: z.array(indexParamZ) });

/** indexes/create: recorded in the catalog only (no vector index is built); same name replaces. */
export async function createIndex(ctx: CollectionsContext, db: string, body: unknown): Promise<Empty> {
  const b = parseBody(createIndexZ, body);
  const def = await requireCollection(ctx, db, b.collectionName);
  const added = parseIndexParams(b.indexParams, def.schema.fields);
  await withTx(ctx.catalog, async (q) => {
    // Re-read under a row lock so concurrent index creates do not lose each other's entries.
    const r = await q.query('SELECT index_params::text AS ip FROM gateway_collections WHERE id = $1 FOR UPDATE', [
      def.id,
    ]);
    const current = JSON.parse(dbText(r.rows[0]?.ip ?? '[]')) as IndexParam[];
    const merged = [...current.filter((i) => !added.some((a) => a.indexName === i.indexName)), ...added];
    await q.query('UPDATE gateway_collections SET index_params = $2::jsonb WHERE id = $1', [
      def.id,
      JSON.stringify(merged),
    ]);
  });
  return EMPTY;
}

/** indexes/list: the recorded index names. */
export async function listIndexes(ctx: CollectionsContext, db: string, body: unknown): Promise<string[]> {
  const { collectionName } = parseBody(collectionZ, body);
  const def = await requireCollection(ctx, db, collectionName);
  return def.indexes.map((i) => i.indexName);
}

// ---------------------------------------------------------------- partitions

export const MAX_PARTITIONS = 1024;
const partitionZ = z.object({ collectionName: z.string(), partitionName: z.string() });

/** partitions/create: existing is a success; at most 1,024 per collection. */
export async function createPartition(ctx: CollectionsContext, db: string, body: unknown): Promise<Empty> {
  const b = parseBody(partitionZ, body);
  const def = await requireCollection(ctx, db, b.collectionName);
  const name = checkName('partition', b.partitionName);
  if (def.schema.fields.some((f) => f.isPartitionKey)) {
    throw invalidParameter('partitions cannot be created in a collection with a partition key field');
  }
  await withTx(ctx.catalog, async (q) => {
    // Lock the collection row so the 1,024 cap holds under concurrent creates.
    await q.query('SELECT 1 FROM gateway_collections WHERE id = $1 FOR UPDATE', [def.id]);
    if (await partitionExists(q, def.id, name)) return;
    const r = await q.query('SELECT count(*)::int AS n FROM gateway_partitions WHERE collection_id = $1', [def.id]);
    if (Number(r.rows[0]!.n) >= MAX_PARTITIONS) {
      throw invalidParameter(`a collection has at most ${MAX_PARTITIONS} partitions`);
    }
    await q.query('INSERT INTO gateway_partitions (collection_id, name) VALUES ($1, $2)', [def.id, name]);
  });
  return EMPTY;
}

/** partitions/list: `_default` first, then in creation order. */
export async function listPartitions(ctx: CollectionsContext, db: string, body: unknown): Promise<string[]> {
  const { collectionName } = parseBody(collectionZ, body);
  const def = await requireCollection(ctx, db, collectionName);
  return guard(listPartitionNames(pgRunner(ctx.catalog), def.id));
}

/** partitions/has. */
export async function hasPartition(ctx: CollectionsContext, db: string, body: unknown): Promise<{ has: boolean }> {
  const b = parseBody(partitionZ, body);
  const def = await requireCollection(ctx, db, b.collectionName);
  return { has: await guard(partitionExists(pgRunner(ctx.catalog), def.id, b.partitionName)) };
}

/** partitions/drop: `_default` → 1100; absent is a success; cancels imports, then deletes the rows. */
export async function dropPartition(ctx: CollectionsContext, db: string, body: unknown): Promise<Empty> {
  const b = parseBody(partitionZ, body);
  const def = await requireCollection(ctx, db, b.collectionName);
  if (b.partitionName === DEFAULT_PARTITION) throw invalidParameter('the default partition cannot be dropped');
  if (!(await guard(partitionExists(pgRunner(ctx.catalog), def.id, b.partitionName)))) return EMPTY;
  if (ctx.beforeDrop) await ctx.beforeDrop(db, def.name, b.partitionName);
  // Rows first: a failure after that leaves an empty but listed partition, never orphan rows.
  await withCatalogAndTarget(ctx, { commitFirst: 'target' }, async (cat, tgt) => {
    await tgt.query(`DELETE FROM ${tableRef(db, def.name)} WHERE ${quoteIdent('$partition')} = $1`, [b.partitionName]);
    await cat.query('DELETE FROM gateway_partitions WHERE collection_id = $1 AND name = $2', [def.id, b.partitionName]);
  });
  return EMPTY;
}

/** partitions/get_stats: committed rows of one partition (200 when it does not exist). */
export async function getPartitionStats(
  ctx: CollectionsContext,
  db: string,
  body: unknown,
): Promise<{ rowCount: number }> {
  const b = parseBody(partitionZ, body);
  const def = await requireCollection(ctx, db, b.collectionName);
  if (!(await guard(partitionExists(pgRunner(ctx.catalog), def.id, b.partitionName)))) {
    throw partitionNotFound(b.partitionName);
  }
  const r = await guard(
    ctx.target.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${tableRef(db, def.name)} WHERE ${quoteIdent('$partition')} = $1`,
      [b.partitionName],
    ),
  );
  return { rowCount: Number(r.rows[0]!.n) };
}

// ---------------------------------------------------------------- databases

const dbZ = z.object({ dbName: z.string() });

/** databases/create: schema "milvus_<name>" plus the catalog row; an existing database → 1100. */
export async function createDatabase(ctx: CollectionsContext, body: unknown): Promise<Empty> {
  const { dbName } = parseBody(dbZ, body);
  checkName('database', dbName);
  if (dbName === DEFAULT_DB) await resolveDatabase(ctx, DEFAULT_DB);
  try {
    await withCatalogAndTarget(ctx, { commitFirst: 'target' }, async (cat, tgt) => {
      await cat.query('INSERT INTO gateway_databases (name) VALUES ($1)', [dbName]);
      // IF NOT EXISTS: a schema left by an earlier failed create is adopted, not an error.
      await createSchemaTolerant(tgt, dbName, true);
    });
  } catch (e) {
    if ((e as { code?: unknown }).code === '23505') throw invalidParameter(`database already exists: ${dbName}`);
    throw e;
  }
  return EMPTY;
}

/** databases/list: `default` included (created on first use), sorted by name. */
export async function listDatabases(ctx: CollectionsContext, _body?: unknown): Promise<string[]> {
  await resolveDatabase(ctx, DEFAULT_DB);
  const r = await guard(
    ctx.catalog.query<{ name: string }>('SELECT name FROM gateway_databases ORDER BY name COLLATE "C"'),
  );
  return r.rows.map((x) => x.name);
}

/** databases/drop: `default` or a database with collections → 1100; unknown → 800. */
export async function dropDatabase(ctx: CollectionsContext, body: unknown): Promise<Empty> {
  const { dbName } = parseBody(dbZ, body);
  if (dbName === DEFAULT_DB) throw invalidParameter('the default database cannot be dropped');
  await resolveDatabase(ctx, dbName);
  await withCatalogAndTarget(ctx, { commitFirst: 'catalog' }, async (cat, tgt) => {
    const r = await cat.query('SELECT count(*)::int AS n FROM gateway_collections WHERE db_name = $1', [dbName]);
    if (Number(r.rows[0]!.n) > 0) throw invalidParameter(`database ${dbName} is not empty`);
    await cat.query('DELETE FROM gateway_databases WHERE name = $1', [dbName]);
    try {
      // RESTRICT: never drops tables PostgreSQL still holds there (e.g. orphans of a failed drop).
      await tgt.query(`DROP SCHEMA IF EXISTS ${quoteIdent(pgSchemaName(dbName))} RESTRICT`);
    } catch (e) {
      if ((e as { code?: unknown }).code === '2BP01') throw invalidParameter(`database ${dbName} is not empty`);
      throw e;
    }
  });
  return EMPTY;
}
