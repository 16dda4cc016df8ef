import Redis, { type RedisOptions } from 'ioredis';
import type { AppConfig } from '@gw/config';

/**
 * The one place Redis connections are made.
 * - `queue`: shared by every per-collection Queue/Worker object of a process (BullMQ needs
 *   `maxRetriesPerRequest: null`); one connection however many collections exist.
 * - `producer`: used on the HTTP path; `enableOfflineQueue: false` so a Redis outage fails an
 *   enqueue at once instead of hanging a create (the job row is already committed in Postgres
 *   and the reconciler enqueues it later).
 * - `probe`: health checks; fails fast, reconnects in the background.
 */
export type RedisPurpose = 'queue' | 'producer' | 'probe';

export function createRedis(config: Pick<AppConfig, 'redisUrl'>, purpose: RedisPurpose): Redis {
  const common: RedisOptions = {
    connectionName: `igw-${purpose}`,
    connectTimeout: 5_000,
    // Keep trying forever, at most every 2 s: Redis coming back must heal the process by itself.
    retryStrategy: (times) => Math.min(times * 200, 2_000),
    lazyConnect: false,
  };
  const byPurpose: Record<RedisPurpose, RedisOptions> = {
    queue: { maxRetriesPerRequest: null, enableReadyCheck: true },
    producer: { maxRetriesPerRequest: 1, enableOfflineQueue: false },
    probe: { maxRetriesPerRequest: 0, enableOfflineQueue: false },
  };
  const client = new Redis(config.redisUrl, { ...common, ...byPurpose[purpose] });
  // Connection errors are reported by health checks and callers; an unhandled 'error' event would crash.
  client.on('error', () => undefined);
  return client;
}

/** Resolves with Redis's answer to PING or rejects within `timeoutMs`. */
export async function pingRedis(client: Redis, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      client.ping(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${timeoutMs} ms`));
        }, timeoutMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
