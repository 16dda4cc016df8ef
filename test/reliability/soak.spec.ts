import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway } from '@gw/testing';
import type { HttpTestServer } from '../support/storage/http-test-server';
import { createJob, newCollection, type ImportStack, startImportStack } from '../integration/worker/harness';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from '../integration/worker/fixtures';
import { reportFigure, scale } from './suite';

/**
 * The soak (issue 13, the suite): many small jobs over many collections, created at once through
 * the API and run by a real worker → every job Completed with exactly its rows, none lost or
 * doubled. Reports the wait of each job (createTime → its first Importing) as the ratio of the
 * longest to the median — how evenly the worker's round-robin over per-collection queues serves
 * collections that all have a backlog — and the throughput.
 */
const JOBS = scale(60, 1_000);
const COLLECTIONS = scale(6, 50);
const ROWS = scale(50, 50);
/** Creates in flight at once (clients of the API). */
const CLIENTS = 16;

let stack: ImportStack;
let web: HttpTestServer;
let gw: TestGateway;
let key: string;

beforeAll(async () => {
  stack = await startImportStack({ WORKER_RECONCILE_INTERVAL_MS: '1000' });
  ({ web, gw, key } = stack);
});
afterAll(async () => {
  await stack?.close();
});

function median(sorted: readonly number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
}

describe('soak', () => {
  it(`${JOBS} small jobs over ${COLLECTIONS} collections all complete with exact rows; wait spread reported`, async () => {
    const collections: string[] = [];
    for (let c = 0; c < COLLECTIONS; c++) collections.push(await newCollection(gw, key, 'soak'));
    const idsOf = new Map<string, number[]>(collections.map((c) => [c, []]));
    const work = Array.from({ length: JOBS }, (_, j) => {
      const collection = collections[j % COLLECTIONS]!;
      const ids = range(1 + j * ROWS, ROWS);
      idsOf.get(collection)!.push(...ids);
      const path = `/soak/${j}.jsonl`;
      web.put(path, jsonl(ids));
      return { collection, url: web.url(path) };
    });

    const started = Date.now();
    const jobIds: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (next < work.length) {
          const w = work[next++]!;
          jobIds.push(await createJob(gw, key, { collectionName: w.collection, files: [[w.url]] }));
        }
      }),
    );
    const created = Date.now();

    const terminal = async () =>
      (
        await gw.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM import_jobs WHERE job_id = ANY($1) AND state IN ('Completed', 'Failed', 'Cancelled')`,
          [jobIds],
        )
      ).rows[0]!.n;
    await expect.poll(terminal, { timeout: scale(85_000, 1_700_000), interval: 500 }).toBe(JOBS);

    const rows = (
      await gw.db.query<{
        job_id: string;
        collection: string;
        state: string;
        reason: string | null;
        wait_ms: number | null;
        end_ms: number;
      }>(
        `SELECT j.job_id, j.collection_name AS collection, j.state, j.reason,
                (extract(epoch FROM (SELECT min(e.at) FROM import_job_events e
                                     WHERE e.job_id = j.id AND e.to_state = 'Importing') - j.created_at) * 1000)::float8 AS wait_ms,
                (extract(epoch FROM j.completed_at) * 1000)::float8 AS end_ms
           FROM import_jobs j WHERE j.job_id = ANY($1)`,
        [jobIds],
      )
    ).rows;
    expect(rows).toHaveLength(JOBS);
    const notCompleted = rows.filter((r) => r.state !== 'Completed').map((r) => `${r.job_id} ${r.state}: ${r.reason}`);
    expect(notCompleted).toEqual([]);
    for (const c of collections) {
      const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c}"`));
      expect(d.rows[0], c).toEqual({ n: idsOf.get(c)!.length, text: expectedDigestInput(idsOf.get(c)!) });
    }

    const waits = rows.map((r) => r.wait_ms ?? Number.NaN).sort((a, b) => a - b);
    expect(waits.every((w) => Number.isFinite(w) && w >= 0)).toBe(true);
    const lastEnd = Math.max(...rows.map((r) => r.end_ms));
    const seconds = (lastEnd - started) / 1000;
    const med = median(waits);
    // Fairness between collections: the median wait of each collection, slowest over fastest.
    const perCollection = collections.map((c) =>
      median(
        rows
          .filter((r) => r.collection === c)
          .map((r) => r.wait_ms ?? Number.NaN)
          .sort((a, b) => a - b),
      ),
    );
    const figures = {
      jobs: JOBS,
      collections: COLLECTIONS,
      rowsPerJob: ROWS,
      workerConcurrency: gw.config.worker.concurrency,
      createSeconds: Math.round((created - started) / 100) / 10,
      totalSeconds: Math.round(seconds * 10) / 10,
      jobsPerSecond: Math.round((JOBS / seconds) * 100) / 100,
      rowsPerSecond: Math.round((JOBS * ROWS) / seconds),
      waitMedianMs: Math.round(med),
      waitP95Ms: Math.round(waits[Math.floor(waits.length * 0.95)]!),
      waitMaxMs: Math.round(waits.at(-1)!),
      longestToMedianWait: Math.round((waits.at(-1)! / Math.max(med, 1)) * 100) / 100,
      slowestToFastestCollectionMedianWait:
        Math.round((Math.max(...perCollection) / Math.max(Math.min(...perCollection), 1)) * 100) / 100,
    };
    reportFigure('soak', figures);
  }, 1_800_000);
});
