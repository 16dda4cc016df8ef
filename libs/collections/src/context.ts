import type { Pool, PoolClient } from 'pg';
import { unavailable } from './collections.errors';
import type { PgvectorMode } from './ddl';
import { pgRunner, type SqlRunner } from './sql';

/** What every use-case needs: the catalog (job database), the target database and the pgvector mode. */
export interface CollectionsContext {
  readonly catalog: Pool;
  readonly target: Pool;
  readonly config: { readonly pgvector: PgvectorMode };
  /**
   * Called before a collection (partition undefined) or a partition is dropped; the import engine
   * cancels the active jobs there. A throw aborts the drop.
   */
  readonly beforeDrop?: (db: string, collection: string, partition?: string) => Promise<void>;
}

const sameDbCache = new WeakMap<Pool, WeakMap<Pool, Promise<boolean>>>();

const IDENTITY_SQL = `SELECT current_database() AS db, coalesce(inet_server_addr()::text, '') AS addr,
  inet_server_port() AS port, pg_postmaster_start_time()::text AS started`;

/**
 * Whether catalog and target are the same database (then DDL and catalog writes share one
 * transaction). Same pool object, or same database name on the same running server.
 */
export async function sameDatabase(ctx: CollectionsContext): Promise<boolean> {
  if (ctx.catalog === ctx.target) return true;
  let inner = sameDbCache.get(ctx.catalog);
  if (!inner) sameDbCache.set(ctx.catalog, (inner = new WeakMap()));
  let p = inner.get(ctx.target);
  if (!p) {
    p = Promise.all([ctx.catalog.query(IDENTITY_SQL), ctx.target.query(IDENTITY_SQL)]).then(
      ([a, b]) => JSON.stringify(a.rows[0]) === JSON.stringify(b.rows[0]),
    );
    p.catch(() => inner.delete(ctx.target));
    inner.set(ctx.target, p);
  }
  return guard(p);
}

/** Connection-level failures become the retryable "service unavailable" (Milvus code 2). */
export async function guard<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    if (isConnectionError(e)) throw unavailable(e);
    throw e;
  }
}

function isConnectionError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string') {
    if (['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH'].includes(code))
      return true;
    // Class 08 connection exceptions, 57P0x shutdown/cannot connect now, 53300 too many connections.
    if (/^08|^57P0|^53300$/.test(code)) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect/i.test(e.message);
}

export interface Tx {
  readonly q: SqlRunner;
  readonly client: PoolClient;
}

/** Runs `fn` in one transaction on a client of `pool`; rolls back on any error. */
export async function withTx<T>(pool: Pool, fn: (q: SqlRunner) => Promise<T>): Promise<T> {
  const client = await guard(pool.connect());
  try {
    await client.query('BEGIN');
    const out = await fn(pgRunner(client));
    await client.query('COMMIT');
    return out;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw isConnectionError(e) ? unavailable(e) : e;
  } finally {
    client.release();
  }
}

/**
 * Runs `fn` with a catalog runner and a target runner. Same database: one transaction for both, so
 * DDL and catalog rows commit together. Different databases: two transactions; the target commits
 * first when `commitFirst` is 'target' and `compensate` undoes it if the catalog commit then fails.
 */
export async function withCatalogAndTarget<T>(
  ctx: CollectionsContext,
  opts: { commitFirst: 'target' | 'catalog'; compensate?: (target: SqlRunner) => Promise<void> },
  fn: (catalog: SqlRunner, target: SqlRunner) => Promise<T>,
): Promise<T> {
  if (await sameDatabase(ctx)) return withTx(ctx.catalog, (q) => fn(q, q));
  const cat = await guard(ctx.catalog.connect());
  let tgt: PoolClient;
  try {
    tgt = await guard(ctx.target.connect());
  } catch (e) {
    cat.release();
    throw e;
  }
  const [first, second] = opts.commitFirst === 'target' ? [tgt, cat] : [cat, tgt];
  let firstCommitted = false;
  try {
    await cat.query('BEGIN');
    await tgt.query('BEGIN');
    const out = await fn(pgRunner(cat), pgRunner(tgt));
    await first.query('COMMIT');
    firstCommitted = true;
    await second.query('COMMIT');
    return out;
  } catch (e) {
    if (!firstCommitted) await first.query('ROLLBACK').catch(() => undefined);
    await second.query('ROLLBACK').catch(() => undefined);
    if (firstCommitted && opts.commitFirst === 'target' && opts.compensate) {
      await opts.compensate(pgRunner(ctx.target)).catch(() => undefined);
    }
    throw isConnectionError(e) ? unavailable(e) : e;
  } finally {
    cat.release();
    tgt.release();
  }
}
