import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startTestGateway, type TestGateway } from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from './fixtures';
import { createJob, jobState, newCollection, WorkerProcesses } from './harness';

/** One job over many workers (issue 12 point 6, decision 0502), with real worker processes. */
let web: HttpTestServer;
let gw: TestGateway;
let key: string;

const ENV = {
  WORKER_LEASE_MS: '2000',
  WORKER_RECONCILE_INTERVAL_MS: '500',
  WORKER_CONCURRENCY: '1',
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

async function stagers(jobId: string): Promise<{ group_index: number; pid: string }[]> {
  const r = await gw.db.query(
    `SELECT f.group_index, split_part(f.claim_owner, ':', 2) AS pid FROM import_job_files f
       JOIN import_jobs j ON j.id = f.job_id WHERE j.job_id = $1 ORDER BY f.group_index`,
    [jobId],
  );
  return r.rows as { group_index: number; pid: string }[];
}

async function waitCompleted(jobId: string): Promise<void> {
  await expect.poll(() => jobState(gw.db, jobId), { timeout: 40_000, interval: 100 }).toBe('Completed');
}

describe('one job over many workers', () => {
  it('two worker processes stage the groups of one job in parallel, and it is published once', async () => {
    onTestFailed(() => {
      console.log(workers.outputs());
    });
    const c = await newCollection(gw, key, 'spread');
    const groups = 8;
    const ids = (k: number) => range(k * 500 + 1, 500);
    for (let k = 0; k < groups; k++) {
      // Every request (stat and read) waits before its first byte, so a group takes long enough for the other process to join.
      web.put(`/${c}/${k}.jsonl`, jsonl(ids(k)), { slowFirstByte: { count: 100, ms: 300 } });
    }
    const a = workers.start();
    const b = workers.start();
    const jobId = await createJob(gw, key, {
      collectionName: c,
      objectUrls: Array.from({ length: groups }, (_, k) => [web.url(`/${c}/${k}.jsonl`)]),
    });
    await waitCompleted(jobId);

    const all = Array.from({ length: groups }, (_, k) => ids(k)).flat();
    const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c}"`));
    expect(d.rows[0]).toEqual({ n: all.length, text: expectedDigestInput(all) });
    const by = await stagers(jobId);
    const pids = new Set(by.map((s) => s.pid));
    expect([...pids].sort()).toEqual([String(a.child.pid), String(b.child.pid)].sort());
    const completed = await gw.db.query(
      `SELECT count(*)::int AS n FROM import_job_events e JOIN import_jobs j ON j.id = e.job_id
        WHERE j.job_id = $1 AND e.to_state = 'Completed'`,
      [jobId],
    );
    expect(completed.rows[0].n).toBe(1);
    const files = await gw.db.query(
      `SELECT sum(f.imported_rows)::int AS rows, bool_and(f.state = 'Completed') AS done FROM import_job_files f
         JOIN import_jobs j ON j.id = f.job_id WHERE j.job_id = $1`,
      [jobId],
    );
    expect(files.rows[0]).toEqual({ rows: all.length, done: true });
  }, 90_000);

  it('a helper killed mid-group loses its claim when it expires; the run stages that group itself, exactly once', async () => {
    onTestFailed(() => {
      console.log(workers.outputs());
    });
    await workers.killAll();
    const c = await newCollection(gw, key, 'spread');
    const groups = 4;
    const ids = (k: number) => range(k * 5_000 + 1, 5_000);
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    for (let k = 0; k < groups; k++) {
      const body = jsonl(ids(k));
      // Every file's first read stalls half-way until the gate opens: both processes end up mid-COPY.
      web.put(`/${c}/${k}.jsonl`, body, { pauseAfter: { count: 1, bytes: Math.floor(body.length / 2), until: gate } });
    }
    const a = workers.start();
    const b = workers.start();
    const jobId = await createJob(gw, key, {
      collectionName: c,
      objectUrls: Array.from({ length: groups }, (_, k) => [web.url(`/${c}/${k}.jsonl`)]),
    });
    const copies = async () =>
      (
        await gw.db.query(
          `SELECT count(*)::int AS n FROM pg_stat_activity
            WHERE datname = current_database() AND query ILIKE 'COPY %igw_staging%' AND state <> 'idle'`,
        )
      ).rows[0].n as number;
    await expect.poll(copies, { timeout: 30_000, interval: 50 }).toBe(2);
    // The helper is the process whose claim is not the run's lease owner.
    const r = await gw.db.query(
      `SELECT split_part(j.lease_owner, ':', 2) AS run, array_agg(split_part(f.claim_owner, ':', 2)) AS claims
         FROM import_jobs j JOIN import_job_files f ON f.job_id = j.id
        WHERE j.job_id = $1 AND f.state = 'InProgress' GROUP BY j.lease_owner`,
      [jobId],
    );
    const { run, claims } = r.rows[0] as { run: string; claims: string[] };
    const helperPid = claims.find((p) => p !== run)!;
    const helper = [a, b].find((w) => String(w.child.pid) === helperPid)!;
    expect(helper).toBeDefined();
    await helper.stop('SIGKILL');
    open();

    await waitCompleted(jobId);
    const all = Array.from({ length: groups }, (_, k) => ids(k)).flat();
    const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c}"`));
    expect(d.rows[0]).toEqual({ n: all.length, text: expectedDigestInput(all) });
    // Every group was finally staged by the run's process.
    expect(new Set((await stagers(jobId)).map((s) => s.pid))).toEqual(new Set([run]));
  }, 90_000);
});
