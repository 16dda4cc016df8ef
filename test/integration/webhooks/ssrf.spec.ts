import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@gw/config';
import { ImportJobsRepository, migrate, WebhooksRepository } from '@gw/db';
import { WebhookDeliverer } from '@gw/jobs';
import type { Resolver } from '@gw/storage';
import { createScratchDatabase, uniqueName } from '@gw/testing';
import { WebhookReceiver } from './receiver';

let db: { url: string; drop: () => Promise<void> };
let pool: Pool;
let jobs: ImportJobsRepository;
let hooks: WebhooksRepository;
let receiver: WebhookReceiver;

beforeAll(async () => {
  db = await createScratchDatabase();
  await migrate(db.url);
  pool = new Pool({ connectionString: db.url, max: 4 });
  jobs = new ImportJobsRepository(pool);
  hooks = new WebhooksRepository(pool);
  receiver = new WebhookReceiver();
  await receiver.start();
});
afterAll(async () => {
  await receiver.stop();
  await pool.end();
  await db.drop();
});

/** A job that ended with one delivery to `url` (written as admission would, bypassing its literal check). */
async function endedWith(url: string): Promise<string> {
  const jobId = uniqueName('job');
  await jobs.admit(
    {
      jobId,
      dbName: 'default',
      collectionName: 'c',
      request: { webhooks: [{ target: 'job', url }] },
      options: {},
      requestHash: jobId,
      files: [{ paths: ['https://example.com/a.json'], displayName: 'a.json', format: 'json', isFolder: false }],
    },
    100,
  );
  await jobs.cancel(jobId, 'cancelled by request', 'api');
  const r = await pool.query<{ id: string }>('SELECT id::text AS id FROM import_jobs WHERE job_id = $1', [jobId]);
  return r.rows[0]!.id;
}

/** A DNS answering from a table, counting questions; nothing is looked up for real. */
function testResolver(table: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const fn = async (host: string) => {
    asked.push(host);
    const a = table[host];
    if (a === undefined) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
    return a.map((address) => ({ address, family: address.includes(':') ? (6 as const) : (4 as const) }));
  };
  return Object.assign(fn, { asked });
}

function deliverer(env: NodeJS.ProcessEnv, resolver: Resolver): WebhookDeliverer {
  const config = loadConfig({ GATEWAY_SECRET_KEY: 'a'.repeat(64), WEBHOOK_SECRET: 'whsec-0123456789abcdef', ...env });
  return new WebhookDeliverer(pool, { config, resolver });
}

describe('webhook delivery SSRF rules (after DNS, test resolver)', () => {
  it.each([
    ['a private address', ['10.0.0.5'], {}],
    [
      'a metadata address, even with private networks allowed',
      ['169.254.169.254'],
      { STORAGE_ALLOW_PRIVATE_NETWORKS: 'true' },
    ],
    ['one private address among public ones', ['93.184.216.34', '192.168.1.10'], {}],
    ['an IPv4-mapped loopback', ['::ffff:127.0.0.1'], {}],
  ] as const)(
    'fails the delivery for good when the name resolves to %s, without connecting',
    async (_what, addrs, env) => {
      const pk = await endedWith('https://hooks.example.test/notify');
      const resolver = testResolver({ 'hooks.example.test': [...addrs] });
      const d = deliverer(env, resolver);
      try {
        expect(await d.runOnce()).toBe(1);
      } finally {
        d.close();
      }
      expect(resolver.asked).toEqual(['hooks.example.test']);
      const [row] = await hooks.listForJob(pk);
      expect(row).toMatchObject({
        state: 'Failed',
        attempts: 1,
        lastStatus: null,
        lastError: 'webhook host is not allowed: hooks.example.test',
      });
      expect(receiver.received).toEqual([]);
    },
  );

  it('refuses plain http unless STORAGE_ALLOW_HTTP, like storage', async () => {
    const pk = await endedWith('http://hooks.example.test/notify');
    const d = deliverer({}, testResolver({ 'hooks.example.test': ['93.184.216.34'] }));
    try {
      await d.runOnce();
    } finally {
      d.close();
    }
    const [row] = await hooks.listForJob(pk);
    expect(row).toMatchObject({
      state: 'Failed',
      attempts: 1,
      lastError: 'plain http webhook refused (needs STORAGE_ALLOW_HTTP)',
    });
  });

  it('connects only to the checked address: a name the test resolver maps to loopback reaches the receiver', async () => {
    const pk = await endedWith(receiver.url('/pinned').replace('127.0.0.1', 'hooks.example.test'));
    const resolver = testResolver({ 'hooks.example.test': ['127.0.0.1'] });
    const d = deliverer({ STORAGE_ALLOW_PRIVATE_NETWORKS: 'true', STORAGE_ALLOW_HTTP: 'true' }, resolver);
    try {
      await d.runOnce();
    } finally {
      d.close();
    }
    const [got] = await receiver.waitFor('/pinned', 1);
    expect(got!.headers.host).toMatch(/^hooks\.example\.test:\d+$/);
    const [row] = await hooks.listForJob(pk);
    expect(row).toMatchObject({ state: 'Delivered', attempts: 1, lastStatus: 200 });
  });

  it('retries a name that does not resolve (DNS may recover), then gives up after the attempts', async () => {
    const pk = await endedWith('https://nowhere.example.test/notify');
    const d = deliverer({ WEBHOOK_MAX_ATTEMPTS: '2', WEBHOOK_RETRY_BASE_MS: '10' }, testResolver({}));
    try {
      await d.runOnce();
      expect((await hooks.listForJob(pk))[0]).toMatchObject({ state: 'Pending', attempts: 1 });
      await new Promise((r) => setTimeout(r, 50));
      await d.runOnce();
    } finally {
      d.close();
    }
    expect((await hooks.listForJob(pk))[0]).toMatchObject({ state: 'Failed', attempts: 2 });
  });
});
