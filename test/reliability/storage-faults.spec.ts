import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type TestGateway } from '@gw/testing';
import type { Faults, HttpTestServer } from '../support/storage/http-test-server';
import { createJob, jobState, newCollection, type ImportStack, startImportStack } from '../integration/worker/harness';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from '../integration/worker/fixtures';
import { reportFigure, scale } from './suite';

/**
 * Storage faults through the loopback fault server (issue 13, the suite), end to end through a
 * worker: 5xx bursts, resets and truncation mid-body, slow first bytes are retried and the job
 * completes with exact rows; faults that never stop fail the job once, with a reason naming the
 * file and the fault, and no rows.
 */
const ROWS = scale(3_000, 20_000);
let stack: ImportStack;
let web: HttpTestServer;
let gw: TestGateway;
let key: string;

beforeAll(async () => {
  stack = await startImportStack({ STORAGE_REQUEST_TIMEOUT_MS: '1000', WORKER_RECONCILE_INTERVAL_MS: '500' });
  ({ web, gw, key } = stack);
});
afterAll(async () => {
  await stack?.close();
});

interface Case {
  name: string;
  faults: Faults;
  outcome: 'Completed' | 'Failed';
  reason?: RegExp;
}

const CASES: Case[] = [
  { name: '503 burst', faults: { failNext: { count: 3, status: 503 } }, outcome: 'Completed' },
  { name: '500 burst', faults: { failNext: { count: 2, status: 500 } }, outcome: 'Completed' },
  { name: '429 throttling', faults: { failNext: { count: 3, status: 429 } }, outcome: 'Completed' },
  { name: 'resets mid-body', faults: { resetAfter: { count: 2, bytes: 4_000 } }, outcome: 'Completed' },
  { name: 'truncated bodies', faults: { truncateAfter: { count: 2, bytes: 2_000 } }, outcome: 'Completed' },
  { name: 'slow first bytes', faults: { slowFirstByte: { count: 2, ms: 1_500 } }, outcome: 'Completed' },
  { name: 'persistent 503', faults: { always: 503 }, outcome: 'Failed', reason: /503|unavailable/i },
  {
    name: 'persistent resets',
    faults: { resetAfter: { count: 1_000_000, bytes: 100 } },
    outcome: 'Failed',
    reason: /reset|socket|connection|read/i,
  },
];

describe('storage faults end to end', () => {
  it('bursts, resets, truncation and slowness are retried to success; endless faults fail once, clearly', async () => {
    const started = Date.now();
    let next = 1;
    const jobs: (Case & { jobId: string; collection: string; ids: number[]; path: string })[] = [];
    for (const c of CASES) {
      const collection = await newCollection(gw, key, 'fault');
      const ids = range(next, ROWS);
      next += ROWS;
      const path = `/${collection}/data.jsonl`;
      web.put(path, jsonl(ids), c.faults);
      jobs.push({
        ...c,
        jobId: await createJob(gw, key, { collectionName: collection, objectUrl: web.url(path) }),
        collection,
        ids,
        path,
      });
    }
    const figures: Record<string, unknown> = {};
    for (const j of jobs) {
      await expect
        .poll(() => jobState(gw.db, j.jobId), { timeout: 240_000, interval: 250 })
        .toMatch(/^(Completed|Failed)$/);
      const row = (
        await gw.db.query<{ state: string; reason: string; failed: number }>(
          `SELECT j.state, j.reason,
                  (SELECT count(*)::int FROM import_job_events e WHERE e.job_id = j.id AND e.to_state = 'Failed') AS failed
             FROM import_jobs j WHERE j.job_id = $1`,
          [j.jobId],
        )
      ).rows[0]!;
      const requests = web.requests.filter((r) => r.path === j.path).length;
      figures[j.name] = { state: row.state, requests, ...(row.state === 'Failed' ? { reason: row.reason } : {}) };
      expect(row.state, `${j.name}: ${row.reason}`).toBe(j.outcome);
      const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${j.collection}"`));
      if (j.outcome === 'Completed') {
        expect(d.rows[0], j.name).toEqual({ n: ROWS, text: expectedDigestInput(j.ids) });
        // the fault was really served, and retried past
        expect(requests, j.name).toBeGreaterThan(1);
      } else {
        expect(row.reason, j.name).toMatch(j.reason!);
        expect(row.reason, j.name).toContain('data.jsonl');
        expect(row.failed, j.name).toBe(1);
        expect((d.rows[0] as { n: number }).n, j.name).toBe(0);
      }
    }
    reportFigure('storage-faults', {
      rowsPerJob: ROWS,
      seconds: Math.round((Date.now() - started) / 1000),
      ...figures,
    });
  }, 600_000);
});
