import { Pool } from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImportJobsRepository, migrate, WebhooksRepository } from '@gw/db';
import { createScratchDatabase, uniqueName } from '@gw/testing';

let db: { url: string; drop: () => Promise<void> };
let pool: Pool;
let jobs: ImportJobsRepository;
let hooks: WebhooksRepository;

beforeAll(async () => {
  db = await createScratchDatabase();
  await migrate(db.url);
  pool = new Pool({ connectionString: db.url, max: 6 });
  jobs = new ImportJobsRepository(pool);
  hooks = new WebhooksRepository(pool);
});
afterAll(async () => {
  await pool.end();
  await db.drop();
});

async function admitted(webhooks: { target: string; url: string }[]): Promise<{ jobId: string; pk: string }> {
  const jobId = uniqueName('job');
  const r = await jobs.admit(
    {
      jobId,
      dbName: 'default',
      collectionName: 'c',
      request: { source: 'url', groups: [['https://example.com/a.json']], webhooks },
      options: {},
      requestHash: jobId,
      files: [{ paths: ['https://example.com/a.json'], displayName: 'a.json', format: 'json', isFolder: false }],
    },
    100,
  );
  expect(r.kind).toBe('created');
  const pk = await pool.query<{ id: string }>('SELECT id::text AS id FROM import_jobs WHERE job_id = $1', [jobId]);
  return { jobId, pk: pk.rows[0]!.id };
}

describe('webhook outbox', () => {
  it('writes one Pending delivery per snapshotted target in the transaction that ends the job, none while active', async () => {
    const { jobId, pk } = await admitted([
      { target: 'job', url: 'https://hooks.example.com/job?token=t' },
      { target: 'global', url: 'https://ops.example.com/all' },
    ]);
    expect(await hooks.listForJob(pk)).toEqual([]);
    expect(await jobs.cancel(jobId, 'cancelled by request', 'api')).toBe('Pending'); // the state it left
    const rows = await hooks.listForJob(pk);
    expect(rows.map((r) => [r.target, r.url, r.event, r.state, r.attempts])).toEqual([
      ['job', 'https://hooks.example.com/job?token=t', 'Cancelled', 'Pending', 0],
      ['global', 'https://ops.example.com/all', 'Cancelled', 'Pending', 0],
    ]);
    const found = await jobs.findByJobId(jobId);
    expect(found?.webhooks).toHaveLength(2);
  });

  it('writes nothing for a job without targets', async () => {
    const { jobId, pk } = await admitted([]);
    await jobs.cancel(jobId, 'cancelled by request', 'api');
    expect(await hooks.listForJob(pk)).toEqual([]);
  });

  it('never hands one delivery to two concurrent claimers, and fences a record whose claim was taken over', async () => {
    const ends = await Promise.all(
      [1, 2, 3, 4, 5].map(() => admitted([{ target: 'job', url: 'https://h.example.com/' }])),
    );
    for (const e of ends) await jobs.cancel(e.jobId, 'x', 'api');
    const claims = await Promise.all([1, 2, 3, 4].map(() => hooks.claimDue(3, 60_000)));
    const ids = claims.flat().map((c) => c.id);
    expect(new Set(ids).size).toBe(ids.length);
    // Every due delivery claimed once (earlier tests' rows included), none twice.
    const due = await pool.query<{ n: string }>(
      `SELECT count(*) AS n FROM import_job_webhooks WHERE state = 'Pending' AND attempts = 1`,
    );
    expect(ids.length).toBe(Number(due.rows[0]!.n));
    expect(await hooks.claimDue(10, 60_000)).toEqual([]);

    const first = claims.flat()[0]!;
    expect(first.attempt).toBe(1);
    // A stale record (attempt 0 never existed) changes nothing; the real one moves it on.
    const base = { id: first.id, startedAt: new Date(), durationMs: 5, payload: '{}' };
    expect(
      await hooks.recordAttempt({ ...base, attempt: 2, status: 200, error: '', outcome: { kind: 'delivered' } }),
    ).toBe(false);
    expect(
      await hooks.recordAttempt({
        ...base,
        attempt: 1,
        status: 503,
        error: 'HTTP 503',
        outcome: { kind: 'retry', retryInMs: 0 },
      }),
    ).toBe(true);
    const again = (await hooks.claimDue(50, 60_000)).find((c) => c.id === first.id);
    expect(again).toMatchObject({ attempt: 2, payload: '{}' });
    expect(
      await hooks.recordAttempt({ ...base, attempt: 2, status: 204, error: '', outcome: { kind: 'delivered' } }),
    ).toBe(true);
    const attempts = (await hooks.attemptsForJob(first.jobPk)).filter((a) => a.target === first.target);
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 503],
      [2, 204],
    ]);
    const row = (await hooks.listForJob(first.jobPk)).find((r) => r.target === first.target);
    expect(row).toMatchObject({ state: 'Delivered', attempts: 2, lastStatus: 204, lastError: '' });
    expect(row!.deliveredAt).toBeInstanceOf(Date);
  });
});
