import pg from 'pg';
import type { CollectionSchema, Column, RowBatch } from '@gw/schema';
import type { CollectionsContext } from '@gw/collections';
import { testEnv, uniqueName } from '@gw/testing';

/** Pools on this run's database (catalog and target are the same database, as by default). */
export function makeContext(
  overrides: Partial<CollectionsContext> = {},
): CollectionsContext & { close: () => Promise<void> } {
  const pool = new pg.Pool({ connectionString: testEnv().databaseUrl, max: 4 });
  return {
    catalog: pool,
    target: pool,
    config: { pgvector: 'auto' },
    ...overrides,
    close: () => pool.end(),
  };
}

export const newDbName = (): string => uniqueName('db');
export const newName = (): string => uniqueName('c');

type Cell = unknown;

/**
 * A RowBatch from row objects, for tests only (the real conversion and validation belong to
 * libs/schema). Values must already have the right JS types; Int64 as bigint or number.
 */
export function batchOf(schema: CollectionSchema, rows: Record<string, Cell>[]): RowBatch {
  const n = rows.length;
  const columns = new Map<string, Column>();
  for (const f of schema.fields) {
    if (f.isPrimary && f.autoId) continue;
    const vals = rows.map((r) => r[f.name]);
    const valid = vals.some((v) => v === null || v === undefined)
      ? Uint8Array.from(vals, (v) => (v === null || v === undefined ? 0 : 1))
      : null;
    switch (f.dataType) {
      case 'Bool':
        columns.set(f.name, { kind: 'bool', values: Uint8Array.from(vals, (v) => (v === true ? 1 : 0)), valid });
        break;
      case 'Int8':
      case 'Int16':
      case 'Int32':
        columns.set(f.name, { kind: 'int32', values: Int32Array.from(vals, (v) => Number(v ?? 0)), valid });
        break;
      case 'Int64':
        columns.set(f.name, {
          kind: 'int64',
          values: BigInt64Array.from(vals, (v) => BigInt((v as bigint | number | undefined) ?? 0)),
          valid,
        });
        break;
      case 'Float':
        columns.set(f.name, { kind: 'float32', values: Float32Array.from(vals, (v) => Number(v ?? 0)), valid });
        break;
      case 'Double':
        columns.set(f.name, { kind: 'float64', values: Float64Array.from(vals, (v) => Number(v ?? 0)), valid });
        break;
      case 'VarChar':
        columns.set(f.name, { kind: 'text', values: vals.map((v) => (v === undefined ? null : (v as string | null))) });
        break;
      case 'JSON':
      case 'SparseFloatVector':
        columns.set(f.name, {
          kind: 'text',
          values: vals.map((v) => (v === undefined || v === null ? null : JSON.stringify(v))),
        });
        break;
      case 'Array':
        columns.set(f.name, {
          kind: 'array',
          values: vals.map((v) =>
            v === undefined || v === null ? null : (v as (boolean | number | bigint | string)[]),
          ),
        });
        break;
      case 'FloatVector': {
        const dim = f.dim!;
        const out = new Float32Array(n * dim);
        vals.forEach((v, i) => out.set(v as number[], i * dim));
        columns.set(f.name, { kind: 'floatVector', dim, values: out });
        break;
      }
      case 'BinaryVector':
      case 'Float16Vector':
      case 'BFloat16Vector': {
        const width = f.dataType === 'BinaryVector' ? f.dim! / 8 : 2 * f.dim!;
        const out = new Uint8Array(n * width);
        vals.forEach((v, i) => out.set(v as Uint8Array, i * width));
        columns.set(f.name, { kind: 'bytes', width, values: out });
        break;
      }
    }
  }
  const fieldNames = new Set(schema.fields.map((f) => f.name));
  const meta = schema.enableDynamicField
    ? rows.map((r) => JSON.stringify(Object.fromEntries(Object.entries(r).filter(([k]) => !fieldNames.has(k)))))
    : null;
  return { file: 'request', firstRow: 1, rowCount: n, columns, meta };
}
