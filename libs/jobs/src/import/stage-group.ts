import type { Pool, PoolClient } from 'pg';
import type { AppConfig } from '@gw/config';
import { JobRejectsRepository, type JobRun } from '@gw/db';
import type { ReadOptions } from '@gw/formats';
import { type GroupCopy, type JobStagingSpec, STAGING_SCHEMA, stagingTableName } from '@gw/sink';
import { type CollectionDef, type CollectionsContext, getCollection, pgSchemaName } from '@gw/collections';
import type { ClosableObjectSource, ObjectSourceDeps, StorageCredentials } from '@gw/storage';
import type { CredentialsCipher, StoredCredentials } from './credentials-cipher';
import { type ParsePool, type StageGroupOptions, type StageUnit, stageUnits } from '../pipeline';
import { openUnitInputs, type PlanContext, type PlannedGroup, type VolumeSources } from './plan';
import { formatLabel, type ImportObserver } from './observer';
import { ProgressTracker } from './progress';
import { Aborted } from './run-guard';
import { parseImportExtensions } from './extension-options';
import type { JobRunsPort, JobStagingPort } from './run-ports';
import { checkBadRows, RejectCollector, TooManyRejectedRows } from './rejects';

/** Whether the collection's primary key is generated (autoID): rows carry no key to conflict on. */
const autoIdKey = (c: CollectionDef): boolean => c.schema.fields.some((f) => f.isPrimary && f.autoId);

/** One slot staging groups of one run (the run's own slot, or a slot helping it). */
export interface StageSlot {
  run: JobRun;
  /** Claim owner: this slot. */
  owner: string;
  spec: JobStagingSpec;
  progress: ProgressTracker;
  signal: AbortSignal;
}

/** A failure while staging one group: the job's reason also lands on that file's row. */
export class GroupFailed extends Error {
  constructor(
    readonly group: number,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/**
 * Stages file groups: claim one, read it (storage → formats → schema) into the COPY of its own
 * transaction, record it, repeat until no group is left to claim.
 */
export class GroupStager {
  private readonly rejects: JobRejectsRepository;

  constructor(
    private readonly runs: JobRunsPort,
    private readonly staging: JobStagingPort,
    private readonly deps: {
      jobs: Pool;
      target: Pool;
      cipher: CredentialsCipher;
      config: Pick<AppConfig, 'storage' | 'import' | 'worker'>;
      storageDeps?: ObjectSourceDeps;
      volumes?: VolumeSources;
      parsePool?: ParsePool | null;
      collection?: (dbName: string, collectionName: string) => Promise<CollectionDef>;
      observer?: ImportObserver;
    },
  ) {
    this.rejects = new JobRejectsRepository(deps.jobs);
  }

  /**
   * error_mode=continue: stores a staged group's rejected rows and counts (on `q`, in the group's
   * commit when the job tables share the target database), then checks max_bad_rows over the job
   * so far (`partial`: only a count limit, more groups may follow).
   */
  private async recordRejects(
    q: Pick<PoolClient, 'query'>,
    run: JobRun,
    group: number,
    rejects: RejectCollector | null,
    partial: boolean,
  ): Promise<void> {
    if (rejects === null) return;
    await this.rejects.recordGroup(q, run.id, group, rejects.rows, rejects.total);
    const t = await this.rejects.totals(q, run.id);
    checkBadRows(run.options, t.rejected, t.staged + t.rejected, partial);
  }

  /** A group refused for too many bad rows: its rows roll back, its report stays (job tables). */
  private async keepReport(e: unknown, run: JobRun, group: number, rejects: RejectCollector | null): Promise<void> {
    if (!(e instanceof TooManyRejectedRows) || rejects === null) return;
    await this.rejects.recordGroup(this.deps.jobs, run.id, group, rejects.rows, rejects.total).catch(() => undefined);
  }

  /** Before the publish of a job of several groups: max_bad_rows over all of them (count or share). */
  async checkRejectedRows(run: JobRun): Promise<void> {
    if (RejectCollector.forOptions(run.options) === null) return;
    const t = await this.rejects.totals(this.deps.jobs, run.id);
    checkBadRows(run.options, t.rejected, t.staged + t.rejected);
  }

  /** Where a run's rows go: its staging table (named per installation and job) and its collection. */
  async specFor(run: JobRun, known?: CollectionDef): Promise<JobStagingSpec> {
    const collection = known ?? (await this.collectionOf(run));
    const conflict = parseImportExtensions(run.options).onConflict;
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
      // skip/upsert need a key the rows carry; admission refuses them on autoID collections.
      ...(conflict === 'error' || autoIdKey(collection) ? {} : { conflict }),
    };
  }

  /** The collection a run loads into. */
  collectionOf(run: JobRun): Promise<CollectionDef> {
    const ctx: CollectionsContext = { catalog: this.deps.jobs, target: this.deps.target, config: { pgvector: 'auto' } };
    return this.deps.collection?.(run.dbName, run.collectionName) ?? getCollection(ctx, run.dbName, run.collectionName);
  }

  /** One slot's staging context, with its own progress of the groups it stages. */
  slotFor(run: JobRun, owner: string, spec: JobStagingSpec, signal: AbortSignal): StageSlot {
    const progress = new ProgressTracker((r, f) => this.runs.writeProgress(r, f), run);
    return { run, owner, spec, progress, signal };
  }

  /** What planning needs: the job's decrypted credentials and signed URLs (never logged or stored). */
  async planContext(run: JobRun, signal: AbortSignal, sources: ClosableObjectSource[]): Promise<PlanContext> {
    const stored = await this.storedCredentials(run);
    return {
      creds: stored === undefined ? undefined : storageCredentials(stored),
      signed: stored?.signedUrls ?? {},
      config: this.deps.config,
      ...(this.deps.storageDeps === undefined ? {} : { storageDeps: this.deps.storageDeps }),
      ...(this.deps.volumes === undefined ? {} : { volumes: this.deps.volumes }),
      signal,
      sources,
    };
  }

  /**
   * Claims and stages groups until none is left to claim (or `maxGroups` are staged); `planFor`
   * gives a claimed group's plan.
   */
  async claimAndStage(
    slot: StageSlot,
    planFor: (group: number) => Promise<PlannedGroup>,
    maxGroups = Number.POSITIVE_INFINITY,
  ): Promise<void> {
    const { leaseMs } = this.deps.config.worker;
    for (let n = 0; n < maxGroups; n++) {
      slot.signal.throwIfAborted();
      const group = await this.runs.claimGroup(slot.run, slot.owner, leaseMs);
      if (group === null) return;
      try {
        await this.stage(slot, await planFor(group));
      } catch (e) {
        await this.runs.releaseClaim(slot.run, group, slot.owner).catch(() => undefined);
        throw new GroupFailed(group, e);
      }
    }
  }

  private async stage(slot: StageSlot, g: PlannedGroup): Promise<void> {
    const { run, spec, progress, signal } = slot;
    const group = g.row.groupIndex;
    const same = this.deps.target === this.deps.jobs;
    // With the target database apart, a stager may have died between committing a group and
    // marking its file row (one database: one commit, so a claimable group is never staged).
    const already = same ? undefined : (await this.staging.staged(spec.table.name)).get(group);
    if (already !== undefined) {
      await this.runs.markGroupStaged(this.deps.jobs, run, group, already);
      return;
    }
    progress.startFile(group, g.bytes);
    const t0 = performance.now();
    const rejects = RejectCollector.forOptions(run.options);
    try {
      const rows = await this.staging.stageGroup(
        spec,
        group,
        this.groupCopy(slot, g, rejects),
        signal,
        async (c, n) => {
          if (!same) return;
          await this.runs.markGroupStaged(c, run, group, n);
          await this.recordRejects(c, run, group, rejects, true);
        },
      );
      this.observeStaged(g, rows, t0);
      if (!same) {
        await this.runs.markGroupStaged(this.deps.jobs, run, group, rows);
        await this.recordRejects(this.deps.jobs, run, group, rejects, true);
      }
    } catch (e) {
      await this.keepReport(e, run, group, rejects);
      throw e;
    } finally {
      progress.endFile(group);
    }
    await progress.flush(true);
  }

  /**
   * A job of one group skips staging: its rows are COPYed straight into the collection in one
   * transaction that also checks the fence, records the publish and (same database) completes
   * the job — one write of every row instead of two. Null when another slot claimed the group.
   */
  async publishSingle(
    slot: StageSlot,
    g: PlannedGroup,
    complete: (c: PoolClient, rows: number) => Promise<void>,
  ): Promise<number | null> {
    const { run, spec, progress, signal } = slot;
    const group = g.row.groupIndex;
    if ((await this.runs.claimGroup(run, slot.owner, this.deps.config.worker.leaseMs)) !== group) return null;
    progress.startFile(group, g.bytes);
    const t0 = performance.now();
    const rejects = RejectCollector.forOptions(run.options);
    const same = this.deps.target === this.deps.jobs;
    try {
      const rows = await this.staging.publishDirect(spec, this.groupCopy(slot, g, rejects), signal, async (c, rows) => {
        // `c` is the target database's: the job's own tables are there only when they share it
        // (apart, completing the job marks its files).
        if (same) {
          await this.runs.markGroupStaged(c, run, group, rows);
          await this.recordRejects(c, run, group, rejects, false);
        } else if (rejects !== null) checkBadRows(run.options, rejects.total, rows + rejects.total);
        await complete(c, rows);
      });
      if (!same && rejects !== null) {
        await this.rejects.recordGroup(this.deps.jobs, run.id, group, rejects.rows, rejects.total);
      }
      this.observeStaged(g, rows, t0);
      this.deps.observer?.published({ rows, ms: performance.now() - t0 });
      return rows;
    } catch (e) {
      await this.keepReport(e, run, group, rejects);
      await this.runs.releaseClaim(run, group, slot.owner).catch(() => undefined);
      throw new GroupFailed(group, e);
    } finally {
      progress.endFile(group);
    }
  }

  private observeStaged(g: PlannedGroup, rows: number, t0: number): void {
    this.deps.observer?.groupStaged({ format: formatLabel(g.units), rows, bytes: g.bytes, ms: performance.now() - t0 });
  }

  /**
   * How one group's rows reach a COPY: the staging pipeline (decision 0402) reads its units in
   * order, parses, validates and encodes ahead of the socket, in parse threads when the process
   * has them; rows and known row counts feed the progress of the group.
   */
  private groupCopy(slot: StageSlot, g: PlannedGroup, rejects: RejectCollector | null): GroupCopy {
    const { run, spec, progress, signal } = slot;
    const group = g.row.groupIndex;
    const readOptions = readOptionsOf(run, this.deps.config, rejects);
    const schema = { fields: spec.layout.fields, enableDynamicField: spec.layout.dynamicField };
    async function* units(): AsyncGenerator<StageUnit> {
      for (const u of g.units) {
        const { inputs, cleanup } = await openUnitInputs(u, signal, (n) => progress.bytes(group, n));
        try {
          yield { format: u.format, inputs, schema, readOptions };
        } finally {
          await cleanup();
        }
      }
    }
    const opts: StageGroupOptions = {
      signal,
      parseThreads: this.deps.parsePool ?? null,
      onRows: async (n) => {
        progress.rows(group, n);
        if (!(await progress.flush(false))) throw new Aborted('lease-lost', 'a progress write found a newer run');
      },
      onKnownRows: (n) => progress.knownRows(group, n),
    };
    return async (c, table, layout) => (await stageUnits(c, table, layout, units(), opts)).rows;
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

/** How a run's readers read: batch bounds from the configuration, CSV/JSON options of the job, rejects (continue). */
export function readOptionsOf(
  run: Pick<JobRun, 'options'>,
  config: Pick<AppConfig, 'import'>,
  rejects: RejectCollector | null,
): ReadOptions {
  return {
    batchRows: config.import.batchRows,
    batchBytes: config.import.batchBytes,
    maxPageBytes: config.import.maxPageBytes,
    ...(run.options.sep === undefined ? {} : { sep: run.options.sep }),
    ...(run.options.nullkey === undefined ? {} : { nullkey: run.options.nullkey }),
    ignoreUnknownFields: run.options.ignore_unknown_fields?.toLowerCase() === 'true',
    ...(rejects === null ? {} : { onRejectedRow: rejects.push }),
  };
}
