import type { CollectionSchema, FieldSchema } from '@gw/schema';
import { databaseNotFound, collectionNotFound } from './collections.errors';
import { createSchemaSql } from './ddl';
import { guard, sameDatabase, type CollectionsContext } from './context';
import type { CollectionDef, CollectionParams, IndexParam, VectorStorage } from './model';
import { NAME_LIMITS } from './names';
import { pgRunner, type SqlRunner } from './sql';

/*
 * The catalog tables of the init migration (gateway_databases, gateway_collections,
 * gateway_partitions), read and written with plain SQL through `pg`.
 */

export const DEFAULT_DB = 'default';
export const DEFAULT_PARTITION = '_default';

/** What gateway_collections.schema holds: the Milvus schema plus the Float16 storage choice. */
interface StoredSchema {
  fields: FieldSchema[];
  enableDynamicField: boolean;
  halfvec: boolean;
}

export function storedSchemaJson(schema: CollectionSchema, storage: VectorStorage): string {
  const s: StoredSchema = {
    fields: [...schema.fields],
    enableDynamicField: schema.enableDynamicField,
    halfvec: storage.halfvec,
  };
  return JSON.stringify(s);
}

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A name a database could have: anything else cannot exist (and never reaches PostgreSQL). */
const isDatabaseName = (db: string): boolean => NAME_RE.test(db) && db.length <= NAME_LIMITS.database;

/**
 * Resolves a Milvus database (spec: every route does this first). `default` is created on first
 * use, in the catalog and as schema "milvus_default" in the target database; others must exist (800).
 */
export async function resolveDatabase(ctx: CollectionsContext, db: string): Promise<void> {
  if (!isDatabaseName(db)) throw databaseNotFound(db);
  const r = await guard(ctx.catalog.query('SELECT 1 FROM gateway_databases WHERE name = $1', [db]));
  if (r.rowCount !== null && r.rowCount > 0) return;
  if (db !== DEFAULT_DB) throw databaseNotFound(db);
  await guard(createSchemaTolerant(pgRunner(ctx.target), db));
  await guard(
    ctx.catalog.query('INSERT INTO gateway_databases (name) VALUES ($1) ON CONFLICT (name) DO NOTHING', [db]),
  );
}

/**
 * CREATE SCHEMA IF NOT EXISTS still races with itself (unique violation on pg_namespace); either
 * outcome is fine. `inTransaction`: wrap it in a savepoint so a lost race does not abort the
 * caller's transaction.
 */
export async function createSchemaTolerant(q: SqlRunner, db: string, inTransaction = false): Promise<void> {
  if (inTransaction) await q.query('SAVEPOINT gw_create_schema');
  try {
    await q.query(createSchemaSql(db));
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code !== '23505' && code !== '42P06') throw e;
    if (inTransaction) await q.query('ROLLBACK TO SAVEPOINT gw_create_schema');
    return;
  }
  if (inTransaction) await q.query('RELEASE SAVEPOINT gw_create_schema');
}

const COLLECTION_COLUMNS = `c.id::text AS id, c.description, c.schema::text AS schema,
       c.index_params::text AS index_params, c.params::text AS params, c.vector_type`;

export async function readCollection(q: SqlRunner, db: string, name: string): Promise<CollectionDef | null> {
  // A name outside the rules cannot exist; it also never reaches PostgreSQL (NUL bytes would fail there).
  if (!NAME_RE.test(name)) return null;
  const r = await q.query(
    `SELECT ${COLLECTION_COLUMNS} FROM gateway_collections c WHERE c.db_name = $1 AND c.name = $2`,
    [db, name],
  );
  const row = r.rows[0];
  return row === undefined ? null : collectionFromRow(db, name, row);
}

function collectionFromRow(db: string, name: string, row: Record<string, unknown>): CollectionDef {
  const stored = JSON.parse(String(row.schema)) as StoredSchema;
  return {
    id: Number(row.id),
    db,
    name,
    description: String(row.description),
    schema: { fields: stored.fields, enableDynamicField: stored.enableDynamicField },
    indexes: JSON.parse(String(row.index_params)) as IndexParam[],
    params: JSON.parse(String(row.params)) as CollectionParams,
    storage: { vectorType: row.vector_type === 'pgvector' ? 'pgvector' : 'array', halfvec: stored.halfvec },
  };
}

/** Resolves the database, then the collection (100 when absent). */
export async function requireCollection(ctx: CollectionsContext, db: string, name: string): Promise<CollectionDef> {
  // The usual case in one round trip (every import create and collection route passes here): the
  // database and the collection both exist. Anything else takes the full path below, which answers
  // 800 or creates `default` on first use, then 100.
  if (isDatabaseName(db) && NAME_RE.test(name)) {
    const r = await guard(
      ctx.catalog.query({
        name: 'igw_require_collection', // parsed and planned once per connection
        text: `SELECT ${COLLECTION_COLUMNS} FROM gateway_collections c
          WHERE c.db_name = $1 AND c.name = $2 AND EXISTS (SELECT 1 FROM gateway_databases d WHERE d.name = $1)`,
        values: [db, name],
      }),
    );
    const row = r.rows[0] as Record<string, unknown> | undefined;
    if (row !== undefined) return collectionFromRow(db, name, row);
  }
  await resolveDatabase(ctx, db);
  const def = await guard(readCollection(pgRunner(ctx.catalog), db, name));
  if (!def) throw collectionNotFound(name);
  return def;
}

export async function listPartitionNames(q: SqlRunner, collectionId: number): Promise<string[]> {
  const r = await q.query(
    `SELECT name FROM gateway_partitions WHERE collection_id = $1
      ORDER BY (name <> '_default'), created_at, name COLLATE "C"`,
    [collectionId],
  );
  return r.rows.map((x) => String(x.name));
}

export async function partitionExists(q: SqlRunner, collectionId: number, name: string): Promise<boolean> {
  if (!NAME_RE.test(name)) return false;
  const r = await q.query('SELECT 1 FROM gateway_partitions WHERE collection_id = $1 AND name = $2', [
    collectionId,
    name,
  ]);
  return r.rows.length > 0;
}

export { sameDatabase };
