import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostname } from 'node:os';
import type { Pool } from 'pg';
import type { AppConfig } from '@gw/config';
import type { CollectionDef } from '@gw/collections';
import { type JobRun, JobRunsRepository, type TerminalState } from '@gw/db';
import { inTransaction, isTransientPgError } from '@gw/pg';
import { fenceEndingOf, JobStaging, type JobStagingSpec, SinkError, SinkErrorCode, stagingTableName } from '@gw/sink';
import type { ClosableObjectSource, ObjectSourceDeps } from '@gw/storage';
import { timeoutReason } from '../jobs.errors';
import type { ParsePool } from '../pipeline';
import type { CredentialsCipher } from './credentials-cipher';
import { PlanError, type PlannedGroup, planGroups, versionsOf, type VolumeSources } from './plan';
import { Aborted, RunGuard } from './run-guard';
import type { JobRunsPort, JobStagingPort } from './run-ports';
import { HelpRunningImport } from './help-import.usecase';
import type { ImportObserver } from './observer';
import { targetPublishedRows } from './published-check';
import { GroupFailed, GroupStager, type StageSlot } from './stage-group';
import { DryRunImport } from './dry-run';
import { extensionsOf } from './rejects';
import { parseImportExtensions } from './extension-options';
import { objectUrlsOf, sizesOf, skipImported } from './skip-imported';

export type RunOutcome = 'completed' | 'failed' | 'cancelled' | 'skipped' | 'released';

/** What a run ended as, and why when it did not complete (for the processor's log line). */
export interface RunResult {
  outcome: RunOutcome;
  detail?: string;
}

/** Thrown to BullMQ for a transient failure with attempts left; the job is retried with backoff. */
export class RetryableImportError extends Error {}
/** Thrown to BullMQ when the job reached a terminal state by failing: no retry. */
export class FatalImportError extends Error {
  /** The failure's error code (FormatError, StorageError, SinkError…) or its class: a metrics label. */
  readonly code: string;

  constructor(message: string, cause?: unknown) {
    super(message);
    this.code = errorCodeOf(cause);
  }
}

/** A bounded label for an error: its `code` when it has a string one, else its class name. */
export function errorCodeOf(e: unknown): string {
  const code = (e as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code)) return code;
  return e instanceof Error ? e.constructor.name : 'unknown';
}

export interface RunImportDeps {
  /** Job tables (runs, progress, states). */
  jobs: Pool;
  /** Collection tables and staging; the same Pool object when both live in one database. */
  target: Pool;
  cipher: CredentialsCipher;
  config: Pick<AppConfig, 'storage' | 'import' | 'worker'>;
  storageDeps?: ObjectSourceDeps;
  /** This gateway's volumes (jobs created with volumeName + dataPaths). */
  volumes?: VolumeSources;
  /** Identifies this process in leases and events. */
  workerId?: string;
  /** This process's parse threads (WORKER_PARSE_THREADS), or none: parse on the main thread. */
  parsePool?: ParsePool | null;
  /** Ports over `jobs` and `target` (built from the pools when absent). */
  runs?: JobRunsPort;
  staging?: JobStagingPort;
  /** The collection a job loads into (the catalog when absent). */
  collection?: (dbName: string, collectionName: string) => Promise<CollectionDef>;
  /** Told of staged groups and publishes (the worker's metrics). */
  observer?: ImportObserver;
}

/** How often a run whose last groups are staged by other slots looks again. */
const WAIT_FOR_OTHERS_MS = 200;

/**
 * Runs import jobs (conventions §1 chain: storage → formats → schema → sink → db progress).
 *
 * `execute` is a job's run: PostgreSQL hands it the job with a lease and the next fencing token
 * (decision 0501), it plans every group, stages groups it claims, waits for groups other slots
 * claimed, and publishes all rows in one transaction. `helpOnce` hands an idle slot to
 * HelpRunningImport (decision 0502). Every write of both checks the run's token, so a job handed out twice, or a run that lost its lease, never
 * writes twice. Attempts are counted in PostgreSQL.
 */
export class RunImportJob {
  readonly workerId: string;
  private readonly runs: JobRunsPort;
  private readonly staging: JobStagingPort;
  private readonly stager: GroupStager;
  private readonly helper: HelpRunningImport;
  private readonly dryRun: DryRunImport;
  private slots = 0;

  constructor(private readonly deps: RunImportDeps) {
    this.workerId = deps.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.runs = deps.runs ?? new JobRunsRepository(deps.jobs, targetPublishedRows(deps.jobs, deps.target));
    this.staging = deps.staging ?? new JobStaging(deps.target);
    this.stager = new GroupStager(this.runs, this.staging, deps);
    this.helper = new HelpRunningImport(this.workerId, this.runs, this.stager, deps.config);
    this.dryRun = new DryRunImport(this.runs, deps);
  }

  /** An idle slot helps a running job stage one group (HelpRunningImport); false: none to help. */
  helpOnce(opts: { shutdown?: AbortSignal } = {}): Promise<boolean> {
    return this.helper.helpOnce(opts);
  }

  async execute(jobId: string, opts: { shutdown?: AbortSignal } = {}): Promise<RunResult> {
    const { leaseMs } = this.deps.config.worker;
    const owner = `${this.workerId}#r${++this.slots}`;
    const acquired = await this.runs.acquire(jobId, owner, leaseMs, this.deps.config.import.maxAttempts);
    if (acquired.kind === 'skipped') return { outcome: 'skipped', detail: acquired.why };
    if (acquired.kind === 'exhausted') {
      await this.dropStaging(acquired.id);
      return { outcome: 'failed', detail: acquired.reason };
    }
    const run = acquired.run;
    const guard = new RunGuard(
      async () => {
        const r = await this.runs.renew(run, leaseMs);
        if (r === 'renewed') await this.runs.renewClaims(run, owner, leaseMs);
        return r;
      },
      {
        leaseMs,
        deadlineAt: run.deadlineAt,
        ...(opts.shutdown === undefined ? {} : { shutdown: opts.shutdown }),
        lostDetail: `run ${run.token} no longer holds the lease`,
      },
    );
    try {
      await this.coordinate(run, owner, guard);
      return { outcome: 'completed' };
    } catch (e) {
      return await this.settle(run, e, guard);
    } finally {
      guard.stop();
    }
  }

  /** Plans, stages what it claims, waits for the groups other slots stage, publishes. */
  private async coordinate(run: JobRun, owner: string, guard: RunGuard): Promise<void> {
    const signal = guard.signal;
    const spec = await this.stager.specFor(run);
    if (extensionsOf(run.options).dryRun) {
      return this.dryRun.run(run, spec, (sources) => this.stager.planContext(run, signal, sources), signal);
    }
    const begun = await this.staging.begin(spec);
    const sources: ClosableObjectSource[] = [];
    try {
      const files = (await this.runs.files(run.id)).filter((f) => f.state !== 'Skipped');
      const planned = await planGroups(files, await this.stager.planContext(run, signal, sources));
      const plan = await this.leaveOutImported(run, planned, new Set(begun.staged.keys()));
      await this.runs.recordPlan(
        run,
        plan.reduce((a, g) => a + g.bytes, 0),
        plan.map((g) => ({ group: g.row.groupIndex, bytes: g.bytes, versions: versionsOf(g), sizes: sizesOf(g) })),
      );
      if (plan.length === 0 && planned.length > 0 && begun.publishedRows === null) {
        // skip_imported left out every object: the job completes with 0 rows (decision 1401).
        await inTransaction(this.deps.jobs, async (c) => {
          if (!(await this.runs.complete(c, run, 0, run.owner)))
            throw new Aborted('lease-lost', 'the job changed state');
        });
        await this.staging.drop(spec.table.name).catch(() => undefined);
        return;
      }
      if (begun.publishedRows === null) {
        // Groups an earlier run committed are done, whatever their file rows say.
        for (const [group, rows] of begun.staged) await this.runs.markGroupStaged(this.deps.jobs, run, group, rows);
        const byGroup = new Map(plan.map((g) => [g.row.groupIndex, g]));
        const slot = this.stager.slotFor(run, owner, spec, guard.signal);
        guard.tick = () => slot.progress.flush(false);
        if (plan.length === 1 && begun.staged.size === 0 && (await this.publishSingle(run, slot, plan[0]!))) return;
        for (;;) {
          await this.stager.claimAndStage(slot, async (group) => byGroup.get(group)!);
          const staged = await this.staging.staged(spec.table.name);
          if (plan.every((g) => staged.has(g.row.groupIndex))) break;
          await sleep(WAIT_FOR_OTHERS_MS, undefined, { signal }); // an expired claim is ours on the next pass
        }
      }
      await this.stager.checkRejectedRows(run); // error_mode=continue: max_bad_rows before anything is visible
      await this.publish(run, spec, plan, signal);
    } finally {
      for (const src of sources) src.close(); // sockets and in-memory credentials
    }
  }

  /** `options.skip_imported`: leaves out objects the file ledger holds at the same version (decision 1401). */
  private async leaveOutImported(run: JobRun, plan: PlannedGroup[], staged: Set<number>): Promise<PlannedGroup[]> {
    if (!parseImportExtensions(run.options).skipImported) return plan;
    const loaded = await this.runs.loadedObjects(run, objectUrlsOf(plan));
    const left = skipImported(plan, loaded, staged);
    await this.runs.recordSkips(run, left.skips);
    return left.plan;
  }

  /** A one-group job: rows straight into the collection, completed in the same commit (same database). */
  private async publishSingle(run: JobRun, slot: StageSlot, g: PlannedGroup): Promise<boolean> {
    const same = this.deps.target === this.deps.jobs;
    const rows = await this.stager.publishSingle(slot, g, async (c, n) => {
      slot.signal.throwIfAborted();
      if (same && !(await this.runs.complete(c, run, n, run.owner))) {
        throw new Aborted('lease-lost', 'the job changed state before publish');
      }
    });
    if (rows === null) return false; // another slot claimed it first: wait for it as for any group
    await this.completeApart(run, rows);
    await this.staging.drop(slot.spec.table.name).catch(() => undefined);
    return true;
  }

  /** With the job tables in another database, the job is completed after the publish commit. */
  private async completeApart(run: JobRun, rows: number): Promise<void> {
    if (this.deps.target === this.deps.jobs) return;
    const done = await inTransaction(this.deps.jobs, (c) => this.runs.complete(c, run, rows, run.owner));
    if (!done) throw new Aborted('lease-lost', 'the job changed state after publish');
  }

  /** One transaction makes every staged row visible and (same database) marks the job Completed. */
  private async publish(run: JobRun, spec: JobStagingSpec, plan: PlannedGroup[], signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const t0 = performance.now();
    const same = this.deps.target === this.deps.jobs;
    const groups = plan.map((g) => g.row.groupIndex);
    const rows = await this.staging.inPublishTransaction(spec, groups, async (c, publish) => {
      const n = await publish();
      signal.throwIfAborted();
      if (same && !(await this.runs.complete(c, run, n, run.owner))) {
        throw new Aborted('lease-lost', 'the job changed state before publish');
      }
      return n;
    });
    this.deps.observer?.published({ rows, ms: performance.now() - t0 });
    await this.completeApart(run, rows);
    await this.staging.drop(spec.table.name).catch(() => undefined);
  }

  /** Decides what a failure means for the job and for BullMQ. */
  private async settle(run: JobRun, thrown: unknown, guard: RunGuard): Promise<RunResult> {
    const err = thrown instanceof GroupFailed ? thrown.cause : thrown;
    const group = thrown instanceof GroupFailed ? thrown.group : null;
    const aborted = guard.reasonOf(err);
    const fenceLost = err instanceof SinkError && err.code === SinkErrorCode.FenceLost;
    if (fenceLost || aborted?.why === 'lease-lost') {
      // Another run owns the job now (or it ended): write nothing, leave staging to it.
      return { outcome: 'released', detail: fenceLost ? err.message : aborted!.message };
    }
    if (aborted?.why === 'cancelled') {
      await this.dropStaging(run.id);
      return { outcome: 'cancelled' };
    }
    if (aborted?.why === 'shutdown') {
      await this.runs.release(run, 'worker shutting down; the job resumes elsewhere');
      throw new RetryableImportError('worker shut down during the import');
    }
    const closed = err instanceof SinkError ? fenceEndingOf(err) : undefined;
    if (closed !== undefined) {
      // The job was ended in the target database first (decision 0503); the job tables follow.
      const ended = await this.runs.end(run, closed, null);
      await this.dropStaging(run.id);
      return outcomeOf(ended, closed.reason);
    }
    if (aborted?.why === 'timeout') {
      const ended = await this.runs.fail(run, timeoutReason(run.options.timeout, run.timeoutMs), null);
      await this.dropStaging(run.id);
      return outcomeOf(ended, 'timeout');
    }
    const message = err instanceof Error ? err.message : String(err);
    const retryable = !(err instanceof PlanError) && isTransientPgError(err);
    if (!retryable || run.attempt >= run.maxAttempts) {
      const reason = retryable ? `gave up after ${run.attempt} of ${run.maxAttempts} attempts: ${message}` : message;
      const ended = await this.runs.fail(run, reason, group);
      if (ended !== null) await this.dropStaging(run.id);
      // Rows published before the failure (collections apart, decision 0503) completed the job.
      if (ended === 'Completed') return { outcome: 'completed' };
      throw new FatalImportError(reason, err);
    }
    await this.runs.release(run, `attempt ${run.attempt} of ${run.maxAttempts} failed: ${message}`);
    throw new RetryableImportError(message);
  }

  private async dropStaging(jobPk: string): Promise<void> {
    const name = stagingTableName(await this.runs.installationId(), jobPk);
    await this.staging.drop(name).catch(() => undefined); // the reconciler sweeps what is left
  }
}

/** What an ending the run asked for turned into (null: the run no longer owned the job). */
function outcomeOf(ended: TerminalState | null, detail: string): RunResult {
  if (ended === 'Completed') return { outcome: 'completed' };
  if (ended === 'Cancelled') return { outcome: 'cancelled' };
  if (ended === 'Failed') return { outcome: 'failed', detail };
  return { outcome: 'released', detail: 'the job was ended elsewhere' };
}
