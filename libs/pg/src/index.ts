import type { Pool, PoolClient } from 'pg';
import { isCodedError } from '@gw/errors';

/**
 * PostgreSQL primitives every lib that speaks SQL shares: one quoteIdent, one transaction
 * helper, one "is this error transient" list. A leaf lib (imports only `pg` and @gw/errors), so
 * sink, db, collections and jobs can all use it without importing each other.
 */

/**
 * Quotes an identifier. Every identifier in generated SQL goes through here (names are also
 * validated against ^[A-Za-z_][A-Za-z0-9_]*$, but quoting keeps case and defends in depth).
 */
export function quoteIdent(name: string): string {
  if (name.includes('\u0000')) throw new Error('identifier contains NUL');
  return `"${name.replace(/"/g, '""')}"`;
}

/** Node socket errors: the connection failed, not the statement. */
const SOCKET_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
]);

/** What pg and pg-pool say when a connection breaks or a checkout waits too long. */
const DRIVER_CONNECTION_MESSAGES = [
  /connection terminated/i,
  /client has encountered a connection error/i,
  /client was closed/i,
  /connection timeout/i,
  /timeout exceeded when trying to connect/i,
];

/**
 * SQLSTATEs worth retrying the whole transaction for: connection exceptions (08), insufficient
 * resources (53: too many connections, disk full, out of memory), server shutdown (57P0x),
 * statement timeout (57014), lock timeout (55P03), serialization failures and deadlocks (40).
 */
export function isTransientSqlState(code: string): boolean {
  return (
    code.startsWith('08') ||
    code.startsWith('53') ||
    code === '57P01' ||
    code === '57P02' ||
    code === '57P03' ||
    code === '57014' ||
    code === '55P03' ||
    code === '40001' ||
    code === '40P01'
  );
}

/** A socket or driver error that means the connection failed (retry on a new one). */
export function isConnectionFailure(e: unknown): boolean {
  if (typeof e !== 'object' || e === null) return false;
  const code = (e as { code?: unknown }).code;
  const message = (e as { message?: unknown }).message;
  return (
    (typeof code === 'string' && SOCKET_CODES.has(code)) ||
    (typeof message === 'string' && DRIVER_CONNECTION_MESSAGES.some((r) => r.test(message)))
  );
}

/**
 * The one answer to "is this PostgreSQL error transient": coded errors say so themselves, then
 * SQLSTATE classes, then connection failures.
 */
export function isTransientPgError(e: unknown): boolean {
  if (isCodedError(e)) return e.retryable;
  if (typeof e !== 'object' || e === null) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && /^\d{2}[0-9A-Z]{3}$/.test(code)) return isTransientSqlState(code);
  return isConnectionFailure(e);
}

/** Concurrent `CREATE … IF NOT EXISTS` still races on the catalog: the loser's error means it exists. */
export function ignoreAlreadyExists(e: unknown): void {
  const code = (e as { code?: unknown }).code;
  if (code !== '23505' && code !== '42P06' && code !== '42P07' && code !== '42710') throw e;
}

/**
 * Lends a pooled client to `run`. A client whose connection broke (reported on the client, or
 * by `run` through `breakClient`) goes back to the pool as broken, so the pool replaces it.
 */
async function borrow<T>(
  pool: Pool,
  run: (c: PoolClient, breakClient: (e: unknown) => void) => Promise<T>,
): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  const breakClient = (e: unknown) => {
    broken = e instanceof Error ? e : new Error(String(e));
  };
  // A checked-out client whose backend dies emits 'error' itself; unheard, that would end the process.
  c.on('error', breakClient);
  try {
    return await run(c, breakClient);
  } finally {
    c.off('error', breakClient);
    c.release(broken);
  }
}

/** Runs `run` on a pooled client; a client that failed with a transient error is not reused. */
export async function withClient<T>(pool: Pool, run: (c: PoolClient) => Promise<T>): Promise<T> {
  return borrow(pool, async (c, breakClient) => {
    try {
      return await run(c);
    } catch (e) {
      if (isTransientPgError(e)) breakClient(e);
      throw e;
    }
  });
}

/**
 * Runs `run` in one transaction on a pooled client. A client whose ROLLBACK fails has lost its
 * connection, so it is not reused; the original error is rethrown.
 */
export async function inTransaction<T>(pool: Pool, run: (c: PoolClient) => Promise<T>): Promise<T> {
  return borrow(pool, async (c, breakClient) => {
    try {
      await c.query('BEGIN');
      const out = await run(c);
      await c.query('COMMIT');
      return out;
    } catch (e) {
      await c.query('ROLLBACK').catch(breakClient);
      throw e;
    }
  });
}
