import {
  fromFloat16Bits,
  META_FIELD,
  PARTITION_COLUMN,
  toFloat16Bits,
  type Column,
  type FieldSchema,
  type RowBatch,
} from '@gw/schema';
import { columnType } from './ddl';
import { insertRejected } from './collections.errors';
import { float32Shortest, JsonInt64, RawJson, toBase64, type JsonOut } from './json-out';
import type { CollectionDef } from './model';
import { pgTextArray } from './filter';
import { Params, quoteIdent, tableRef, type SqlRunner } from './sql';

/*
 * Row encoding (RowBatch → INSERT parameters) and decoding (SELECT rows → response values), kept
 * independent of the pool so PGlite can run them. Parameterised multi-row INSERT is enough for the
 * entities/insert route; bulk imports go through the COPY sink.
 */

/** Bound parameters per INSERT statement, well under PostgreSQL's 65,535. */
const MAX_PARAMS = 30_000;
const MAX_ROWS_PER_STATEMENT = 1_000;

export interface InsertPlan {
  readonly statements: readonly { text: string; values: readonly unknown[]; rowOffset: number }[];
  /** SELECT list of RETURNING: the generated primary key as text (autoId only). */
  readonly returnsIds: boolean;
}

/** Builds the INSERT statements of a batch (rows in input order, `$partition` set to `partition`). */
export function buildInsert(def: CollectionDef, batch: RowBatch, partition: string): InsertPlan {
  const fields = def.schema.fields.filter((f) => !(f.isPrimary && f.autoId));
  const pk = def.schema.fields.find((f) => f.isPrimary)!;
  const cols = fields.map((f) => {
    const c = batch.columns.get(f.name);
    if (!c) throw insertRejected(`value of field '${f.name}' is missed`);
    return { f, c, cast: columnType(f, def.storage) };
  });
  const withMeta = def.schema.enableDynamicField;
  const names = [...fields.map((f) => quoteIdent(f.name))];
  if (withMeta) names.push(quoteIdent(META_FIELD));
  names.push(quoteIdent(PARTITION_COLUMN));
  const perRow = names.length;
  const rowsPerStmt = Math.max(1, Math.min(MAX_ROWS_PER_STATEMENT, Math.floor(MAX_PARAMS / perRow)));
  const returning = pk.autoId ? ` RETURNING ${quoteIdent(pk.name)}::text AS id` : '';
  const statements: { text: string; values: readonly unknown[]; rowOffset: number }[] = [];
  for (let start = 0; start < batch.rowCount; start += rowsPerStmt) {
    const end = Math.min(batch.rowCount, start + rowsPerStmt);
    const p = new Params();
    const tuples: string[] = [];
    for (let r = start; r < end; r++) {
      const vals = cols.map(({ f, c, cast }) => encodeCell(p, f, c, r, cast));
      if (withMeta) vals.push(p.add(batch.meta?.[r] ?? '{}', 'jsonb'));
      vals.push(p.add(partition, 'text'));
      tuples.push(`(${vals.join(', ')})`);
    }
    statements.push({
      text: `INSERT INTO ${tableRef(def.db, def.name)} (${names.join(', ')}) VALUES ${tuples.join(', ')}${returning}`,
      values: p.values,
      rowOffset: start,
    });
  }
  return { statements, returnsIds: pk.autoId };
}

const isNull = (valid: Uint8Array | null, r: number): boolean => valid !== null && valid[r] === 0;

function encodeCell(p: Params, f: FieldSchema, c: Column, r: number, cast: string): string {
  switch (c.kind) {
    case 'bool':
      return p.add(isNull(c.valid, r) ? null : c.values[r] ? 'true' : 'false', cast);
    case 'int32':
    case 'float64':
      return p.add(isNull(c.valid, r) ? null : String(c.values[r]), cast);
    case 'float32':
      // The double of a float32 printed in full reads back as the same float32 in `real`.
      return p.add(isNull(c.valid, r) ? null : String(c.values[r]), cast);
    case 'int64':
      return p.add(isNull(c.valid, r) ? null : c.values[r]!.toString(), cast);
    case 'text':
      return p.add(c.values[r] ?? null, cast);
    case 'array': {
      const v = c.values[r];
      if (v === null || v === undefined) return p.add(null, cast);
      return p.add(pgTextArray(v.map((e) => (typeof e === 'boolean' ? (e ? 'true' : 'false') : String(e)))), cast);
    }
    case 'floatVector': {
      const row = c.values.subarray(r * c.dim, (r + 1) * c.dim);
      const nums = Array.from(row, (x) => String(x)).join(',');
      return p.add(cast.startsWith('vector') ? `[${nums}]` : `{${nums}}`, cast);
    }
    case 'bytes': {
      const row = c.values.subarray(r * c.width, (r + 1) * c.width);
      if (f.dataType === 'BinaryVector') return p.add(bytesToBits(row), cast);
      if (cast.startsWith('halfvec')) {
        const dv = new DataView(row.buffer, row.byteOffset, row.byteLength);
        const nums: string[] = [];
        for (let i = 0; i < row.byteLength; i += 2) nums.push(String(fromFloat16Bits(dv.getUint16(i, true))));
        return p.add(`[${nums.join(',')}]`, cast);
      }
      return p.addBytes(row);
    }
  }
}

/** Milvus packs binary vectors most significant bit first, as PostgreSQL `bit` strings read. */
export function bytesToBits(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b.toString(2).padStart(8, '0');
  return s;
}

export function bitsToBytes(bits: string): Uint8Array {
  const out = new Uint8Array(Math.ceil(bits.length / 8));
  for (let i = 0; i < bits.length; i++) if (bits[i] === '1') out[i >> 3]! |= 0x80 >> (i & 7);
  return out;
}

/** Runs an insert plan through `q` (inside the caller's transaction); returns generated ids if any. */
export async function runInsert(q: SqlRunner, plan: InsertPlan): Promise<string[]> {
  const ids: string[] = [];
  for (const s of plan.statements) {
    const r = await q.query(s.text, s.values);
    if (plan.returnsIds) for (const row of r.rows) ids.push(dbText(row.id));
  }
  return ids;
}

/** Which values a query returns. */
export interface OutputPlan {
  readonly fields: readonly FieldSchema[];
  /** Dynamic keys: all of them, the listed ones, or none. */
  readonly meta: 'all' | readonly string[] | 'none';
}

/** The SELECT list of an output plan; columns are aliased by position (c0, c1, …, m). */
export function selectList(def: CollectionDef, plan: OutputPlan): string {
  const parts = plan.fields.map((f, i) => `${selectExpr(def, f)} AS c${i}`);
  if (plan.meta !== 'none') parts.push(`${quoteIdent(META_FIELD)}::text AS m`);
  return parts.join(', ');
}

function selectExpr(def: CollectionDef, f: FieldSchema): string {
  const c = quoteIdent(f.name);
  const type = columnType(f, def.storage);
  switch (f.dataType) {
    case 'Int64':
    case 'JSON':
    case 'SparseFloatVector':
    case 'BinaryVector':
      return `${c}::text`; // exact Int64 / stored JSON text / bit string, the same from pg and PGlite
    case 'Array':
      return `${c}::text[]`;
    case 'FloatVector':
      return type === 'real[]' ? c : `${c}::real[]`;
    case 'Float16Vector':
      return type === 'bytea' ? c : `${c}::vector::real[]`;
    default:
      return c;
  }
}

/** Turns a selected row into the response object (spec §6). */
export function decodeRow(def: CollectionDef, plan: OutputPlan, row: Record<string, unknown>): Record<string, JsonOut> {
  const out: Record<string, JsonOut> = {};
  plan.fields.forEach((f, i) => {
    out[f.name] = decodeValue(f, row[`c${i}`]);
  });
  if (plan.meta !== 'none' && typeof row.m === 'string') {
    const meta = JSON.parse(row.m) as Record<string, JsonOut>;
    const keys = plan.meta === 'all' ? Object.keys(meta) : plan.meta;
    for (const k of keys) {
      if (Object.hasOwn(meta, k) && !Object.hasOwn(out, k)) out[k] = meta[k]!;
    }
  }
  return out;
}

/** Database text output (pg and PGlite hand scalars back as string, number or bigint). */
export function dbText(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  throw new Error(`unexpected database value of type ${typeof v}`);
}

function decodeValue(f: FieldSchema, v: unknown): JsonOut {
  if (v === null || v === undefined) return null;
  switch (f.dataType) {
    case 'Bool':
      return v === true || v === 't' || v === 'true';
    case 'Int8':
    case 'Int16':
    case 'Int32':
    case 'Double':
      return Number(v);
    case 'Int64':
      return new JsonInt64(dbText(v));
    case 'Float':
      return float32Shortest(Number(v));
    case 'VarChar':
      return dbText(v);
    case 'JSON':
    case 'SparseFloatVector':
      return new RawJson(dbText(v));
    case 'Array':
      return (v as unknown[]).map((e) => decodeElement(f, dbText(e)));
    case 'FloatVector':
      return (v as unknown[]).map((x) => float32Shortest(Number(x)));
    case 'BinaryVector':
      return toBase64(bitsToBytes(dbText(v)));
    case 'Float16Vector':
      if (Array.isArray(v)) {
        const bytes = new Uint8Array(v.length * 2);
        const dv = new DataView(bytes.buffer);
        // Values read from a halfvec column are halves already, so they never overflow (-1).
        v.forEach((x, i) => dv.setUint16(i * 2, toFloat16Bits(Number(x)), true));
        return toBase64(bytes);
      }
      return toBase64(v as Uint8Array);
    case 'BFloat16Vector':
      return toBase64(v as Uint8Array);
  }
}

function decodeElement(f: FieldSchema, e: string): JsonOut {
  switch (f.elementType) {
    case 'Bool':
      return e === 'true' || e === 't';
    case 'Int64':
      return new JsonInt64(e);
    case 'Float':
      return float32Shortest(Number(e));
    case 'VarChar':
      return e;
    default:
      return Number(e);
  }
}
