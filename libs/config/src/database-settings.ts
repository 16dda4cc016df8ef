import type { AppConfig } from './config';

export type ProcessRole = 'api' | 'worker';

/** Pool size and session timeouts one process applies to its PostgreSQL pools (0 = no limit). */
export interface DatabaseSettings {
  poolSize: number;
  /** How long a query waits for a pooled connection (or a new one) before failing, transiently. */
  poolTimeoutMs: number;
  statementTimeoutMs: number;
  lockTimeoutMs: number;
  idleInTransactionTimeoutMs: number;
}

/**
 * Connections a worker slot may hold at once: the COPY of the group it stages plus a short
 * progress, lease or fence statement beside it.
 */
export const CONNECTIONS_PER_WORKER_SLOT = 2;
/** The worker's own background statements: lease renewal, reconciler, dispatcher, events. */
export const WORKER_BACKGROUND_CONNECTIONS = 4;

/**
 * The role defaults of decision 0902, each overridden by its DATABASE_* variable.
 * - Pool: the API keeps 10 (requests are short); a worker gets 2 per WORKER_CONCURRENCY slot
 *   plus 4, so every slot can hold its COPY while progress and leases still get a connection.
 * - statement_timeout: the API 120 s (a request's statements; Request-Timeout defaults to 30 s);
 *   a worker none — one COPY of a 16 GiB group, or the publishing INSERT … SELECT of a large job,
 *   is one statement that legitimately runs for many minutes.
 * - lock_timeout: the API 10 s, so a drop or DDL behind a stuck import fails instead of hanging;
 *   a worker 60 s (its publish waits behind a drop or a concurrent publish; 55P03 is retried).
 * - idle_in_transaction_session_timeout: 60 s for both: no code path waits on anything but
 *   PostgreSQL inside a transaction, so an idle one belongs to a process that stopped or hung.
 */
export function databaseSettings(config: Pick<AppConfig, 'database' | 'worker'>, role: ProcessRole): DatabaseSettings {
  const d = config.database;
  const worker = role === 'worker';
  return {
    poolSize:
      d.poolSize ??
      (worker ? config.worker.concurrency * CONNECTIONS_PER_WORKER_SLOT + WORKER_BACKGROUND_CONNECTIONS : 10),
    poolTimeoutMs: d.poolTimeoutMs ?? (worker ? 30_000 : 5_000),
    statementTimeoutMs: d.statementTimeoutMs ?? (worker ? 0 : 120_000),
    lockTimeoutMs: d.lockTimeoutMs ?? (worker ? 60_000 : 10_000),
    idleInTransactionTimeoutMs: d.idleInTransactionTimeoutMs ?? 60_000,
  };
}
