import { META_FIELD, PARTITION_COLUMN, type CollectionSchema, type FieldSchema, type ScalarType } from '@gw/schema';
import { invalidParameter } from './collections.errors';
import type { VectorStorage } from './model';
import { pgSchemaName, quoteIdent, quoteLiteral, tableRef, type SqlRunner } from './sql';

/** pgvector's largest `vector`/`halfvec` dimension. */
export const PGVECTOR_MAX_DIM = 16_000;

export type PgvectorMode = 'auto' | 'require' | 'off';

export interface PgvectorInfo {
  readonly available: boolean;
  readonly version?: string;
}

/** Whether the `vector` extension is installed in the database behind `q` (shown by /health/ready). */
export async function detectPgvector(q: SqlRunner): Promise<PgvectorInfo> {
  const r = await q.query(`SELECT extversion FROM pg_catalog.pg_extension WHERE extname = 'vector'`);
  const v = r.rows[0]?.extversion;
  return typeof v === 'string' ? { available: true, version: v } : { available: false };
}

function versionAtLeast(version: string | undefined, major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(version ?? '');
  if (!m) return false;
  const [a, b] = [Number(m[1]), Number(m[2])];
  return a > major || (a === major && b >= minor);
}

/**
 * The pgvector rule of spec §3: pgvector when the mode allows it, the extension is installed and
 * every FloatVector/Float16Vector dim fits pgvector; `require` makes anything else an error.
 */
export function chooseVectorStorage(schema: CollectionSchema, mode: PgvectorMode, info: PgvectorInfo): VectorStorage {
  if (mode === 'off') return { vectorType: 'array', halfvec: false };
  const tooBig = schema.fields.find(
    (f) => (f.dataType === 'FloatVector' || f.dataType === 'Float16Vector') && (f.dim ?? 0) > PGVECTOR_MAX_DIM,
  );
  if (!info.available || tooBig) {
    if (mode === 'require') {
      throw invalidParameter(
        info.available
          ? `field ${tooBig!.name}: dim ${tooBig!.dim} exceeds pgvector's limit of ${PGVECTOR_MAX_DIM} and COLLECTIONS_PGVECTOR=require`
          : 'the pgvector extension is not installed in the target database and COLLECTIONS_PGVECTOR=require',
      );
    }
    return { vectorType: 'array', halfvec: false };
  }
  return { vectorType: 'pgvector', halfvec: versionAtLeast(info.version, 0, 7) };
}

const SCALAR_COLUMN: Record<ScalarType, string> = {
  Bool: 'boolean',
  Int8: 'smallint',
  Int16: 'smallint',
  Int32: 'integer',
  Int64: 'bigint',
  Float: 'real',
  Double: 'double precision',
  VarChar: 'text',
};

/** PostgreSQL column type of a field (spec §3 table). */
export function columnType(f: FieldSchema, storage: VectorStorage): string {
  switch (f.dataType) {
    case 'JSON':
    case 'SparseFloatVector':
      return 'jsonb';
    case 'Array':
      return `${SCALAR_COLUMN[f.elementType!]}[]`;
    case 'FloatVector':
      return storage.vectorType === 'pgvector' ? `vector(${f.dim!})` : 'real[]';
    case 'BinaryVector':
      return `bit(${f.dim!})`;
    case 'Float16Vector':
      return storage.halfvec ? `halfvec(${f.dim!})` : 'bytea';
    case 'BFloat16Vector':
      return 'bytea';
    default:
      return SCALAR_COLUMN[f.dataType];
  }
}

/**
 * Constraint name of field i's CHECKs. Named by position, not by field name: a 63-byte field name
 * would be truncated and could collide; the insert path maps the name back to the field.
 */
export const checkConstraintName = (i: number): string => `gw_check_${i}`;

function checks(f: FieldSchema, storage: VectorStorage): string[] {
  const c = quoteIdent(f.name);
  switch (f.dataType) {
    case 'Int8':
      return [`${c} BETWEEN -128 AND 127`];
    case 'VarChar':
      return [`octet_length(${c}) <= ${f.maxLength!}`];
    case 'JSON':
      return [`octet_length(${c}::text) <= 65536`];
    case 'SparseFloatVector':
      return [`jsonb_typeof(${c}) = 'object'`];
    case 'Array':
      return [
        `cardinality(${c}) <= ${f.maxCapacity!}`,
        `coalesce(array_ndims(${c}), 1) = 1`,
        `array_position(${c}, NULL) IS NULL`,
      ];
    case 'FloatVector':
      return storage.vectorType === 'pgvector'
        ? []
        : [`array_ndims(${c}) = 1`, `cardinality(${c}) = ${f.dim!}`, `array_position(${c}, NULL) IS NULL`];
    case 'Float16Vector':
      return storage.halfvec ? [] : [`octet_length(${c}) = ${2 * f.dim!}`];
    case 'BFloat16Vector':
      return [`octet_length(${c}) = ${2 * f.dim!}`];
    default:
      return [];
  }
}

function defaultSql(f: FieldSchema): string {
  const v = f.defaultValue!;
  if (typeof v === 'boolean') return v ? 'TRUE' : 'FALSE';
  if (typeof v === 'number') {
    // Validated finite at parse time; String() of a finite number is a valid SQL numeric literal.
    if (!Number.isFinite(v)) throw new Error('non-finite default');
    return `(${String(v)})::${SCALAR_COLUMN[f.dataType as ScalarType]}`;
  }
  if (f.dataType === 'Int64') {
    if (!/^[+-]?\d+$/.test(v)) throw new Error('bad Int64 default');
    return `(${v})::bigint`;
  }
  return quoteLiteral(v);
}

/** The CREATE TABLE and CREATE INDEX statements of a collection, run in order (one transaction). */
export function createTableSql(db: string, name: string, schema: CollectionSchema, storage: VectorStorage): string[] {
  const table = tableRef(db, name);
  const cols: string[] = [];
  const constraints: string[] = [];
  schema.fields.forEach((f, i) => {
    let col = `${quoteIdent(f.name)} ${columnType(f, storage)}`;
    if (f.isPrimary && f.autoId) col += ' GENERATED BY DEFAULT AS IDENTITY';
    if (!f.nullable) col += ' NOT NULL';
    if (f.defaultValue !== undefined) col += ` DEFAULT ${defaultSql(f)}`;
    cols.push(col);
    const cs = checks(f, storage);
    if (cs.length > 0) constraints.push(`CONSTRAINT ${quoteIdent(checkConstraintName(i))} CHECK (${cs.join(' AND ')})`);
  });
  if (schema.enableDynamicField) {
    cols.push(`${quoteIdent(META_FIELD)} jsonb NOT NULL DEFAULT '{}'`);
    constraints.push(`CONSTRAINT "gw_check_meta" CHECK (jsonb_typeof(${quoteIdent(META_FIELD)}) = 'object')`);
  }
  cols.push(`${quoteIdent(PARTITION_COLUMN)} text NOT NULL DEFAULT '_default'`);
  const pk = schema.fields.find((f) => f.isPrimary)!;
  constraints.push(`PRIMARY KEY (${quoteIdent(pk.name)})`);
  // Index names are left to PostgreSQL: they are schema-wide and it picks unique ones.
  const stmts = [
    `CREATE TABLE ${table} (\n  ${[...cols, ...constraints].join(',\n  ')}\n)`,
    `CREATE INDEX ON ${table} (${quoteIdent(PARTITION_COLUMN)})`,
  ];
  for (const f of schema.fields) {
    if (f.isPartitionKey) stmts.push(`CREATE INDEX ON ${table} (${quoteIdent(f.name)})`);
  }
  return stmts;
}

export const createSchemaSql = (db: string): string => `CREATE SCHEMA IF NOT EXISTS ${quoteIdent(pgSchemaName(db))}`;

/** Runs the DDL of a collection through any SqlRunner (PGlite in tests). */
export async function createCollectionTable(
  q: SqlRunner,
  db: string,
  name: string,
  schema: CollectionSchema,
  storage: VectorStorage,
): Promise<void> {
  for (const s of createTableSql(db, name, schema, storage)) await q.query(s);
}
