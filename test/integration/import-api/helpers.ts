import type { Pool } from 'pg';
import { createCollection, createDatabase, createPartition } from '@gw/collections';
import { uniqueName } from '@gw/testing';

/** A fresh collection (quick form, 4-d vectors) in the given database, created through libs/collections. */
export async function makeCollection(
  pool: Pool,
  opts: { db?: string; partitions?: string[]; partitionKey?: boolean } = {},
): Promise<string> {
  const ctx = { catalog: pool, target: pool, config: { pgvector: 'auto' as const } };
  const db = opts.db ?? 'default';
  const name = uniqueName('c');
  if (opts.partitionKey) {
    await createCollection(ctx, db, {
      collectionName: name,
      schema: {
        fields: [
          { fieldName: 'id', dataType: 'Int64', isPrimary: true },
          { fieldName: 'tenant', dataType: 'VarChar', isPartitionKey: true, elementTypeParams: { max_length: 32 } },
          { fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: 4 } },
        ],
      },
    });
  } else {
    await createCollection(ctx, db, { collectionName: name, dimension: 4 });
  }
  for (const p of opts.partitions ?? []) await createPartition(ctx, db, { collectionName: name, partitionName: p });
  return name;
}

export async function makeDatabase(pool: Pool): Promise<string> {
  const ctx = { catalog: pool, target: pool, config: { pgvector: 'auto' as const } };
  const name = uniqueName('db');
  await createDatabase(ctx, { dbName: name });
  return name;
}
