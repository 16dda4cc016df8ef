import { createHash } from 'node:crypto';
import type { CollectionDef, IndexParam } from './model';
import { pgSchemaName, quoteIdent, type SqlRunner, tableRef } from './sql';

/**
 * Vector indexes built after a load (issue 16 point 8, decision 1601): the Milvus index parameters
 * given at collection create, mapped onto pgvector's HNSW and IVFFlat. Only FloatVector and
 * Float16Vector fields stored as pgvector `vector` / `halfvec` can be indexed; anything else is
 * reported as skipped with the reason, never guessed.
 */

/** pgvector's largest indexable dimension: 2,000 for `vector`, 4,000 for `halfvec`. */
const MAX_INDEXED_DIM = { vector: 2000, halfvec: 4000 } as const;

const METRIC_OPS: Readonly<Record<string, string>> = { L2: 'l2_ops', IP: 'ip_ops', COSINE: 'cosine_ops' };

/** One index to build, or why not. */
export type VectorIndexPlan =
  | { kind: 'build'; indexName: string; fieldName: string; pgName: string; method: 'hnsw' | 'ivfflat'; sql: string }
  | { kind: 'skip'; indexName: string; fieldName: string; reason: string };

/** What building one index ended as. */
export interface VectorIndexResult {
  indexName: string;
  fieldName: string;
  state: 'Built' | 'Present' | 'Skipped' | 'Failed';
  message: string;
}

/**
 * The PostgreSQL name of a collection's index: readable (`<collection>__<index>`) when it fits in
 * 63 bytes, else cut and suffixed with a hash so two long names never meet.
 */
export function vectorIndexPgName(collection: string, indexName: string): string {
  const name = `${collection}__${indexName}`;
  if (Buffer.byteLength(name) <= 63) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${name.slice(0, 50)}_${hash}`;
}

/**
 * The plans of every index given with an `indexType` on a vector field. Indexes on scalar fields are
 * not ours to build, and an index without a type (quick create's default) asked for nothing.
 */
export function planVectorIndexes(def: CollectionDef): VectorIndexPlan[] {
  return def.indexes.flatMap((ip) => {
    const field = def.schema.fields.find((f) => f.name === ip.fieldName);
    if (field === undefined || !field.dataType.endsWith('Vector') || ip.indexType === undefined) return [];
    return [planVectorIndex(def, ip)];
  });
}

/** One Milvus index parameter set mapped onto pgvector, or the reason it cannot be. */
export function planVectorIndex(def: CollectionDef, ip: IndexParam): VectorIndexPlan {
  const base = { indexName: ip.indexName, fieldName: ip.fieldName };
  const skip = (reason: string): VectorIndexPlan => ({ kind: 'skip', ...base, reason });
  const field = def.schema.fields.find((f) => f.name === ip.fieldName);
  if (field === undefined) return skip(`field ${ip.fieldName} is not in the collection`);
  if (ip.indexType === undefined) return skip('no indexType was given at collection create');
  if (def.storage.vectorType !== 'pgvector') {
    return skip('vectors are stored as real[] (pgvector was not installed when the collection was created)');
  }
  let opclassType: keyof typeof MAX_INDEXED_DIM;
  if (field.dataType === 'FloatVector') opclassType = 'vector';
  else if (field.dataType === 'Float16Vector' && def.storage.halfvec) opclassType = 'halfvec';
  else return skip(`${field.dataType} fields are not stored as a pgvector type`);
  const dim = field.dim ?? 0;
  if (dim > MAX_INDEXED_DIM[opclassType]) {
    return skip(`dim ${dim} exceeds pgvector's index limit of ${MAX_INDEXED_DIM[opclassType]} for ${opclassType}`);
  }
  const ops = METRIC_OPS[ip.metricType.toUpperCase()];
  if (ops === undefined) return skip(`metricType ${ip.metricType} has no pgvector operator class`);
  const type = ip.indexType.toUpperCase();
  const params = ip.params ?? {};
  let method: 'hnsw' | 'ivfflat';
  let withParams: string[];
  if (type === 'HNSW' || type === 'AUTOINDEX') {
    method = 'hnsw';
    const m = intParam(params, 'M', 2, 100);
    const ef = intParam(params, 'efConstruction', 4, 1000);
    if (typeof m === 'string') return skip(m);
    if (typeof ef === 'string') return skip(ef);
    if (m !== undefined && ef !== undefined && ef < 2 * m) return skip('efConstruction must be at least 2 × M');
    withParams = [...(m === undefined ? [] : [`m = ${m}`]), ...(ef === undefined ? [] : [`ef_construction = ${ef}`])];
  } else if (type === 'IVF_FLAT') {
    method = 'ivfflat';
    const lists = intParam(params, 'nlist', 1, 32768);
    if (typeof lists === 'string') return skip(lists);
    withParams = lists === undefined ? [] : [`lists = ${lists}`];
  } else {
    return skip(`indexType ${ip.indexType} has no pgvector counterpart (HNSW, IVF_FLAT and AUTOINDEX are built)`);
  }
  const pgName = vectorIndexPgName(def.name, ip.indexName);
  const sql =
    `CREATE INDEX %CONCURRENTLY% IF NOT EXISTS ${quoteIdent(pgName)} ON ${tableRef(def.db, def.name)} ` +
    `USING ${method} (${quoteIdent(field.name)} ${opclassType}_${ops})` +
    (withParams.length === 0 ? '' : ` WITH (${withParams.join(', ')})`);
  return { kind: 'build', ...base, pgName, method, sql };
}

/** An integer parameter within bounds: the value, undefined when absent, or the reason it is wrong. */
function intParam(
  params: Readonly<Record<string, unknown>>,
  key: string,
  min: number,
  max: number,
): number | undefined | string {
  const v = params[key];
  if (v === undefined) return undefined;
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d+$/.test(v.trim()) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n < min || n > max) {
    const shown = typeof v === 'number' || typeof v === 'string' ? JSON.stringify(v) : typeof v;
    return `index parameter ${key} must be an integer from ${min} to ${max}, got ${shown}`;
  }
  return n;
}

/**
 * Builds every planned index of a collection on `q` (one session: the caller sets its timeouts).
 * An index already valid is left as it is; one left INVALID by an interrupted concurrent build is
 * dropped and built again. `concurrently` keeps the collection writable while building (PostgreSQL;
 * not inside a transaction). Failures are reported per index, never thrown.
 */
export async function buildVectorIndexes(
  q: SqlRunner,
  def: CollectionDef,
  opts: { concurrently: boolean },
): Promise<VectorIndexResult[]> {
  const out: VectorIndexResult[] = [];
  for (const plan of planVectorIndexes(def)) {
    const base = { indexName: plan.indexName, fieldName: plan.fieldName };
    if (plan.kind === 'skip') {
      out.push({ ...base, state: 'Skipped', message: plan.reason });
      continue;
    }
    try {
      const existing = await q.query(
        `SELECT i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
           JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
        [pgSchemaName(def.db), plan.pgName],
      );
      const row = existing.rows[0];
      if (row !== undefined && row.valid === true) {
        out.push({ ...base, state: 'Present', message: `${plan.method} index ${plan.pgName} already built` });
        continue;
      }
      const concurrently = opts.concurrently ? 'CONCURRENTLY ' : '';
      if (row !== undefined) {
        await q.query(
          `DROP INDEX ${concurrently}IF EXISTS ${quoteIdent(pgSchemaName(def.db))}.${quoteIdent(plan.pgName)}`,
        );
      }
      await q.query(plan.sql.replace('%CONCURRENTLY% ', concurrently));
      out.push({ ...base, state: 'Built', message: `${plan.method} index ${plan.pgName} built` });
    } catch (e) {
      out.push({ ...base, state: 'Failed', message: e instanceof Error ? e.message : String(e) });
    }
  }
  return out;
}
