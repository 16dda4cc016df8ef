import type { Pool } from 'pg';
import { isActive, JobPhasesRepository, JobRunsRepository } from '@gw/db';
import { JobStaging, stagingTablePrefix } from '@gw/sink';
import { timeoutReason } from '../jobs.errors';
import { targetPublishedRows } from './published-check';
import { failAbandonedIndexing } from './index-after-load';
import type { BullJobQueue } from '../queues/import/import-queue';
import { importQueueName } from '../queues/import/import-queue';

export interface ReconcileResult {
  enqueued: number;
  recovered: number;
  timedOut: number;
  /** Staging tables of finished (or deleted) jobs that were dropped. */
  stagingDropped: number;
  /** Terminal jobs deleted past IMPORT_JOB_RETENTION. */
  expired: number;
  /** Index builds after load whose worker died, marked Failed. */
  indexingAbandoned: number;
}

export interface ReconcilerOptions {
  graceMs: number;
  batch: number;
  onQueueTouched?: (queueName: string) => void;
  /** The collections' database, where staging tables live; staging clean-up is off without it. */
  target?: Pool;
  /** IMPORT_JOB_RETENTION in ms: terminal jobs that ended longer ago are deleted; absent: kept. */
  retentionMs?: number;
  /** Jobs deleted per statement, and statements per pass at most (so a pass stays short). */
  retentionBatch?: number;
  retentionBatchesPerPass?: number;
  /** An index build Running this long with no builder holding its lock was abandoned (INDEXING_STALE_MS). */
  indexingStaleMs?: number;
}

/**
 * Postgres is the source of truth; Redis is dispatch. At worker start and every few seconds:
 * Pending jobs Redis does not hold are enqueued again, Importing jobs whose lease expired are put
 * back in front of a worker (which fails them once their attempts are used up), jobs past their
 * deadline that nobody runs fail with the timeout, staging tables of jobs that are no longer
 * active are dropped, index builds whose worker died are marked Failed, and (IMPORT_JOB_RETENTION) terminal jobs past the retention are deleted. Every step is idempotent, so several workers may reconcile at once.
 */
export class Reconciler {
  private readonly runs: JobRunsRepository;
  private readonly staging: JobStaging | undefined;
  private readonly phases: JobPhasesRepository;

  constructor(
    jobs: Pool,
    private readonly queue: BullJobQueue,
    private readonly opts: ReconcilerOptions,
  ) {
    this.runs = new JobRunsRepository(jobs, opts.target && targetPublishedRows(jobs, opts.target));
    this.staging = opts.target === undefined ? undefined : new JobStaging(opts.target);
    this.phases = new JobPhasesRepository(jobs);
  }

  /** Where the last pass stopped: passes walk all active jobs a page at a time, then wrap. */
  private cursor = '0';

  async runOnce(): Promise<ReconcileResult> {
    const timedOut = (await this.runs.failPastDeadline(100, timeoutReason, 'reconciler')).length;
    const rows = await this.runs.listUnowned(this.opts.graceMs, this.opts.batch, this.cursor);
    this.cursor = rows.length < this.opts.batch ? '0' : rows[rows.length - 1]!.id;
    let enqueued = 0;
    let recovered = 0;
    for (const j of rows) {
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
    const stagingDropped = await this.sweepStaging();
    const expired = await this.expireEnded();
    const indexingAbandoned =
      this.opts.target === undefined
        ? 0
        : await failAbandonedIndexing(this.phases, this.opts.target, this.opts.indexingStaleMs);
    return { enqueued, recovered, timedOut, stagingDropped, expired, indexingAbandoned };
  }

  /**
   * IMPORT_JOB_RETENTION: deletes terminal jobs that ended before the retention, in batches of
   * `retentionBatch` (short transactions, no long lock on the table), a bounded number per pass;
   * a backlog (retention just turned on over millions of jobs) drains over successive passes.
   */
  async expireEnded(): Promise<number> {
    const retention = this.opts.retentionMs;
    if (retention === undefined) return 0;
    const batch = this.opts.retentionBatch ?? 1_000;
    let deleted = 0;
    for (let i = 0; i < (this.opts.retentionBatchesPerPass ?? 10); i++) {
      const n = await this.runs.deleteEndedBefore(retention, batch);
      deleted += n;
      if (n < batch) break;
    }
    return deleted;
  }

  /**
   * Drops staging left by jobs that are no longer active: cancelled while queued, timed out
   * here, failed by a run that could not drop it, or deleted. Only this installation's tables.
   */
  async sweepStaging(): Promise<number> {
    if (this.staging === undefined) return 0;
    const installation = await this.runs.installationId();
    const prefix = stagingTablePrefix(installation);
    const tables = await this.staging.listTables(installation);
    const ids = tables.map((t) => t.slice(prefix.length)).filter((id) => /^\d+$/.test(id));
    const states = await this.runs.statesOf(ids);
    let dropped = 0;
    for (const id of ids) {
      const state = states.get(id);
      if (state !== undefined && isActive(state)) continue;
      await this.staging.drop(`${prefix}${id}`);
      dropped++;
    }
    await this.staging.forgetClosed(installation);
    return dropped;
  }
}
