import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

/** Connection settings of this test run (set by test/support/global-setup.ts). */
export function testEnv(): { databaseUrl: string; redisUrl: string; queuePrefix: string; adminDatabaseUrl: string } {
  const databaseUrl = process.env.DATABASE_URL;
  const redisUrl = process.env.REDIS_URL;
  const queuePrefix = process.env.QUEUE_PREFIX;
  const adminDatabaseUrl = process.env.IGW_TEST_ADMIN_DATABASE_URL;
  if (!databaseUrl || !redisUrl || !queuePrefix || !adminDatabaseUrl) {
    throw new Error('test environment not initialised: run through vitest (test/support/global-setup.ts)');
  }
  return { databaseUrl, redisUrl, queuePrefix, adminDatabaseUrl };
}

/**
 * The Redis queue prefix of gateways and workers on `databaseUrl`: the run's prefix plus the
 * database name. Processes on one database share queues as in production; a worker of another
 * test's scratch database never claims (and then skips) this one's jobs.
 */
export function queuePrefixFor(databaseUrl: string): string {
  const database = decodeURIComponent(new URL(databaseUrl).pathname.slice(1));
  return `${testEnv().queuePrefix}-${database}`;
}

/** A unique name for things a test creates (collections, queues, keys): letters, digits, underscore. */
export function uniqueName(prefix = 't'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

/** A fresh, empty database on the test server (dropped by the returned function). */
export async function createScratchDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const { adminDatabaseUrl } = testEnv();
  const name = uniqueName('igw_scratch');
  const admin = new Client({ connectionString: adminDatabaseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${name}"`);
  await admin.end();
  const u = new URL(adminDatabaseUrl);
  u.pathname = `/${name}`;
  return {
    url: u.toString(),
    drop: async () => {
      const c = new Client({ connectionString: adminDatabaseUrl });
      await c.connect();
      // A pool's end() can resolve while its last connections are still closing; FORCE would then
      // kill them mid-close and their clients report the 57P01 as an unhandled error. Give them up
      // to 3 s to go (connections nobody closes are still terminated).
      for (let waited = 0; waited < 3_000; waited += 50) {
        const r = await c.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`,
          [name],
        );
        if (r.rows[0]!.n === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
      await c.end();
    },
  };
}

export * from './processes';
export * from './gateway';
export * from './worker';
