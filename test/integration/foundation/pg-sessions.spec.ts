import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createCollection, type CollectionsContext, dropCollection } from '@gw/collections';
import { databaseSettings, loadConfig } from '@gw/config';
import { createPool } from '@gw/db';
import { testEnv, uniqueName } from '@gw/testing';

/* Issue 13 point 5: session timeouts and keepalive on every pool (decision 0902). */

const pools: pg.Pool[] = [];
const clients: pg.Client[] = [];
afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await Promise.all(pools.map((p) => p.end()));
});

function pool(settings: Parameters<typeof createPool>[2]): pg.Pool {
  const p = createPool(testEnv().databaseUrl, 'igw-test-sessions', settings);
  pools.push(p);
  return p;
}

const show = async (p: pg.Pool, name: string): Promise<string> =>
  ((await p.query(`SHOW ${name}`)).rows[0] as Record<string, string>)[name]!;

describe('PostgreSQL session settings', () => {
  it('applies the role defaults: API 120 s / 10 s / 60 s, worker none / 60 s / 60 s, and server keepalive', async () => {
    const config = loadConfig({ DATABASE_URL: testEnv().databaseUrl, WORKER_CONCURRENCY: '256' });
    const api = pool(databaseSettings(config, 'api'));
    expect(await show(api, 'statement_timeout')).toBe('2min');
    expect(await show(api, 'lock_timeout')).toBe('10s');
    expect(await show(api, 'idle_in_transaction_session_timeout')).toBe('1min');
    expect(await show(api, 'tcp_keepalives_idle')).toBe('30');
    expect(await show(api, 'client_connection_check_interval')).toBe('10s');
    const worker = pool(databaseSettings(config, 'worker'));
    expect(await show(worker, 'statement_timeout')).toBe('0');
    expect(await show(worker, 'lock_timeout')).toBe('1min');
    expect(databaseSettings(config, 'worker').poolSize).toBe(256 * 2 + 4);
    expect(databaseSettings(config, 'api').poolSize).toBe(10);
  });

  it('kills a session left idle in a transaction after idle_in_transaction_session_timeout', async () => {
    const p = pool({ idleInTransactionTimeoutMs: 500 });
    const c = await p.connect();
    let broken: unknown;
    c.on('error', (e) => (broken = e));
    await c.query('BEGIN');
    await c.query('SELECT 1');
    await new Promise((r) => setTimeout(r, 1_500));
    await expect(c.query('SELECT 1')).rejects.toThrow();
    c.release(true);
    expect(broken instanceof Error ? broken.message : '').toMatch(/idle-in-transaction timeout|terminat/i);
  });

  it('fails a collection drop behind a stuck import transaction after lock_timeout instead of hanging', async () => {
    const p = pool({ lockTimeoutMs: 1_000 });
    const ctx: CollectionsContext = { catalog: p, target: p, config: { pgvector: 'off' } };
    const name = uniqueName('stuck');
    await createCollection(ctx, 'default', { collectionName: name, dimension: 2 });
    // A worker that inserted rows and then stopped answering: its transaction holds the table.
    const stuck = new pg.Client({ connectionString: testEnv().databaseUrl });
    clients.push(stuck);
    await stuck.connect();
    await stuck.query('BEGIN');
    await stuck.query(`LOCK TABLE "milvus_default"."${name}" IN ROW EXCLUSIVE MODE`);
    const t0 = Date.now();
    const err = await dropCollection(ctx, 'default', { collectionName: name }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect((err as { code?: string } | null)?.code).toBe('55P03');
    await stuck.query('ROLLBACK');
    await dropCollection(ctx, 'default', { collectionName: name });
  });
});
