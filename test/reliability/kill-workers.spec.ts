import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { type RunningProcess, startTestGateway, type TestGateway } from '@gw/testing';
import { HttpTestServer } from '../support/storage/http-test-server';
import { createJob, jobState, newCollection, WorkerProcesses } from '../integration/worker/harness';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from '../integration/worker/fixtures';
import { reportFigure, scale, seededRandom, suiteSeed } from './suite';

/**
 * kill -9 of worker processes at random points across running imports (issue 13, the suite):
 * every kill hits a worker that holds the lease of an Importing job, a random 0–1.5 s after the
 * job started; a replacement starts at once. Every job must end Completed with exactly its rows,
 * no duplicates, one Completed event. Full: 20 kills; CI: 3.
 */
const KILLS = scale(3, 20);
const ROWS_PER_GROUP = scale(1_500, 2_000);
const WORKERS = 2;
const ENV = {
  WORKER_LEASE_MS: '2000',
  WORKER_RECONCILE_INTERVAL_MS: '500',
  // 20 kills may land on the same job several times; the default 5 attempts would fail it by design.
  IMPORT_MAX_ATTEMPTS: '40',
  STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
  STORAGE_ALLOW_HTTP: 'true',
};

let gw: TestGateway;
let key: string;
let web: HttpTestServer;
let workers: WorkerProcesses;

beforeAll(async () => {
  web = new HttpTestServer();
  await web.start();
  gw = await startTestGateway(ENV);
  key = await gw.apiKey(['admin']);
  workers = new WorkerProcesses(() => gw, ENV);
});
afterAll(async () => {
  await workers?.killAll();
  await gw?.close();
  await web?.stop();
});

interface Job {
  jobId: string;
  collection: string;
  ids: number[];
}

async function importingOwners(): Promise<{ jobId: string; owner: string }[]> {
  const r = await gw.db.query<{ job_id: string; lease_owner: string }>(
    `SELECT job_id, lease_owner FROM import_jobs WHERE state = 'Importing' AND lease_owner IS NOT NULL`,
  );
  return r.rows.map((row) => ({ jobId: row.job_id, owner: row.lease_owner }));
}

const pidOf = (owner: string) => Number(owner.split(':')[1]);

describe('kill -9 of workers across running imports', () => {
  it(`${KILLS} kills at random points: every job Completed, exact rows, no duplicates`, async () => {
    const seed = suiteSeed();
    const random = seededRandom(seed);
    onTestFailed(async () => {
      console.log(`seed ${seed} (IGW_SEED=${seed} replays the schedule)\n${workers.outputs(3000)}`);
      const jobs = await gw.db.query(`SELECT job_id, state, attempts, reason FROM import_jobs`);
      console.log(JSON.stringify(jobs.rows));
    });
    const collections = [await newCollection(gw, key, 'kill'), await newCollection(gw, key, 'kill')];
    const live: RunningProcess[] = [];
    for (let i = 0; i < WORKERS; i++) live.push(workers.start());
    const jobs: Job[] = [];
    let nextId = 1;
    const addJob = async () => {
      const collection = collections[jobs.length % collections.length]!;
      const n = jobs.length;
      const groups: string[][] = [];
      const ids: number[] = [];
      for (let g = 0; g < 3; g++) {
        const groupIds = range(nextId, ROWS_PER_GROUP);
        nextId += ROWS_PER_GROUP;
        ids.push(...groupIds);
        // Slow first bytes stretch each group, so a kill lands inside reads, COPYs or publishes.
        web.put(`/${collection}/${n}-${g}.jsonl`, jsonl(groupIds), { slowFirstByte: { count: 1, ms: 300 } });
        groups.push([web.url(`/${collection}/${n}-${g}.jsonl`)]);
      }
      jobs.push({
        jobId: await createJob(gw, key, { collectionName: collection, objectUrls: groups }),
        collection,
        ids,
      });
    };
    for (let i = 0; i < 4; i++) await addJob();

    const started = Date.now();
    let kills = 0;
    const killLog: string[] = [];
    while (kills < KILLS) {
      // Keep work flowing: two more jobs per kill, so later kills still find running imports.
      await addJob();
      await addJob();
      const deadline = Date.now() + 60_000;
      let victim: { jobId: string; worker: RunningProcess } | undefined;
      while (victim === undefined) {
        if (Date.now() > deadline) throw new Error('no job of ours reached Importing within 60 s');
        const owners = await importingOwners();
        const candidates = owners.flatMap((o) => {
          const w = live.find((p) => p.child.pid === pidOf(o.owner));
          return w === undefined ? [] : [{ jobId: o.jobId, worker: w }];
        });
        if (candidates.length > 0) victim = candidates[Math.floor(random() * candidates.length)];
        else await new Promise((r) => setTimeout(r, 50));
      }
      await new Promise((r) => setTimeout(r, Math.floor(random() * 1_500)));
      await victim.worker.stop('SIGKILL');
      live.splice(live.indexOf(victim.worker), 1);
      kills++;
      const state = await gw.db.query<{ state: string; attempts: number }>(
        `SELECT state, attempts FROM import_jobs WHERE job_id = $1`,
        [victim.jobId],
      );
      killLog.push(`${victim.jobId}:${state.rows[0]?.state}@${state.rows[0]?.attempts}`);
      live.push(workers.start());
    }
    const killsDone = Date.now();

    for (const j of jobs) {
      await expect.poll(() => jobState(gw.db, j.jobId), { timeout: 180_000, interval: 250 }).toBe('Completed');
    }
    const allDone = Date.now();
    for (const c of collections) {
      const ids = jobs.filter((j) => j.collection === c).flatMap((j) => j.ids);
      const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c}"`));
      expect(d.rows[0]).toEqual({ n: ids.length, text: expectedDigestInput(ids) });
    }
    const events = await gw.db.query<{ job_id: string; n: number }>(
      `SELECT j.job_id, count(*) FILTER (WHERE e.to_state = 'Completed')::int AS n
         FROM import_jobs j LEFT JOIN import_job_events e ON e.job_id = j.id GROUP BY j.job_id`,
    );
    for (const row of events.rows) expect(row.n, row.job_id).toBe(1);
    const attempts = await gw.db.query<{ max: number; resumed: number }>(
      `SELECT max(attempts)::int AS max, count(*) FILTER (WHERE attempts > 1)::int AS resumed FROM import_jobs`,
    );
    reportFigure('kill-workers', {
      seed,
      kills,
      jobs: jobs.length,
      rows: jobs.reduce((s, j) => s + j.ids.length, 0),
      jobsResumed: attempts.rows[0]!.resumed,
      maxAttempts: attempts.rows[0]!.max,
      killPhaseSeconds: Math.round((killsDone - started) / 100) / 10,
      recoverySecondsAfterLastKill: Math.round((allDone - killsDone) / 100) / 10,
      killedAt: killLog.join(' '),
    });
  }, 1_500_000);
});
