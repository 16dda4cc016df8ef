import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '@gw/jobs';
import { call, startTestGateway, type TestGateway } from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { jsonl, range } from '../worker/fixtures';
import { createJob, newCollection, WorkerProcesses } from '../worker/harness';
import { WebhookReceiver } from './receiver';

const SECRET = 'whsec-restart-0123456789abcdef';
const ENV = {
  STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
  STORAGE_ALLOW_HTTP: 'true',
  WEBHOOK_SECRET: SECRET,
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_TIMEOUT_MS: '3000',
  WORKER_LEASE_MS: '3000',
  WORKER_RECONCILE_INTERVAL_MS: '500',
};

let gw: TestGateway;
let web: HttpTestServer;
let hooks: WebhookReceiver;
let workers: WorkerProcesses;
let key: string;

beforeAll(async () => {
  web = new HttpTestServer();
  await web.start();
  hooks = new WebhookReceiver();
  await hooks.start();
  gw = await startTestGateway(ENV);
  workers = new WorkerProcesses(() => gw, ENV);
  key = await gw.apiKey(['admin']);
});
afterAll(async () => {
  await workers.killAll();
  await gw.close();
  await hooks.stop();
  await web.stop();
});

async function webhooksOf(
  jobId: string,
): Promise<{ state: string; gatewayState: string; webhooks?: { state: string; attempts: number }[] }> {
  const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId } });
  return r.body.data as { state: string; gatewayState: string; webhooks?: { state: string; attempts: number }[] };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen\n${workers.outputs()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('webhook outbox across a worker crash', () => {
  it('delivers after a restart what a worker killed between the terminal commit and the delivery left', async () => {
    // This worker delivers only at start, before the job ends: its next pass is an hour away.
    const first = workers.start({ WEBHOOK_POLL_INTERVAL_MS: '3600000' });
    const c = await newCollection(gw, key, 'whk');
    web.put(`/${c}/rows.jsonl`, jsonl(range(1, 10)));
    const jobId = await createJob(gw, key, {
      collectionName: c,
      objectUrl: web.url(`/${c}/rows.jsonl`),
      options: { webhook_url: hooks.url(`/job/${c}`) },
    });
    const ended = await until('the job completing with its delivery queued', async () => {
      const d = await webhooksOf(jobId);
      return d.gatewayState === 'Completed' ? d : undefined;
    });
    expect(ended.webhooks).toEqual([expect.objectContaining({ state: 'Pending', attempts: 0 })]);
    await first.stop('SIGKILL');
    expect(hooks.received).toEqual([]);

    workers.start({ WEBHOOK_POLL_INTERVAL_MS: '100' });
    const [got] = await hooks.waitFor(`/job/${c}`, 1, 60_000);
    expect(verifyWebhookSignature(SECRET, got!.body, got!.headers['x-gateway-signature'] as string)).toBe(true);
    expect(JSON.parse(got!.body)).toMatchObject({ jobId, state: 'Completed', importedRows: 10 });
    const d = await until('describe showing the delivery', async () => {
      const v = await webhooksOf(jobId);
      return v.webhooks?.[0]?.state === 'Delivered' ? v : undefined;
    });
    expect(d.webhooks).toEqual([expect.objectContaining({ state: 'Delivered', attempts: 1 })]);
    // Exactly once: the dead worker's queue row was never claimed, the new one sent it once.
    await new Promise((r) => setTimeout(r, 500));
    expect(hooks.received.filter((r) => r.path === `/job/${c}`)).toHaveLength(1);
    expect(workers.outputs(100_000)).not.toContain(SECRET);
  });
});
