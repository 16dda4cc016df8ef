import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  createScratchDatabase,
  startTestGateway,
  startTestWorker,
  type TestGateway,
  type TestWorker,
} from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { range, vectorOf } from './fixtures';
import { createJob, newCollection } from './harness';

/**
 * error_mode=continue and dry runs with the collections in another database than the job tables
 * (TARGET_DATABASE_URL, decision 0503): the rejects are written to the job tables after the
 * group's commit in the target, and the limit is still checked before anything is visible.
 */
let web: HttpTestServer;
let gw: TestGateway;
let worker: TestWorker;
let targetDb: { url: string; drop: () => Promise<void> };
let target: pg.Pool;
let key: string;

beforeAll(async () => {
  web = new HttpTestServer();
  await web.start();
  targetDb = await createScratchDatabase();
  target = new pg.Pool({ connectionString: targetDb.url, max: 2 });
  target.on('error', () => undefined);
  gw = await startTestGateway({
    TARGET_DATABASE_URL: targetDb.url,
    WORKER_LEASE_MS: '3000',
    WORKER_RECONCILE_INTERVAL_MS: '500',
    STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
    STORAGE_ALLOW_HTTP: 'true',
  });
  worker = await startTestWorker(gw.config);
  key = await gw.apiKey(['admin']);
}, 120_000);

afterAll(async () => {
  await worker?.close();
  await gw?.close();
  await target?.end();
  await targetDb?.drop();
  await web?.stop();
});

function rows(ids: readonly number[], bad: ReadonlySet<number>): Buffer {
  const line = (i: number) => JSON.stringify({ id: i, vector: bad.has(i) ? vectorOf(i).slice(1) : vectorOf(i) });
  return Buffer.from(ids.map(line).join('\n') + '\n');
}

const rowsIn = async (collection: string): Promise<number> =>
  (await target.query(`SELECT count(*)::int AS n FROM "milvus_default"."${collection}"`)).rows[0].n as number;

async function finished(jobId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const d = (await call(gw, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId } })).body
      .data as Record<string, unknown>;
    if (d.gatewayState === 'Completed' || d.gatewayState === 'Failed') return d;
    await new Promise((res) => setTimeout(res, 150));
  }
  throw new Error(`job ${jobId} did not finish\n${worker.logs().slice(-3000)}`);
}

describe('keep going and dry run with the collections apart', () => {
  it('one file: skips and reports; over the limit publishes nothing', async () => {
    const c = await newCollection(gw, key, 'rapart');
    web.put(`/${c}/a.jsonl`, rows(range(1, 100), new Set([5, 50])));
    const ok = await finished(
      await createJob(gw, key, {
        collectionName: c,
        objectUrl: web.url(`/${c}/a.jsonl`),
        options: { error_mode: 'continue' },
      }),
    );
    expect(ok).toMatchObject({ gatewayState: 'Completed', importedRows: 98, rejectedRows: 2 });
    expect(await rowsIn(c)).toBe(98);
    const empty = await newCollection(gw, key, 'rapart');
    const over = await finished(
      await createJob(gw, key, {
        collectionName: empty,
        objectUrl: web.url(`/${c}/a.jsonl`),
        options: { max_bad_rows: '1' },
      }),
    );
    expect(over.gatewayState).toBe('Failed');
    expect(over.reason).toContain('2 of 100 rows rejected');
    expect(await rowsIn(empty)).toBe(0);
  });

  it('two files: a share over the whole job fails before the publish; a dry run writes nothing', async () => {
    const c = await newCollection(gw, key, 'rapart');
    web.put(`/${c}/a.jsonl`, rows(range(1, 100), new Set([5])));
    web.put(`/${c}/b.jsonl`, rows(range(101, 100), new Set([150, 151])));
    const files = [[web.url(`/${c}/a.jsonl`)], [web.url(`/${c}/b.jsonl`)]];
    const over = await finished(
      await createJob(gw, key, { collectionName: c, files, options: { max_bad_rows: '1%' } }),
    );
    expect(over.gatewayState).toBe('Failed');
    expect(over.reason).toContain('3 of 200 rows rejected, above max_bad_rows=1%');
    expect(await rowsIn(c)).toBe(0);
    const dry = await finished(await createJob(gw, key, { collectionName: c, files, options: { dry_run: 'true' } }));
    expect(dry).toMatchObject({ gatewayState: 'Completed', importedRows: 0, dryRun: { rows: 197, rejectedRows: 3 } });
    expect(await rowsIn(c)).toBe(0);
    const ok = await finished(await createJob(gw, key, { collectionName: c, files, options: { max_bad_rows: '2%' } }));
    expect(ok).toMatchObject({ gatewayState: 'Completed', importedRows: 197, rejectedRows: 3 });
    expect(await rowsIn(c)).toBe(197);
  });
});
