import Redis from 'ioredis';
import { Client } from 'pg';
import { type AppConfig, redactUrl } from '@gw/config';

export interface PreflightFailure {
  service: 'PostgreSQL' | 'Redis';
  url: string;
  error: string;
  hint: string;
}

const HINTS: Record<PreflightFailure['service'], string> = {
  PostgreSQL:
    'Start PostgreSQL (e.g. `pg_ctlcluster 15 main start`, or `docker compose up -d postgres` with DATABASE_URL=postgresql://postgres:postgres@127.0.0.1:5432/gateway) or point DATABASE_URL at a running server.',
  Redis:
    'Start Redis (e.g. `redis-server --daemonize yes`, or `docker compose up -d redis`, published on 127.0.0.1:6379) or point REDIS_URL at a running server.',
};

function errorText(e: unknown): string {
  if (e instanceof AggregateError && e.errors.length > 0) return errorText(e.errors[0]);
  const err = e as NodeJS.ErrnoException;
  return err.code ? `${err.code}: ${err.message}` : err.message;
}

async function probePostgres(url: string, timeoutMs: number): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: timeoutMs });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('SELECT 1');
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function probeRedis(url: string, timeoutMs: number): Promise<void> {
  const client = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  });
  let last: unknown;
  client.on('error', (e) => (last = e));
  try {
    await client.connect();
    await client.ping();
  } catch (e) {
    throw last ?? e;
  } finally {
    client.disconnect();
  }
}

/**
 * Checks that PostgreSQL and Redis answer before anything else starts, so a missing service is
 * reported in seconds with the URL tried (password removed) and how to start it — not as a hang.
 */
export async function preflight(
  config: Pick<AppConfig, 'databaseUrl' | 'targetDatabaseUrl' | 'redisUrl' | 'startupTimeoutMs'>,
): Promise<PreflightFailure[]> {
  const t = config.startupTimeoutMs;
  const checks: { service: PreflightFailure['service']; url: string; run: () => Promise<void> }[] = [
    { service: 'PostgreSQL', url: config.databaseUrl, run: () => probePostgres(config.databaseUrl, t) },
    { service: 'Redis', url: config.redisUrl, run: () => probeRedis(config.redisUrl, t) },
  ];
  if (config.targetDatabaseUrl !== config.databaseUrl) {
    checks.push({
      service: 'PostgreSQL',
      url: config.targetDatabaseUrl,
      run: () => probePostgres(config.targetDatabaseUrl, t),
    });
  }
  const results = await Promise.all(
    checks.map(async (c): Promise<PreflightFailure | null> => {
      try {
        await withDeadline(c.run(), t);
        return null;
      } catch (e) {
        return { service: c.service, url: redactUrl(c.url), error: errorText(e), hint: HINTS[c.service] };
      }
    }),
  );
  return results.filter((r): r is PreflightFailure => r !== null);
}

async function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${ms} ms`));
        }, ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

export function describePreflightFailure(f: PreflightFailure): string {
  return `${f.service} is not reachable at ${f.url} (${f.error}). ${f.hint}`;
}
