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

/**
 * SQLSTATEs and socket errors worth a retry: connection loss (class 08, admin shutdown 57P0x),
 * too many connections, serialization failures and deadlocks, lock and statement timeouts that
 * a busy server produces, and pg-pool's own checkout timeout.
 */
const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '40001',
  '40P01',
  '55P03',
]);

export function isTransientPgError(e: unknown): boolean {
  if (isCodedError(e)) return e.retryable;
  if (typeof e !== 'object' || e === null) return false;
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && (TRANSIENT_CODES.has(code) || code.startsWith('08'))) return true;
  // pg-pool rejects a checkout that waited connectionTimeoutMillis with this plain Error.
  const message = (e as { message?: unknown }).message;
  return typeof message === 'string' && /^timeout exceeded when trying to connect$/i.test(message);
}

/** Concurrent `CREATE … IF NOT EXISTS` still races on the catalog: the loser's error means it exists. */
export function ignoreAlreadyExists(e: unknown): void {
  const code = (e as { code?: unknown }).code;
  if (code !== '23505' && code !== '42P06' && code !== '42P07' && code !== '42710') throw e;
}

/**
 * Runs `run` on a pooled client. A client whose connection failed (reported on the client, or a
 * transient error) goes back to the pool as broken, so the pool replaces it.
 */
export async function withClient<T>(pool: Pool, run: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client whose backend dies emits 'error' itself; unheard, that would end the process.
  const onError = (e: Error) => {
    broken = e;
  };
  c.on('error', onError);
  try {
    return await run(c);
  } catch (e) {
    if (isTransientPgError(e)) broken = e instanceof Error ? e : new Error(String(e));
    throw e;
  } finally {
    c.off('error', onError);
    c.release(broken);
  }
}

/**
 * Runs `run` in one transaction on a pooled client. A client whose ROLLBACK fails has lost its
 * connection, so it is released as broken and the pool replaces it; the original error is rethrown.
 */
export async function inTransaction<T>(pool: Pool, run: (c: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  const onError = (e: Error) => {
    broken = e;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const out = await run(client);
    await client.query('COMMIT');
    return out;
  } catch (e) {
    await client.query('ROLLBACK').catch((rollbackError: unknown) => {
      broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
    });
    throw e;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}
