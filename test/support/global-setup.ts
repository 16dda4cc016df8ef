import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import { Client } from 'pg';
import Redis from 'ioredis';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../libs/db/src/migrate';

/**
 * One database and one Redis key prefix per test run, so parallel runs (CI next to a developer)
 * never collide. Both are removed afterwards. Tests reach them through process.env, which the
 * forked test workers inherit.
 */
const baseDbUrl =
  process.env.TEST_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const redisUrl = process.env.TEST_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

function withDatabase(url: string, db: string): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

export default async function setup(_project: TestProject): Promise<() => Promise<void>> {
  // Process-level tests run the compiled apps (dist/), exactly as `npm start` does.
  const root = resolve(__dirname, '..', '..');
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'inherit' });
  const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  const dbName = `igw_test_${runId}`;
  const admin = new Client({ connectionString: baseDbUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  await admin.end();
  const databaseUrl = withDatabase(baseDbUrl, dbName);
  await migrate(databaseUrl);

  const queuePrefix = `igwtest-${runId}`;
  process.env.DATABASE_URL = databaseUrl;
  process.env.REDIS_URL = redisUrl;
  process.env.QUEUE_PREFIX = queuePrefix;
  process.env.NODE_ENV = 'test';
  process.env.LOG_LEVEL ??= 'silent';
  process.env.GATEWAY_SECRET_KEY ??= randomBytes(32).toString('hex');
  process.env.IGW_TEST_ADMIN_DATABASE_URL = baseDbUrl;

  return async () => {
    const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${queuePrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
    const cleanup = new Client({ connectionString: baseDbUrl });
    await cleanup.connect();
    await cleanup.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`);
    await cleanup.end();
  };
}
