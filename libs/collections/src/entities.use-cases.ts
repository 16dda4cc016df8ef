import { z } from 'zod';
import { META_FIELD, PARTITION_COLUMN, type FieldSchema, type RowBatch } from '@gw/schema';
import { intLike, parseBody } from './body';
import { partitionExists, requireCollection } from './catalog';
import {
  badPrimaryKey,
  insertRejected,
  invalidParameter,
  missingParameter,
  partitionNotFound,
} from './collections.errors';
import { guard, withTx, type CollectionsContext } from './context';
import { compileFilter, parseFilter, pgTextArray } from './filter';
import { JsonInt64, type JsonOut } from './json-out';
import { primaryField, type CollectionDef } from './model';
import { buildInsert, decodeRow, runInsert, selectList, type OutputPlan } from './rows';
import { Params, pgRunner, quoteIdent, tableRef, type SqlRunner } from './sql';

/*
 * entities/insert, query, get and delete (spec §7–9 and Milvus entities/delete). Int64 values come
 * back as JsonInt64; render responses with serializeJson.
 */

export const MAX_QUERY_WINDOW = 16_384;

export interface InsertRequest {
  readonly collectionName: string;
  readonly partitionName?: string;
  /** Rows already validated against the collection schema (formats.md §2–3) by the caller. */
  readonly rows: RowBatch;
}

export interface InsertResult {
  insertCount: number;
  /** Int64 keys as JsonInt64, VarChar keys as strings, in input order. */
  insertIds: (JsonInt64 | string)[];
}

async function checkPartitions(ctx: CollectionsContext, def: CollectionDef, names: readonly string[]): Promise<void> {
  for (const n of names) {
    if (!(await guard(partitionExists(pgRunner(ctx.catalog), def.id, n)))) throw partitionNotFound(n);
  }
}

/** entities/insert: all rows in one transaction; duplicate keys and constraint violations → 1804. */
export async function insertEntities(ctx: CollectionsContext, db: string, req: InsertRequest): Promise<InsertResult> {
  const def = await requireCollection(ctx, db, req.collectionName);
  const partition = req.partitionName ?? '_default';
  if (req.partitionName !== undefined) {
    if (def.schema.fields.some((f) => f.isPartitionKey)) {
      throw invalidParameter('partitionName cannot be given for a collection with a partition key field');
    }
    await checkPartitions(ctx, def, [req.partitionName]);
  }
  if (req.rows.rowCount === 0) throw missingParameter('data');
  const pk = primaryField(def.schema);
  if (pk.autoId && req.rows.columns.has(pk.name)) {
    throw insertRejected(`the primary key '${pk.name}' is auto-generated, no need to provide`);
  }
  const plan = buildInsert(def, req.rows, partition);
  let generated: string[];
  try {
    generated = await withTx(ctx.target, (q) => runInsert(q, plan));
  } catch (e) {
    throw translateInsertError(e, def, req.rows);
  }
  const insertIds: (JsonInt64 | string)[] = [];
  if (pk.autoId) for (const id of generated) insertIds.push(new JsonInt64(id));
  else {
    const col = req.rows.columns.get(pk.name)!;
    for (let r = 0; r < req.rows.rowCount; r++) insertIds.push(pkCell(col, r));
  }
  return { insertCount: req.rows.rowCount, insertIds };
}

function pkCell(
  col: RowBatch['columns'] extends ReadonlyMap<string, infer C> ? C : never,
  r: number,
): JsonInt64 | string {
  if (col.kind === 'int64') return new JsonInt64(col.values[r]!.toString());
  if (col.kind === 'text') return col.values[r] ?? '';
  throw insertRejected('primary key column has an unexpected representation');
}

const idText = (v: JsonInt64 | string): string => (typeof v === 'string' ? v : v.value);

interface PgErrorLike {
  code?: string;
  detail?: string;
  constraint?: string;
  column?: string;
}

/** Maps PostgreSQL's integrity errors to 1804 messages naming the key value, row or field. */
export function translateInsertError(e: unknown, def: CollectionDef, rows: RowBatch): unknown {
  if (!(e instanceof Error)) return e;
  const pe = e as Error & PgErrorLike;
  const pk = primaryField(def.schema);
  switch (pe.code) {
    case '23505': {
      const m = /\)=\((.*)\) already exists/.exec(pe.detail ?? '');
      const key = m?.[1] ?? '?';
      const col = rows.columns.get(pk.name);
      // Twice in the batch: the second occurrence is the rejected row; once: it clashes with a stored row.
      const hits: number[] = [];
      if (col)
        for (let r = 0; r < rows.rowCount && hits.length < 2; r++) if (idText(pkCell(col, r)) === key) hits.push(r);
      const row = hits[hits.length - 1];
      const where = row !== undefined ? ` (row ${rows.firstRow + row})` : '';
      return insertRejected(`duplicate primary key value ${key}${where}`, e);
    }
    case '23514': {
      const idx = /^gw_check_(\d+)$/.exec(pe.constraint ?? '');
      const f = idx ? def.schema.fields[Number(idx[1])] : undefined;
      return insertRejected(
        f
          ? `field '${f.name}': value violates the ${f.dataType} constraints`
          : `value violates ${pe.constraint ?? 'a constraint'}`,
        e,
      );
    }
    case '23502':
      return insertRejected(`field '${pe.column ?? '?'}' cannot be null`, e);
    default:
      // Class 22: data exceptions (bad vector text, numeric out of range…) are the input's fault.
      if (pe.code?.startsWith('22')) return insertRejected(pe.message, e);
      return e;
  }
}

// ---------------------------------------------------------------- reads

const strList = z.array(z.string());

/** Resolves outputFields (default `["*"]`); the primary key is always returned. */
export function outputPlan(def: CollectionDef, outputFields: readonly string[] | undefined): OutputPlan | 'count' {
  const names = outputFields === undefined || outputFields.length === 0 ? ['*'] : outputFields;
  if (names.some((n) => n.replace(/\s+/g, '').toLowerCase() === 'count(*)')) {
    if (names.length > 1) throw invalidParameter('count(*) cannot be combined with other output fields');
    return 'count';
  }
  const wanted = new Set<string>();
  let metaAll = false;
  const metaKeys: string[] = [];
  for (const n of names) {
    if (n === '*') {
      def.schema.fields.forEach((f) => wanted.add(f.name));
      metaAll = def.schema.enableDynamicField;
    } else if (def.schema.fields.some((f) => f.name === n)) wanted.add(n);
    else if (def.schema.enableDynamicField && n === META_FIELD) metaAll = true;
    else if (def.schema.enableDynamicField && n !== PARTITION_COLUMN) metaKeys.push(n);
    else throw invalidParameter(`field ${n} does not exist`);
  }
  wanted.add(primaryField(def.schema).name);
  const fields = def.schema.fields.filter((f) => wanted.has(f.name));
  return { fields, meta: metaAll ? 'all' : metaKeys.length > 0 ? metaKeys : 'none' };
}

interface ReadSql {
  text: string;
  values: readonly unknown[];
}

/** Builds the SELECT of entities/query (pure, so PGlite tests run the same SQL). */
export function buildQuery(
  def: CollectionDef,
  req: {
    filter?: string;
    outputFields?: readonly string[];
    partitionNames?: readonly string[];
    limit?: number;
    offset?: number;
  },
): { sql: ReadSql; plan: OutputPlan | 'count' } {
  const limit = req.limit ?? 100;
  const offset = req.offset ?? 0;
  if (limit < 0 || offset < 0) throw invalidParameter('limit and offset must not be negative');
  if (limit + offset > MAX_QUERY_WINDOW) {
    throw invalidParameter(`offset + limit must be at most ${MAX_QUERY_WINDOW}, got ${offset + limit}`);
  }
  const plan = outputPlan(def, req.outputFields);
  const p = new Params();
  const where = whereClause(def, p, req.filter, req.partitionNames);
  const table = tableRef(def.db, def.name);
  if (plan === 'count') {
    return { sql: { text: `SELECT count(*)::text AS n FROM ${table}${where}`, values: p.values }, plan };
  }
  const pk = quoteIdent(primaryField(def.schema).name);
  const text = `SELECT ${selectList(def, plan)} FROM ${table}${where} ORDER BY ${pk} LIMIT ${p.add(String(limit), 'bigint')} OFFSET ${p.add(String(offset), 'bigint')}`;
  return { sql: { text, values: p.values }, plan };
}

function whereClause(
  def: CollectionDef,
  p: Params,
  filter: string | undefined,
  partitions: readonly string[] | undefined,
): string {
  const conds: string[] = [];
  const ast = parseFilter(filter ?? '');
  if (ast) conds.push(compileFilter(ast, def.schema, p));
  if (partitions && partitions.length > 0) {
    conds.push(`${quoteIdent(PARTITION_COLUMN)} = ANY(${p.add(pgTextArray(partitions), 'text[]')})`);
  }
  return conds.length > 0 ? ` WHERE ${conds.join(' AND ')}` : '';
}

/** Runs a built query and decodes its rows (usable with PGlite). */
export async function runQuery(
  q: SqlRunner,
  def: CollectionDef,
  built: ReturnType<typeof buildQuery>,
): Promise<Record<string, JsonOut>[]> {
  const r = await q.query(built.sql.text, built.sql.values);
  const plan = built.plan;
  if (plan === 'count') return [{ 'count(*)': new JsonInt64(String(r.rows[0]!.n)) }];
  return r.rows.map((row) => decodeRow(def, plan, row));
}

const queryZ = z.object({
  collectionName: z.string(),
  filter: z.string().optional(),
  outputFields: strList.optional(),
  partitionNames: strList.optional(),
  limit: intLike.optional(),
  offset: intLike.optional(),
});

/** entities/query (§8): rows in primary-key order, or `[{"count(*)": n}]`. */
export async function queryEntities(
  ctx: CollectionsContext,
  db: string,
  body: unknown,
): Promise<Record<string, JsonOut>[]> {
  const b = parseBody(queryZ, body);
  const def = await requireCollection(ctx, db, b.collectionName);
  const built = buildQuery(def, b);
  await checkPartitions(ctx, def, b.partitionNames ?? []);
  return guard(runQuery(pgRunner(ctx.target), def, built));
}

export type IdInput = bigint | number | string;

/** Primary-key values of get/delete as exact decimal text (Int64) or strings (VarChar); wrong type → 1806. */
export function parseIds(pk: FieldSchema, id: unknown): string[] {
  const list: unknown[] = Array.isArray(id) ? id : [id];
  return list.map((v) => {
    if (pk.dataType === 'VarChar') {
      if (typeof v !== 'string') throw badPrimaryKey(`id ${String(v)} is not a string`);
      return v;
    }
    let n: bigint | null = null;
    if (typeof v === 'bigint') n = v;
    else if (typeof v === 'number' && Number.isInteger(v)) n = BigInt(v);
    else if (typeof v === 'string' && /^\s*[+-]?\d+\s*$/.test(v)) n = BigInt(v.trim());
    if (n === null || n < -(2n ** 63n) || n >= 2n ** 63n) {
      throw badPrimaryKey(`id ${typeof v === 'string' ? JSON.stringify(v) : String(v)} is not an Int64`);
    }
    return n.toString();
  });
}

const getZ = z.object({
  collectionName: z.string(),
  id: z.unknown(),
  outputFields: strList.optional(),
  partitionNames: strList.optional(),
});

/** Builds the SELECT of entities/get. */
export function buildGet(
  def: CollectionDef,
  ids: readonly string[],
  outputFields: readonly string[] | undefined,
  partitionNames: readonly string[] | undefined,
): { sql: ReadSql; plan: OutputPlan } {
  const plan = outputPlan(def, outputFields);
  if (plan === 'count') throw invalidParameter('count(*) is not an output field of entities/get');
  const pk = primaryField(def.schema);
  const p = new Params();
  const conds = [
    `${quoteIdent(pk.name)} = ANY(${p.add(pgTextArray(ids), pk.dataType === 'Int64' ? 'bigint[]' : 'text[]')})`,
  ];
  if (partitionNames && partitionNames.length > 0) {
    conds.push(`${quoteIdent(PARTITION_COLUMN)} = ANY(${p.add(pgTextArray(partitionNames), 'text[]')})`);
  }
  const text = `SELECT ${selectList(def, plan)} FROM ${tableRef(def.db, def.name)} WHERE ${conds.join(' AND ')} ORDER BY ${quoteIdent(pk.name)}`;
  return { sql: { text, values: p.values }, plan };
}

/** entities/get (§9): the rows found, in primary-key order. */
export async function getEntities(
  ctx: CollectionsContext,
  db: string,
  body: unknown,
): Promise<Record<string, JsonOut>[]> {
  const b = parseBody(getZ, body);
  if (b.id === undefined || b.id === null) throw missingParameter('id');
  const def = await requireCollection(ctx, db, b.collectionName);
  const ids = parseIds(primaryField(def.schema), b.id);
  const built = buildGet(def, ids, b.outputFields, b.partitionNames);
  await checkPartitions(ctx, def, b.partitionNames ?? []);
  return guard(runQuery(pgRunner(ctx.target), def, built));
}

const deleteZ = z.object({
  collectionName: z.string(),
  filter: z.string().optional(),
  id: z.unknown().optional(),
  partitionName: z.string().optional(),
});

/** entities/delete: by `filter` or `id` (at least one), optionally within one partition; returns {}. */
export async function deleteEntities(
  ctx: CollectionsContext,
  db: string,
  body: unknown,
): Promise<Record<string, never>> {
  const b = parseBody(deleteZ, body);
  const hasFilter = b.filter !== undefined && b.filter.trim() !== '';
  if (!hasFilter && (b.id === undefined || b.id === null)) throw missingParameter('filter');
  const def = await requireCollection(ctx, db, b.collectionName);
  const p = new Params();
  const conds: string[] = [];
  if (hasFilter) conds.push(compileFilter(parseFilter(b.filter!)!, def.schema, p));
  if (b.id !== undefined && b.id !== null) {
    const pk = primaryField(def.schema);
    const ids = parseIds(pk, b.id);
    conds.push(
      `${quoteIdent(pk.name)} = ANY(${p.add(pgTextArray(ids), pk.dataType === 'Int64' ? 'bigint[]' : 'text[]')})`,
    );
  }
  if (b.partitionName !== undefined) {
    await checkPartitions(ctx, def, [b.partitionName]);
    conds.push(`${quoteIdent(PARTITION_COLUMN)} = ${p.add(b.partitionName, 'text')}`);
  }
  await guard(ctx.target.query(`DELETE FROM ${tableRef(db, def.name)} WHERE ${conds.join(' AND ')}`, p.values));
  return {};
}
