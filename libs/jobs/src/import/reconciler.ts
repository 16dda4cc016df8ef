import type { Pool } from 'pg';
import { finishJob, inTransaction } from '@gw/db';
import { timeoutReason } from '../jobs.errors';
import type { BullJobQueue } from '../queues/import/import-queue';
import { importQueueName } from '../queues/import/import-queue';

export interface ReconcileResult {
  enqueued: number;
  recovered: number;
  timedOut: number;
}

/**
 * Postgres is the source of truth; Redis is dispatch. At worker start and every few seconds:
 * Pending jobs Redis does not hold are enqueued again, Importing jobs whose lease expired are put
 * back in front of a worker, and jobs past their deadline that nobody runs fail with the timeout.
 * Every step is idempotent, so several workers may reconcile at once.
 */
export class Reconciler {
  constructor(
    private readonly jobs: Pool,
    private readonly queue: BullJobQueue,
    private readonly opts: { graceMs: number; batch: number; onQueueTouched?: (queueName: string) => void },
  ) {}

  /** Where the last pass stopped: passes walk all active jobs a page at a time, then wrap. */
  private cursor = '0';

  async runOnce(): Promise<ReconcileResult> {
    const timedOut = await this.failExpired();
    const r = await this.jobs.query<{
      id: string;
      jobId: string;
      dbName: string;
      collectionName: string;
      state: string;
    }>(
      `SELECT id::text, job_id AS "jobId", db_name AS "dbName", collection_name AS "collectionName", state FROM import_jobs
        WHERE state IN ('Pending', 'Importing') AND id > $3::bigint
          AND ((state = 'Pending' AND created_at < now() - make_interval(secs => $1 / 1000.0))
            OR (state = 'Importing' AND (lease_expires_at IS NULL OR lease_expires_at < now())))
        ORDER BY import_jobs.id LIMIT $2`,
      [this.opts.graceMs, this.opts.batch, this.cursor],
    );
    this.cursor = r.rows.length < this.opts.batch ? '0' : r.rows[r.rows.length - 1]!.id;
    let enqueued = 0;
    let recovered = 0;
    for (const j of r.rows) {
      const q = this.queue.queueFor(j.dbName, j.collectionName);
      const name = importQueueName(j.dbName, j.collectionName);
      const state = await q.getJobState(j.jobId);
      if (state === 'completed' || state === 'failed') {
        // Redis thinks it is over but Postgres does not: run it again.
        await q.remove(j.jobId).catch(() => undefined);
      }
      if (state === 'unknown' || state === 'completed' || state === 'failed') {
        await this.queue.enqueue(j.dbName, j.collectionName, j.jobId);
        if (j.state === 'Pending') enqueued++;
        else recovered++;
      } else {
        await this.queue.ready.mark(name);
        if (j.state === 'Importing') recovered++;
      }
      // The consumer of this queue (and its stalled-job checker) must exist for a recovery to happen.
      this.opts.onQueueTouched?.(name);
    }
    return { enqueued, recovered, timedOut };
  }

  /** Jobs past their deadline with no live lease (a running one times itself out). */
  private async failExpired(): Promise<number> {
    const r = await this.jobs.query<{ id: string }>(
      `SELECT id::text FROM import_jobs
        WHERE state IN ('Pending', 'Importing') AND deadline_at < now()
          AND (lease_expires_at IS NULL OR lease_expires_at < now())
        LIMIT 100`,
    );
    let n = 0;
    for (const { id } of r.rows) {
      const failed = await inTransaction(this.jobs, async (c) => {
        const j = await c.query<{ state: 'Pending' | 'Importing'; text: string | null; ms: string | null }>(
          `SELECT state, options->>'timeout' AS text, timeout_ms::text AS ms FROM import_jobs
            WHERE id = $1 AND state IN ('Pending', 'Importing') AND deadline_at < now()
              AND (lease_expires_at IS NULL OR lease_expires_at < now()) FOR UPDATE`,
          [id],
        );
        const row = j.rows[0];
        if (row === undefined) return false;
        await finishJob(c, id, row.state, 'Failed', timeoutReason(row.text, row.ms), 'reconciler');
        return true;
      });
      if (failed) n++;
    }
    return n;
  }
}
