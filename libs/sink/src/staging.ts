import { quoteIdent } from '@gw/pg';
import { qualifiedName, type TableName } from './copy';
import type { CopyLayout, ExtraColumn } from './layout';

/**
 * Staging column holding the file group a row came from. `$` cannot start a Milvus field name
 * (names match ^[A-Za-z_][A-Za-z0-9_]*$), so it never collides with a field, unlike `_group`.
 */
export const STAGING_GROUP_COLUMN = '$group';

/** The extra column that tags every copied row with its file group (append it to the layout's extras). */
export const groupColumn = (group: number): ExtraColumn => ({
  name: STAGING_GROUP_COLUMN,
  type: 'integer',
  value: group,
});

/**
 * `CREATE TABLE` for a staging table matching the layout: every copied column with its type and
 * nothing else (no keys, CHECKs, NOT NULLs or defaults: the publishing INSERT enforces them on the
 * target), plus `"$group" integer NOT NULL`. The layout's extras should include groupColumn(…).
 * `unlogged` skips WAL (faster, but PostgreSQL empties the table after a crash).
 */
export function stagingTableSql(
  schema: string,
  name: string,
  layout: CopyLayout,
  opts: { unlogged?: boolean } = {},
): string {
  const cols = layout.columns.map((c) =>
    c.name === STAGING_GROUP_COLUMN ? `${c.ident} integer NOT NULL` : `${c.ident} ${c.sqlType}`,
  );
  if (!layout.columns.some((c) => c.name === STAGING_GROUP_COLUMN))
    cols.push(`"${STAGING_GROUP_COLUMN}" integer NOT NULL`);
  return `CREATE ${opts.unlogged === true ? 'UNLOGGED ' : ''}TABLE ${qualifiedName({ schema, name })} (\n  ${cols.join(',\n  ')}\n)`;
}

/**
 * What publish does with a staged row whose primary key the collection already holds (issue 16
 * point 6): `error` fails the job naming the key (the default, and the Milvus behaviour), `skip`
 * keeps the existing row, `upsert` replaces it. Within one job, the last staged row of a key wins
 * under `upsert` (later file group, then later row).
 */
export type ConflictMode = 'error' | 'skip' | 'upsert';

/** Rows a publish wrote, and staged rows that met a key already present. */
export interface PublishedCounts {
  /** Rows written into the collection (inserted, plus replaced under `upsert`). */
  rows: number;
  /** Staged rows whose key was already present or repeated in the job (skip / upsert), else 0. */
  conflictRows: number;
}

/**
 * `INSERT INTO target (cols) SELECT cols FROM staging`: every layout column except the group
 * column. Duplicate keys and CHECK violations surface here; map them with toSinkError(e, { layout }).
 * With a conflict mode other than `error`, the statement answers one row: `written` and `inserted`
 * counts (counted in the server, not returned row by row); read them with publishedCounts.
 */
export function publishSql(
  target: TableName,
  staging: TableName,
  layout: CopyLayout,
  mode: ConflictMode = 'error',
): string {
  const copied = layout.columns.filter((c) => c.name !== STAGING_GROUP_COLUMN);
  const cols = copied.map((c) => c.ident).join(', ');
  const insert = `INSERT INTO ${qualifiedName(target)} (${cols})`;
  if (mode === 'error') return `${insert} SELECT ${cols} FROM ${qualifiedName(staging)}`;
  const pk = primaryKeyColumn(layout);
  if (mode === 'skip') {
    return counted(`${insert} SELECT ${cols} FROM ${qualifiedName(staging)} ON CONFLICT (${pk}) DO NOTHING`);
  }
  // One row per key (ON CONFLICT DO UPDATE cannot touch a row twice): the last staged one wins.
  const group = quoteIdent(STAGING_GROUP_COLUMN);
  const set = copied
    .filter((c) => c.ident !== pk)
    .map((c) => `${c.ident} = EXCLUDED.${c.ident}`)
    .join(', ');
  return counted(
    `${insert} SELECT DISTINCT ON (${pk}) ${cols} FROM ${qualifiedName(staging)} ORDER BY ${pk}, ${group} DESC, ctid DESC ` +
      `ON CONFLICT (${pk}) DO ${set === '' ? 'NOTHING' : `UPDATE SET ${set}`}`,
  );
}

/** Wraps an INSERT so the server counts written and newly inserted rows (xmax = 0: not an update). */
function counted(insert: string): string {
  return `WITH w AS (${insert} RETURNING (xmax = 0) AS inserted) SELECT count(*)::bigint::text AS written, count(*) FILTER (WHERE inserted)::bigint::text AS inserted FROM w`;
}

/** Counts of a publish from its statement's result (publishSql) and the rows that were staged. */
export function publishedCounts(
  mode: ConflictMode,
  result: { rowCount: number | null; rows: readonly { written?: string; inserted?: string }[] },
  staged: number,
): PublishedCounts {
  if (mode === 'error') return { rows: result.rowCount ?? 0, conflictRows: 0 };
  const row = result.rows[0];
  const inserted = Number(row?.inserted ?? 0);
  return { rows: Number(row?.written ?? 0), conflictRows: staged - inserted };
}

function primaryKeyColumn(layout: CopyLayout): string {
  const pk = layout.input.fields.find((f) => f.isPrimary);
  if (pk === undefined || pk.autoId) {
    throw new Error('on_conflict skip/upsert needs a primary key the rows carry (not autoID)');
  }
  return quoteIdent(pk.name);
}
