import pg from 'pg';
import { createCollectionTable, pgRunner, pgSchemaName, type VectorStorage } from '@gw/collections';
import { fieldOf, type CollectionSchema, type FieldSchema } from '@gw/schema';
import { testEnv, uniqueName } from '@gw/testing';

export const ARRAY_STORAGE: VectorStorage = { vectorType: 'array', halfvec: false };

export const field = fieldOf;

export const pk = (name = 'id', extra: Partial<FieldSchema> = {}): FieldSchema =>
  field(name, 'Int64', { isPrimary: true, ...extra });

/** A pool on this run's database and one Milvus database (PostgreSQL schema) for the file's tables. */
export async function setupDb(): Promise<{
  pool: pg.Pool;
  db: string;
  schema: string;
  createCollection: (schema: CollectionSchema, storage?: VectorStorage) => Promise<{ schema: string; name: string }>;
  count: (t: { schema: string; name: string }) => Promise<number>;
}> {
  const pool = new pg.Pool({ connectionString: testEnv().databaseUrl, max: 4 });
  const db = uniqueName('sink');
  const schema = pgSchemaName(db);
  await pool.query(`CREATE SCHEMA "${schema}"`);
  return {
    pool,
    db,
    schema,
    createCollection: async (s, storage = ARRAY_STORAGE) => {
      const name = uniqueName('c');
      await createCollectionTable(pgRunner(pool), db, name, s, storage);
      return { schema, name };
    },
    count: async (t) => {
      const r = await pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM "${t.schema}"."${t.name}"`);
      return Number(r.rows[0]!.n);
    },
  };
}

export async function* fromArray<T>(items: readonly T[]): AsyncGenerator<T> {
  for (const x of items) {
    await Promise.resolve();
    yield x;
  }
}
