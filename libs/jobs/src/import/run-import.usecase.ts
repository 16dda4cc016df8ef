import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Pool } from 'pg';
import type { AppConfig } from '@gw/config';
import { type CollectionDef, type CollectionsContext, getCollection, pgSchemaName } from '@gw/collections';
import { type JobRun, JobRunsRepository } from '@gw/db';
import { openFileGroup } from '@gw/formats';
import { inTransaction, isTransientPgError } from '@gw/pg';
import type { RowBatch } from '@gw/schema';
import { JobStaging, type JobStagingSpec, SinkError, SinkErrorCode, STAGING_SCHEMA, stagingTableName } from '@gw/sink';
import type { ClosableObjectSource, ObjectSourceDeps, StorageCredentials } from '@gw/storage';
import { timeoutReason } from '../jobs.errors';
import type { CredentialsCipher, StoredCredentials } from './credentials-cipher';
import { openUnitInputs, PlanError, type PlannedGroup, planGroups, versionsOf } from './plan';
import { ProgressTracker } from './progress';

export type RunOutcome = 'completed' | 'failed' | 'cancelled' | 'skipped' | 'released';

/** What a run ended as, and why when it did not complete (for the processor's log line). */
export interface RunResult {
  outcome: RunOutcome;
  detail?: string;
}

/** Thrown to BullMQ for a transient failure with attempts left; the job is retried with backoff. */
export class RetryableImportError extends Error {}
/** Thrown to BullMQ when the job reached a terminal state by failing: no retry. */
export class FatalImportError extends Error {}

export interface RunImportDeps {
  /** Job tables (runs, progress, states). */
  jobs: Pool;
  /** Collection tables and staging; the same Pool object when both live in one database. */
  target: Pool;
  cipher: CredentialsCipher;
  config: Pick<AppConfig, 'storage' | 'import' | 'worker'>;
  storageDeps?: ObjectSourceDeps;
  /** Identifies this process in leases and events. */
  workerId?: string;
}

type AbortWhy = 'cancelled' | 'timeout' | 'shutdown' | 'lease-lost';

/** A failure while staging one group: the job's reason also lands on that file's row. */
class GroupFailed extends Error {
  constructor(
    readonly group: number,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

class Aborted extends Error {
  constructor(
    readonly why: AbortWhy,
    readonly detail = '',
  ) {
    super(`import ${why}${detail === '' ? '' : `: ${detail}`}`);
  }
}

/**
 * Runs one import job (conventions §1 chain: storage → formats → schema → sink → db progress).
 * PostgreSQL decides who runs a job: acquiring takes a lease and the next fencing token, and
 * every write of the run (staging commits, progress, publish) checks the token, so a job handed
 * out twice by Redis, or a run that lost its lease, never writes twice. Each file group is staged
 * and committed on its own with its row count (a retry resumes at the first group not staged);
 * one transaction publishes every row. Attempts are counted in PostgreSQL (decision 0501).
 */
export class RunImportJob {
  readonly workerId: string;
  private readonly runs: JobRunsRepository;
  private readonly staging: JobStaging;

  constructor(private readonly deps: RunImportDeps) {
    this.workerId = deps.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
    this.runs = new JobRunsRepository(deps.jobs);
    this.staging = new JobStaging(deps.target);
  }

  async execute(jobId: string, opts: { shutdown?: AbortSignal } = {}): Promise<RunResult> {
    const { leaseMs } = this.deps.config.worker;
    const acquired = await this.runs.acquire(jobId, this.workerId, leaseMs, this.deps.config.import.maxAttempts);
    if (acquired.kind === 'skipped') return { outcome: 'skipped', detail: acquired.why };
    if (acquired.kind === 'exhausted') {
      await this.dropStaging(acquired.id);
      return { outcome: 'failed', detail: acquired.reason };
    }
    const run = acquired.run;
    const controller = new AbortController();
    const abort = (why: AbortWhy, detail?: string) => {
      if (!controller.signal.aborted) controller.abort(new Aborted(why, detail));
    };
    const onShutdown = () => abort('shutdown');
    opts.shutdown?.addEventListener('abort', onShutdown);
    let progress: ProgressTracker | undefined;
    const renew = setInterval(
      () => {
        progress?.flush(false).catch(() => undefined);
        this.runs.renew(run, leaseMs).then(
          (r) => {
            if (r === 'cancelled') abort('cancelled');
            else if (r === 'lost') abort('lease-lost', `run ${run.token} no longer holds the lease`);
          },
          () => undefined, // a lost connection shows at the next renewal or in the data path
        );
      },
      Math.min(1_000, Math.floor(leaseMs / 3)),
    );
    const deadline =
      run.deadlineAt === null
        ? undefined
        : setTimeout(() => abort('timeout'), Math.max(0, run.deadlineAt.getTime() - Date.now()));
    try {
      if (run.deadlineAt !== null && run.deadlineAt.getTime() <= Date.now()) throw new Aborted('timeout');
      await this.run(run, controller.signal, (p) => (progress = p));
      return { outcome: 'completed' };
    } catch (e) {
      return await this.settle(run, e, controller.signal);
    } finally {
      clearInterval(renew);
      clearTimeout(deadline);
      opts.shutdown?.removeEventListener('abort', onShutdown);
    }
  }

  private async run(run: JobRun, signal: AbortSignal, onProgress: (p: ProgressTracker) => void): Promise<void> {
    const ctx: CollectionsContext = { catalog: this.deps.jobs, target: this.deps.target, config: { pgvector: 'auto' } };
    const collection = await getCollection(ctx, run.dbName, run.collectionName);
    const spec = await this.stagingSpec(run, collection);
    const begun = await this.staging.begin(spec);
    const sources: ClosableObjectSource[] = [];
    try {
      const stored = await this.storedCredentials(run);
      const plan = await planGroups(await this.runs.files(run.id), {
        creds: stored === undefined ? undefined : storageCredentials(stored),
        signed: stored?.signedUrls ?? {},
        config: this.deps.config,
        ...(this.deps.storageDeps === undefined ? {} : { storageDeps: this.deps.storageDeps }),
        signal,
        sources,
      });
      const totalBytes = plan.reduce((a, g) => a + g.bytes, 0);
      await this.runs.recordPlan(
        run,
        totalBytes,
        plan.map((g) => ({ group: g.row.groupIndex, bytes: g.bytes, versions: versionsOf(g) })),
      );
      const progress = new ProgressTracker((r, j, f) => this.runs.writeProgress(r, j, f), run, totalBytes);
      onProgress(progress);
      if (begun.publishedRows === null) {
        for (const g of plan) {
          const staged = begun.staged.get(g.row.groupIndex);
          if (staged !== undefined) progress.resumed(staged, g.bytes);
          else await this.stageGroup(run, spec, g, progress, signal);
        }
        await progress.flush(true);
      }
      await this.publish(run, spec, plan, signal);
    } finally {
      for (const src of sources) src.close(); // sockets and in-memory credentials
    }
  }

  private async stagingSpec(run: JobRun, collection: CollectionDef): Promise<JobStagingSpec> {
    return {
      table: { schema: STAGING_SCHEMA, name: stagingTableName(await this.runs.installationId(), run.id) },
      target: { schema: pgSchemaName(collection.db), name: collection.name },
      layout: {
        fields: collection.schema.fields,
        storage: collection.storage,
        dynamicField: collection.schema.enableDynamicField,
      },
      partition: run.partitionName ?? '_default',
      jobId: run.jobId,
      token: run.token,
    };
  }

  private async stageGroup(
    run: JobRun,
    spec: JobStagingSpec,
    g: PlannedGroup,
    progress: ProgressTracker,
    signal: AbortSignal,
  ): Promise<void> {
    const group = g.row.groupIndex;
    await this.runs.markGroupStarted(run, group);
    progress.startFile(group, g.bytes);
    const readOptions = {
      batchRows: this.deps.config.import.batchRows,
      ...(run.options.sep === undefined ? {} : { sep: run.options.sep }),
      ...(run.options.nullkey === undefined ? {} : { nullkey: run.options.nullkey }),
      ignoreUnknownFields: run.options.ignore_unknown_fields?.toLowerCase() === 'true',
    };
    const schema = spec.layout;
    async function* batches(): AsyncGenerator<RowBatch> {
      for (const u of g.units) {
        const { inputs, cleanup } = await openUnitInputs(u, signal, (n) => progress.bytes(group, n));
        try {
          const reader = openFileGroup(
            u.format,
            inputs,
            { fields: schema.fields, enableDynamicField: schema.dynamicField },
            readOptions,
          );
          const known = await reader.totalRows();
          if (known !== null) progress.knownRows(group, known);
          for await (const b of reader.batches()) {
            signal.throwIfAborted();
            yield b;
            progress.rows(group, b.rowCount);
            if (!(await progress.flush(false))) throw new Aborted('lease-lost', 'a progress write found a newer run');
          }
        } finally {
          await cleanup();
        }
      }
    }
    const same = this.deps.target === this.deps.jobs;
    try {
      const rows = await this.staging.stageGroup(spec, group, batches(), signal, (c, n) =>
        same ? this.runs.markGroupStaged(c, run, group, n) : Promise.resolve(),
      );
      if (!same) await this.runs.markGroupStaged(this.deps.jobs, run, group, rows);
      progress.finishFile(group, g.bytes, rows);
      await progress.flush(true);
    } catch (e) {
      progress.abandonFile(group);
      throw new GroupFailed(group, e);
    }
  }

  /** One transaction makes every staged row visible and (same database) marks the job Completed. */
  private async publish(run: JobRun, spec: JobStagingSpec, plan: PlannedGroup[], signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const same = this.deps.target === this.deps.jobs;
    const groups = plan.map((g) => g.row.groupIndex);
    const rows = await this.staging.inPublishTransaction(spec, groups, async (c, publish) => {
      const n = await publish();
      signal.throwIfAborted();
      if (same && !(await this.runs.complete(c, run, n, this.workerId))) {
        throw new Aborted('lease-lost', 'the job changed state before publish');
      }
      return n;
    });
    if (!same) {
      const done = await inTransaction(this.deps.jobs, (c) => this.runs.complete(c, run, rows, this.workerId));
      if (!done) throw new Aborted('lease-lost', 'the job changed state after publish');
    }
    await this.staging.drop(spec.table.name).catch(() => undefined);
  }

  /** Decides what a failure means for the job and for BullMQ. */
  private async settle(run: JobRun, thrown: unknown, signal: AbortSignal): Promise<RunResult> {
    const err = thrown instanceof GroupFailed ? thrown.cause : thrown;
    const group = thrown instanceof GroupFailed ? thrown.group : null;
    const aborted = err instanceof Aborted ? err : signal.reason instanceof Aborted ? signal.reason : null;
    const fenceLost = err instanceof SinkError && err.code === SinkErrorCode.FenceLost;
    if (fenceLost || aborted?.why === 'lease-lost') {
      // Another run owns the job now: write nothing, leave staging to it.
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
    if (aborted?.why === 'timeout') {
      await this.runs.fail(run, timeoutReason(run.options.timeout, run.timeoutMs), null);
      await this.dropStaging(run.id);
      return { outcome: 'failed', detail: 'timeout' };
    }
    const message = err instanceof Error ? err.message : String(err);
    const retryable = !(err instanceof PlanError) && isTransientPgError(err);
    if (!retryable || run.attempt >= run.maxAttempts) {
      const reason = retryable ? `gave up after ${run.attempt} of ${run.maxAttempts} attempts: ${message}` : message;
      if (await this.runs.fail(run, reason, group)) await this.dropStaging(run.id);
      throw new FatalImportError(reason);
    }
    await this.runs.release(run, `attempt ${run.attempt} of ${run.maxAttempts} failed: ${message}`);
    throw new RetryableImportError(message);
  }

  private async dropStaging(jobPk: string): Promise<void> {
    const name = stagingTableName(await this.runs.installationId(), jobPk);
    await this.staging.drop(name).catch(() => undefined); // the reconciler sweeps what is left
  }

  private async storedCredentials(run: JobRun): Promise<StoredCredentials | undefined> {
    if (run.credentialsId === null) return undefined;
    const row = await this.runs.credentials(run.credentialsId);
    return row === undefined ? undefined : this.deps.cipher.open(row);
  }
}

function storageCredentials(stored: StoredCredentials): StorageCredentials {
  return {
    ...(stored.accessKey === undefined ? {} : { accessKey: stored.accessKey }),
    ...(stored.secretKey === undefined ? {} : { secretKey: stored.secretKey }),
    ...(stored.token === undefined ? {} : { token: stored.token }),
  };
}
