import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import type { HttpTestServer } from '../../support/storage/http-test-server';
import { type ImportStack, startImportStack } from './harness';
import { jsonl, range } from './fixtures';

/**
 * A server that drips its body (storage.md §2 read deadline, decision 0107) must not hold a worker
 * slot forever: the worker cuts each ranged GET at the read budget, retries from the last byte,
 * then fails the job naming the file — as a URL without its query, whose signature parameters
 * appear in no reason, detail or log line (§4 secrecy). Small budgets keep the test fast.
 */
const V2 = '/v2/vectordb';
let stack: ImportStack;
let web: HttpTestServer;
let gw: TestGateway;
let worker: TestWorker;
let key: string;

beforeAll(async () => {
  stack = await startImportStack({
    STORAGE_READ_TIMEOUT_MS: '300',
    STORAGE_READ_MIN_BYTES_PER_SEC: '1000',
    WORKER_RECONCILE_INTERVAL_MS: '500',
  });
  ({ web, gw, worker, key } = stack);
});
afterAll(async () => {
  await stack?.close();
});

describe('a slow-drip object server', () => {
  it('fails the job as too slow within seconds, naming the file without its signed query, and frees the slot', async () => {
    const collection = uniqueName('drip');
    const created = await call(gw, 'POST', `${V2}/collections/create`, {
      key,
      body: { collectionName: collection, dimension: 4 },
    });
    expect(created.body.code).toBe(0);
    // One byte every 25 ms: never silent for the 30 s idle timeout, far under 1,000 bytes/s.
    web.put(`/${collection}/drip.jsonl`, jsonl(range(1, 200)), {
      drip: { count: 1000, bytes: 64, step: 1, everyMs: 25 },
    });
    const secrets = ['AKIASIGNEDCREDENTIAL', 'f00dfeedsignature0123456789abcdef', 'sasSigValue%2Bsecret'];
    const signed =
      web.url(`/${collection}/drip.jsonl`) +
      `?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=${secrets[0]}%2F20260101%2Fus-east-1%2Fs3%2Faws4_request` +
      `&X-Amz-Signature=${secrets[1]}&sv=2024-01-01&se=2030-01-01&sig=${secrets[2]}`;
    const started = Date.now();
    const r = await call(gw, 'POST', `${V2}/jobs/import/create`, {
      key,
      body: { collectionName: collection, objectUrl: signed },
    });
    expect(r.body.code, r.text).toBe(0);
    const jobId = (r.body.data as { jobId: string }).jobId;
    let d: { gatewayState: string; reason: string; details: { fileName: string }[] } | undefined;
    await expect
      .poll(
        async () => {
          const got = await call(gw, 'POST', `${V2}/jobs/import/describe`, { key, body: { jobId } });
          d = got.body.data as typeof d;
          return d?.gatewayState;
        },
        { timeout: 30_000, interval: 100 },
      )
      .toMatch(/^(Completed|Failed)$/);
    const plain = web.url(`/${collection}/drip.jsonl`);
    expect(d!.gatewayState).toBe('Failed');
    expect(d!.reason).toMatch(
      new RegExp(
        `^storage read too slow: ${plain.replace(/[.?]/g, '\\$&')} \\(under 1000 bytes/s in \\d+ attempts\\)$`,
      ),
    );
    expect(d!.details.map((x) => x.fileName)).toEqual([plain]);
    // Bounded: one job attempt of a few cut GETs, not the 30 s idle timeout per GET.
    expect(Date.now() - started).toBeLessThan(25_000);
    const row = await gw.db.query(`SELECT attempts FROM import_jobs WHERE job_id = $1`, [jobId]);
    expect((row.rows[0] as { attempts: number }).attempts).toBe(1);
    const gets = web.requests.filter((q) => q.path === `/${collection}/drip.jsonl` && q.range !== 'bytes=0-0');
    expect(gets.length).toBeGreaterThanOrEqual(2);

    // The worker logs the failure just after committing it, so describe may see Failed first.
    await expect.poll(() => gw.logs() + worker.logs(), { timeout: 5_000 }).toContain('storage read too slow');
    const logs = gw.logs() + worker.logs();
    for (const s of secrets) expect(logs).not.toContain(s);
    expect(JSON.stringify(d)).not.toMatch(/X-Amz-|sig=/i);
  });
});
