import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyWebhookSignature } from '@gw/jobs';
import { call, startTestGateway, startTestWorker, testEnv, type TestGateway, type TestWorker } from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { jsonl, range } from '../worker/fixtures';
import { createJob, newCollection } from '../worker/harness';
import { WebhookReceiver } from './receiver';

const V2 = '/v2/vectordb';
const SECRET = 'whsec-test-0123456789abcdef';

let gw: TestGateway;
let worker: TestWorker;
let web: HttpTestServer;
let hooks: WebhookReceiver;
let key: string;

type Hook = {
  target: string;
  url: string;
  state: string;
  attempts: number;
  lastStatus: number | null;
  lastError: string;
};

beforeAll(async () => {
  web = new HttpTestServer();
  await web.start();
  hooks = new WebhookReceiver();
  await hooks.start();
  gw = await startTestGateway({
    WEBHOOK_URL: hooks.url('/global?token=ops-token'),
    WEBHOOK_SECRET: SECRET,
    WEBHOOK_RETRY_BASE_MS: '100',
    WEBHOOK_POLL_INTERVAL_MS: '100',
    WEBHOOK_MAX_ATTEMPTS: '3',
    WEBHOOK_TIMEOUT_MS: '3000',
  });
  worker = await startTestWorker(gw.config);
  key = await gw.apiKey(['admin']);
});
afterAll(async () => {
  await worker.close();
  await gw.close();
  await hooks.stop();
  await web.stop();
});

async function describeJob(jobId: string): Promise<Record<string, unknown>> {
  const r = await call(gw, 'POST', `${V2}/jobs/import/describe`, { key, body: { jobId } });
  expect(r.body.code, r.text).toBe(0);
  return r.body.data as Record<string, unknown>;
}

/** Polls describe until every webhook left Pending (delivered or failed). */
async function settled(jobId: string, timeoutMs = 20_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await describeJob(jobId);
    const w = d.webhooks as Hook[] | undefined;
    if (w !== undefined && w.length > 0 && w.every((h) => h.state === 'Delivered' || h.state === 'Failed')) return d;
    if (Date.now() > deadline)
      throw new Error(`webhooks of ${jobId} did not settle: ${JSON.stringify(d)}\n${worker.logs().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Every value under this run's Redis prefix, as text (hashes, strings, lists, sorted sets). */
async function redisDump(prefix: string): Promise<string> {
  const redis = new Redis(testEnv().redisUrl);
  try {
    let dump = '';
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 500);
      cursor = next;
      for (const k of keys) {
        const type = await redis.type(k);
        if (type === 'hash') dump += JSON.stringify(await redis.hgetall(k));
        else if (type === 'string') dump += (await redis.get(k)) ?? '';
        else if (type === 'list') dump += (await redis.lrange(k, 0, -1)).join();
        else if (type === 'zset') dump += (await redis.zrange(k, 0, -1)).join();
      }
    } while (cursor !== '0');
    return dump;
  } finally {
    redis.disconnect();
  }
}

function checkSigned(body: string, headers: Record<string, string | string[] | undefined>): void {
  const sig = headers['x-gateway-signature'];
  expect(typeof sig).toBe('string');
  expect(verifyWebhookSignature(SECRET, body, sig as string)).toBe(true);
  expect(verifyWebhookSignature('whsec-not-the-secret-xx', body, sig as string)).toBe(false);
}

describe('webhooks on job end (loopback receiver)', () => {
  it('posts the signed describe body of a Completed job to the job URL and to WEBHOOK_URL', async () => {
    const c = await newCollection(gw, key, 'wh');
    web.put(`/${c}/rows.jsonl`, jsonl(range(1, 20)));
    const jobId = await createJob(gw, key, {
      collectionName: c,
      objectUrl: web.url(`/${c}/rows.jsonl`),
      options: { webhook_url: hooks.url(`/job/${c}?sig=abc`) },
    });
    const [mine] = await hooks.waitFor(`/job/${c}`, 1);
    const global = (await hooks.waitFor('/global', 1)).find((r) => r.body.includes(jobId));
    expect(global).toBeDefined();
    for (const r of [mine!, global!]) {
      checkSigned(r.body, r.headers);
      expect(r.headers['content-type']).toBe('application/json');
      expect(r.headers['x-gateway-event']).toBe('import.completed');
      expect(r.headers['x-gateway-job-id']).toBe(jobId);
      expect(r.headers['x-gateway-attempt']).toBe('1');
    }
    const sent = JSON.parse(mine!.body) as Record<string, unknown>;
    expect(sent).toMatchObject({ jobId, state: 'Completed', importedRows: 20, progress: 100 });
    expect(sent.webhooks).toBeUndefined();

    const d = await settled(jobId);
    // The body sent is describe's answer, apart from the webhooks field.
    const { webhooks, ...rest } = d;
    expect(rest).toEqual(sent);
    expect(webhooks).toEqual([
      {
        target: 'job',
        url: `${hooks.url(`/job/${c}`)}?…`,
        state: 'Delivered',
        attempts: 1,
        lastStatus: 200,
        lastError: '',
        deliverTime: expect.stringMatching(/Z$/) as unknown,
      },
      {
        target: 'global',
        url: `${hooks.url('/global')}?…`,
        state: 'Delivered',
        attempts: 1,
        lastStatus: 200,
        lastError: '',
        deliverTime: expect.stringMatching(/Z$/) as unknown,
      },
    ]);
    // Neither the secret nor the URLs' tokens reach Redis, logs or the describe answer.
    const dump = await redisDump(gw.config.queuePrefix);
    expect(dump).not.toBe(''); // the scan did read this run's queue keys
    const all = dump + gw.logs() + worker.logs() + JSON.stringify(d);
    expect(all).not.toContain(SECRET);
    expect(all).not.toContain('ops-token');
    expect(all).not.toContain('sig=abc');
  });

  it('posts the Failed describe body, reason included, when a job fails', async () => {
    const c = await newCollection(gw, key, 'whf');
    const jobId = await createJob(gw, key, {
      collectionName: c,
      objectUrl: web.url(`/${c}/missing.jsonl`),
      options: { webhook_url: hooks.url(`/job/${c}`) },
    });
    const [r] = await hooks.waitFor(`/job/${c}`, 1, 30_000);
    checkSigned(r!.body, r!.headers);
    expect(r!.headers['x-gateway-event']).toBe('import.failed');
    const sent = JSON.parse(r!.body) as { state: string; reason: string; jobId: string };
    expect(sent).toMatchObject({ jobId, state: 'Failed' });
    expect(sent.reason).toContain('missing.jsonl');
  });

  it('retries a 5xx with backoff, records every attempt, and shows them in describe', async () => {
    const c = await newCollection(gw, key, 'whr');
    web.put(`/${c}/rows.jsonl`, jsonl(range(1, 5)));
    hooks.answer(`/job/${c}`, 503, 500);
    const jobId = await createJob(gw, key, {
      collectionName: c,
      objectUrl: web.url(`/${c}/rows.jsonl`),
      options: { webhook_url: hooks.url(`/job/${c}`) },
    });
    const got = await hooks.waitFor(`/job/${c}`, 3);
    expect(got.map((g) => [g.status, g.headers['x-gateway-attempt']])).toEqual([
      [503, '1'],
      [500, '2'],
      [200, '3'],
    ]);
    // Every retry carries the same body and delivery id, freshly signed.
    expect(new Set(got.map((g) => g.body)).size).toBe(1);
    expect(new Set(got.map((g) => g.headers['x-gateway-delivery'])).size).toBe(1);
    for (const g of got) checkSigned(g.body, g.headers);
    const d = await settled(jobId);
    expect((d.webhooks as Hook[]).find((h) => h.target === 'job')).toMatchObject({
      state: 'Delivered',
      attempts: 3,
      lastStatus: 200,
      lastError: '',
    });
    const attempts = await gw.db.query<{ attempt: number; status: number }>(
      `SELECT a.attempt, a.status FROM import_job_webhook_attempts a
         JOIN import_job_webhooks w ON w.id = a.webhook_id JOIN import_jobs j ON j.id = w.job_id
        WHERE j.job_id = $1 AND w.target = 'job' ORDER BY a.attempt`,
      [jobId],
    );
    expect(attempts.rows).toEqual([
      { attempt: 1, status: 503 },
      { attempt: 2, status: 500 },
      { attempt: 3, status: 200 },
    ]);
  });

  it('gives up after WEBHOOK_MAX_ATTEMPTS and at once on a 4xx other than 408/425/429', async () => {
    const c = await newCollection(gw, key, 'whg');
    hooks.answer(`/job/${c}/down`, 502, 502, 502, 502);
    hooks.answer(`/job/${c}/gone`, 410);
    const down = await createJob(gw, key, {
      collectionName: c,
      objectUrl: web.url(`/${c}/missing.jsonl`),
      options: { webhook_url: hooks.url(`/job/${c}/down`) },
    });
    const gone = await createJob(gw, key, {
      collectionName: c,
      objectUrl: web.url(`/${c}/missing.jsonl`),
      options: { webhook_url: hooks.url(`/job/${c}/gone`) },
    });
    const d1 = await settled(down, 30_000);
    const d2 = await settled(gone, 30_000);
    expect((d1.webhooks as Hook[]).find((h) => h.target === 'job')).toMatchObject({
      state: 'Failed',
      attempts: 3,
      lastStatus: 502,
      lastError: 'HTTP 502',
    });
    expect((d2.webhooks as Hook[]).find((h) => h.target === 'job')).toMatchObject({
      state: 'Failed',
      attempts: 1,
      lastStatus: 410,
    });
  });

  it('refuses at create (1100) a webhook_url whose host is a literal private or metadata address', async () => {
    const strict = await startTestGateway({ STORAGE_ALLOW_PRIVATE_NETWORKS: 'false', STORAGE_ALLOW_HTTP: 'false' });
    try {
      const k = await strict.apiKey(['admin']);
      const c = await newCollection(strict, k, 'whs');
      for (const [url, host] of [
        ['https://169.254.169.254/latest/meta-data', '169.254.169.254'],
        ['https://10.1.2.3/hook', '10.1.2.3'],
        ['https://[fd00:ec2::254]/hook', '[fd00:ec2::254]'],
      ] as const) {
        const r = await call(strict, 'POST', `${V2}/jobs/import/create`, {
          key: k,
          body: { collectionName: c, objectUrl: 'https://data.example.com/a.json', options: { webhook_url: url } },
        });
        expect(r.body, url).toEqual({
          code: 1100,
          message: `invalid parameter: options.webhook_url host is not allowed: ${host}`,
        });
      }
      const n = await strict.db.query<{ n: string }>('SELECT count(*) AS n FROM import_jobs');
      expect(n.rows[0]!.n).toBe('0');
    } finally {
      await strict.close();
    }
  });
});
