import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startTestGateway, type TestGateway } from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { jsonl, range } from './fixtures';
import { createJob, newCollection, WorkerProcesses } from './harness';

/*
 * Issue 13 point 3: a worker runs WORKER_CONCURRENCY jobs at once, each holding a connection for
 * its COPY; a pool fixed at 10 made the others wait past the acquire timeout and fail.
 */
let web: HttpTestServer;
let gw: TestGateway;
let key: string;

const CONCURRENCY = 24;
const ENV = {
  WORKER_CONCURRENCY: String(CONCURRENCY),
  WORKER_COLLECTION_CONCURRENCY: String(CONCURRENCY),
  WORKER_LEASE_MS: '3000',
  WORKER_RECONCILE_INTERVAL_MS: '500',
  // One attempt: a job that waits past the pool's acquire timeout fails instead of being retried.
  IMPORT_MAX_ATTEMPTS: '1',
  IMPORT_BATCH_ROWS: '20',
  STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
  STORAGE_ALLOW_HTTP: 'true',
};

const workers = new WorkerProcesses(() => gw, ENV);

beforeAll(async () => {
  web = new HttpTestServer();
  await web.start();
  gw = await startTestGateway(ENV);
  key = await gw.apiKey(['admin']);
});
afterAll(async () => {
  await workers.killAll();
  await gw?.close();
  await web?.stop();
});

describe('PostgreSQL pool sized from WORKER_CONCURRENCY', () => {
  it(`completes ${CONCURRENCY} jobs that all hold a COPY at once, more than the old fixed pool of 10`, async () => {
    onTestFailed(() => {
      console.log(workers.outputs());
    });
    const c = await newCollection(gw, key, 'pool');
    let release!: () => void;
    const stalled = new Promise<void>((r) => (release = r));
    const rows = 200;
    for (let k = 0; k < CONCURRENCY; k++) {
      // Every read sends half its file (several 20-row batches, so the COPY has begun) and then
      // stalls until released: each job holds its COPY connection meanwhile.
      const body = jsonl(range(k * rows + 1, rows));
      web.put(`/${c}/${k}.jsonl`, body, { pauseAfter: { count: 1, bytes: body.length >> 1, until: stalled } });
    }
    workers.start();
    const jobIds: string[] = [];
    for (let k = 0; k < CONCURRENCY; k++) {
      jobIds.push(await createJob(gw, key, { collectionName: c, objectUrl: web.url(`/${c}/${k}.jsonl`) }));
    }
    const importing = async () =>
      Number(
        (
          await gw.db.query(
            `SELECT count(*) AS n FROM import_jobs WHERE state = 'Importing' AND collection_name = $1`,
            [c],
          )
        ).rows[0].n,
      );
    await expect.poll(importing, { timeout: 30_000, interval: 200 }).toBe(CONCURRENCY);
    // Longer than the API's 5 s acquire timeout: with 10 connections the waiting jobs failed here.
    await new Promise((r) => setTimeout(r, 8_000));
    release();
    const states = async () =>
      (
        await gw.db.query(
          `SELECT state, count(*)::int AS n FROM import_jobs WHERE collection_name = $1 GROUP BY state`,
          [c],
        )
      ).rows;
    await expect.poll(states, { timeout: 60_000, interval: 250 }).toEqual([{ state: 'Completed', n: CONCURRENCY }]);
    const n = await gw.db.query(`SELECT count(*)::int AS n FROM "milvus_default"."${c}"`);
    expect(n.rows[0].n).toBe(CONCURRENCY * rows);
  }, 150_000);
});
