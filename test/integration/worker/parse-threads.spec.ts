import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startTestGateway, type TestGateway } from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { DIGEST_SQL, expectedDigestInput, jsonl, range, vectorOf } from './fixtures';
import { createJob, newCollection, WorkerProcesses } from './harness';

/** The whole worker path with parse threads on (WORKER_PARSE_THREADS=2): pieces cut, parsed in threads, COPYed in order. */
let web: HttpTestServer;
let gw: TestGateway;
let key: string;
const ENV = {
  WORKER_PARSE_THREADS: '2',
  WORKER_LEASE_MS: '3000',
  WORKER_RECONCILE_INTERVAL_MS: '500',
  STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
  STORAGE_ALLOW_HTTP: 'true',
};
const workers = new WorkerProcesses(() => gw, ENV);

beforeAll(async () => {
  web = new HttpTestServer();
  await web.start();
  gw = await startTestGateway(ENV);
  key = await gw.apiKey(['admin']);
  workers.start();
});
afterAll(async () => {
  await workers.killAll();
  await gw?.close();
  await web?.stop();
});

async function finished(jobId: string): Promise<{ state: string; reason: string }> {
  let row: { state: string; reason: string } | undefined;
  await expect
    .poll(
      async () => {
        row = (await gw.db.query(`SELECT state, reason FROM import_jobs WHERE job_id = $1`, [jobId])).rows[0] as {
          state: string;
          reason: string;
        };
        return row.state;
      },
      { timeout: 60_000, interval: 100 },
    )
    .toMatch(/^(Completed|Failed)$/);
  return row!;
}

describe('parse threads in the worker', () => {
  it('imports a multi-piece JSONL file exactly, in order, with two parse threads', async () => {
    onTestFailed(() => console.log(workers.outputs()));
    const c = await newCollection(gw, key, 'threads');
    const ids = range(1, 150_000);
    const body = jsonl(ids);
    expect(body.length).toBeGreaterThan(2 * 4 * 2 ** 20); // more than two 4 MiB pieces
    web.put(`/${c}/rows.jsonl`, body);
    const jobId = await createJob(gw, key, { collectionName: c, objectUrl: web.url(`/${c}/rows.jsonl`) });
    expect(await finished(jobId)).toEqual({ state: 'Completed', reason: '' });
    const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c}"`));
    expect(d.rows[0]).toEqual({ n: ids.length, text: expectedDigestInput(ids) });
  }, 90_000);

  it('fails naming the exact file, row and field of a bad row in a later piece, with no rows published', async () => {
    onTestFailed(() => console.log(workers.outputs()));
    const c = await newCollection(gw, key, 'threads');
    const lines = range(1, 150_000).map((i) => JSON.stringify({ id: i, vector: vectorOf(i), tag: `t${i}` }));
    lines[134_320] = JSON.stringify({ id: 134_321, vector: [1, 2, 3] });
    const body = Buffer.from(lines.join('\n') + '\n');
    expect(Buffer.byteLength(lines.slice(0, 134_320).join('\n'))).toBeGreaterThan(2 * 4 * 2 ** 20); // in the 3rd piece or later
    web.put(`/${c}/bad.jsonl`, body);
    const jobId = await createJob(gw, key, { collectionName: c, objectUrl: web.url(`/${c}/bad.jsonl`) });
    const done = await finished(jobId);
    expect(done.state).toBe('Failed');
    expect(done.reason).toMatch(
      new RegExp(`^${web.url(`/${c}/bad.jsonl`).replace(/[.?]/g, '\\$&')}: row 134321\\b.*field 'vector'`),
    );
    expect((await gw.db.query(`SELECT count(*)::int AS n FROM "milvus_default"."${c}"`)).rows[0].n).toBe(0);
  }, 90_000);
});
