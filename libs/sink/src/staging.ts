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
 * `INSERT INTO target (cols) SELECT cols FROM staging`: every layout column except the group
 * column. Duplicate keys and CHECK violations surface here; map them with toSinkError(e, { layout }).
 */
export function publishSql(target: TableName, staging: TableName, layout: CopyLayout): string {
  const cols = layout.columns
    .filter((c) => c.name !== STAGING_GROUP_COLUMN)
    .map((c) => c.ident)
    .join(', ');
  return `INSERT INTO ${qualifiedName(target)} (${cols}) SELECT ${cols} FROM ${qualifiedName(staging)}`;
}
