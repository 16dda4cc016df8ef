import type { Pool, PoolClient } from 'pg';
import { invalidParameter } from './collections.errors';

/**
 * The one SQL port of this lib: `pg` pools/clients and PGlite both fit behind it, so the DDL,
 * insert and query builders run unchanged against PGlite (which ships pgvector) in tests.
 */
export interface SqlRunner {
  query(text: string, params?: readonly unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}

export function pgRunner(c: Pool | PoolClient): SqlRunner {
  return {
    query: async (text, params) => {
      const r = await c.query<Record<string, unknown>>(text, params === undefined ? undefined : [...params]);
      return { rows: r.rows };
    },
  };
}

/** The one quoteIdent lives in @gw/pg; re-exported for this lib's SQL builders. */
export { quoteIdent } from '@gw/pg';
import { quoteIdent } from '@gw/pg';

/**
 * Quotes a literal for DDL, where PostgreSQL accepts no parameters (column DEFAULTs). Same rules as
 * pg's escapeLiteral: backslashes force the E'' form so the result is right whatever
 * standard_conforming_strings says.
 */
export function quoteLiteral(value: string): string {
  if (value.includes('\u0000')) throw new Error('literal contains NUL');
  const body = value.replace(/'/g, "''");
  return value.includes('\\') ? ` E'${body.replace(/\\/g, '\\\\')}'` : `'${body}'`;
}

/**
 * Builds `$n` placeholders while collecting their values, so values never enter SQL text. Values
 * travel as text and are cast in SQL (`$1::text::bigint`): `pg` and PGlite then serialise every
 * parameter the same way, whatever the target type (vector, bit, arrays…).
 */
export class Params {
  readonly values: unknown[] = [];
  add(value: string | null, cast: string): string {
    if (value !== null && value.includes('\u0000')) throw invalidParameter('values cannot contain NUL characters');
    this.reserve();
    this.values.push(value);
    const p = `$${this.values.length}`;
    return cast === 'text' ? `${p}::text` : `${p}::text::${cast}`;
  }
  addBytes(value: Uint8Array | null): string {
    this.reserve();
    this.values.push(value);
    return `$${this.values.length}::bytea`;
  }
  /**
   * The wire protocol numbers parameters with 16 bits: past 65,535 PostgreSQL refuses the
   * statement, which reads as "service unavailable". Too many values is the caller's mistake (1100).
   */
  private reserve(): void {
    if (this.values.length >= MAX_BIND_PARAMETERS) {
      throw invalidParameter(`too many values in one request (at most ${MAX_BIND_PARAMETERS.toLocaleString('en-US')})`);
    }
  }
}

export const MAX_BIND_PARAMETERS = 65_535;

/** `"milvus_<db>"`: the PostgreSQL schema holding a Milvus database's tables. */
export const pgSchemaName = (db: string): string => `milvus_${db}`;

export const tableRef = (db: string, collection: string): string =>
  `${quoteIdent(pgSchemaName(db))}.${quoteIdent(collection)}`;
