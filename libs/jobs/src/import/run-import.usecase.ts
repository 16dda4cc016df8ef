import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Pool, PoolClient } from 'pg';
import type { AppConfig } from '@gw/config';
import { type CollectionsContext, getCollection, quoteIdent } from '@gw/collections';
import { finishJob, inTransaction, type JobFileRow } from '@gw/db';
import { isCodedError } from '@gw/errors';
import { type ByteInput, byteInputFromFile, type FileFormat, formatOf, openFileGroup } from '@gw/formats';
import type { RowBatch } from '@gw/schema';
import {
  assertFileSize,
  type ClosableObjectSource,
  expandFolder,
  type ObjectSource,
  type ObjectSourceDeps,
  type ObjectStat,
  openObjectSource,
  parseObjectLocation,
  type StorageCredentials,
} from '@gw/storage';
import { timeoutReason } from '../jobs.errors';
import type { CredentialsCipher, StoredCredentials } from './credentials-cipher';
import type { ImportSink, StagingSpec } from './import-sink';
import { objectInput } from './object-input';

export const STAGING_SCHEMA = 'igw_staging';
const PUBLISHED_TABLE = `${quoteIdent(STAGING_SCHEMA)}."published"`;

export type RunOutcome = 'completed' | 'failed' | 'cancelled' | 'skipped' | 'released';

/** Thrown to BullMQ for a transient failure with attempts left; the job is retried with backoff. */
export class RetryableImportError extends Error {}
/** Thrown to BullMQ when the job reached a terminal state by failing: no retry. */
export class FatalImportError extends Error {}

export interface RunImportDeps {
  /** Job tables (progress, leases, states). */
  jobs: Pool;
  /** Collection tables and staging; the same Pool object when both live in one database. */
  target: Pool;
  cipher: CredentialsCipher;
  sink: ImportSink;
  config: Pick<AppConfig, 'storage' | 'import' | 'worker'>;
  storageDeps?: ObjectSourceDeps;
  /** Identifies this process in leases and events. */
  workerId?: string;
}

interface Unit {
  format: FileFormat;
  inputs: { source: ObjectSource; stat: ObjectStat; display: string }[];
}

interface PlannedFile {
  row: JobFileRow;
  units: Unit[];
  bytes: number;
}

interface LeasedJob {
  id: string;
  jobId: string;
  dbName: string;
  collectionName: string;
  partitionName: string | null;
  options: Record<string, string>;
  timeoutMs: string | null;
  deadlineAt: Date | null;
  credentialsId: string | null;
  fromState: string;
  /** The file group being staged, so a failure's reason lands on that file's row too. */
  currentGroup?: number;
}

type AbortWhy = 'cancelled' | 'timeout' | 'shutdown' | 'lease-lost';

class Aborted extends Error {
  constructor(readonly why: AbortWhy) {
    super(`import ${why}`);
  }
}

/**
 * Runs one import job end to end (conventions §1 chain: storage → formats → schema → sink → db
 * progress). Postgres decides who runs a job: a lease row update, so a job handed out twice by
 * Redis still runs once. Every file group is staged and committed on its own, so a retry after a
 * crash resumes at the first group not yet staged; one final transaction publishes all rows.
 */
export class RunImportJob {
  readonly workerId: string;
  /** Progress of the jobs running here, also flushed by the lease timer so a slow batch still shows movement. */
  private readonly live = new Map<string, ProgressWriter>();

  constructor(private readonly deps: RunImportDeps) {
    this.workerId = deps.workerId ?? `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  }

  async execute(
    jobId: string,
    opts: { attempt: number; maxAttempts: number; shutdown?: AbortSignal },
  ): Promise<RunOutcome> {
    const job = await this.acquire(jobId);
    if (job === null) return 'skipped';
    const controller = new AbortController();
    const abort = (why: AbortWhy) => {
      if (!controller.signal.aborted) controller.abort(new Aborted(why));
    };
    const onShutdown = () => abort('shutdown');
    opts.shutdown?.addEventListener('abort', onShutdown);
    const leaseMs = this.deps.config.worker.leaseMs;
    const renew = setInterval(
      () => {
        this.live
          .get(job.id)
          ?.flush(false)
          .catch(() => undefined);
        this.renewLease(job.id).then(
          (state) => {
            if (state === 'Cancelled') abort('cancelled');
            else if (state !== 'Importing') abort('lease-lost');
          },
          () => undefined, // a lost connection shows at the next renewal or in the data path
        );
      },
      Math.min(1_000, Math.floor(leaseMs / 3)),
    );
    let deadline: NodeJS.Timeout | undefined;
    if (job.deadlineAt !== null) {
      deadline = setTimeout(() => abort('timeout'), Math.max(0, job.deadlineAt.getTime() - Date.now()));
    }
    const staging = { schema: STAGING_SCHEMA, name: `job_${job.id}` };
    try {
      if (job.deadlineAt !== null && job.deadlineAt.getTime() <= Date.now()) throw new Aborted('timeout');
      await this.run(job, staging, controller.signal);
      return 'completed';
    } catch (e) {
      const why =
        e instanceof Aborted
          ? e.why
          : controller.signal.reason instanceof Aborted
            ? controller.signal.reason.why
            : null;
      return await this.settle(job, staging, why, e, opts);
    } finally {
      this.live.delete(job.id);
      clearInterval(renew);
      clearTimeout(deadline);
      opts.shutdown?.removeEventListener('abort', onShutdown);
    }
  }

  /** Pending → Importing (or an Importing job whose lease expired), with this worker's lease. */
  private async acquire(jobId: string): Promise<LeasedJob | null> {
    const r = await this.deps.jobs.query<LeasedJob>(
      `WITH prior AS (SELECT id, state FROM import_jobs WHERE job_id = $1 FOR UPDATE)
       UPDATE import_jobs j SET state = 'Importing', started_at = coalesce(j.started_at, now()), attempts = j.attempts + 1,
              lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3 / 1000.0), updated_at = now()
         FROM prior
        WHERE j.id = prior.id AND j.state IN ('Pending', 'Importing')
          AND (j.lease_owner IS NULL OR j.lease_expires_at < now() OR j.lease_owner = $2)
       RETURNING j.id::text AS id, j.job_id AS "jobId", j.db_name AS "dbName", j.collection_name AS "collectionName",
                 j.partition_name AS "partitionName", j.options, j.timeout_ms::text AS "timeoutMs",
                 j.deadline_at AS "deadlineAt", j.credentials_id::text AS "credentialsId", prior.state AS "fromState"`,
      [jobId, this.workerId, this.deps.config.worker.leaseMs],
    );
    const job = r.rows[0] ?? null;
    if (job !== null) {
      await this.event(job.id, job.fromState, 'Importing', job.fromState === 'Pending' ? 'started' : 'resumed');
    }
    return job;
  }

  private async renewLease(id: string): Promise<string | null> {
    const r = await this.deps.jobs.query<{ state: string }>(
      `UPDATE import_jobs SET lease_expires_at = CASE WHEN state = 'Importing' AND lease_owner = $2
                THEN now() + make_interval(secs => $3 / 1000.0) ELSE lease_expires_at END
        WHERE id = $1 RETURNING CASE WHEN lease_owner = $2 OR state <> 'Importing' THEN state ELSE 'lost' END AS state`,
      [id, this.workerId, this.deps.config.worker.leaseMs],
    );
    return r.rows[0]?.state ?? null;
  }

  private async event(id: string, from: string | null, to: string, message: string): Promise<void> {
    await this.deps.jobs.query(
      `INSERT INTO import_job_events (job_id, from_state, to_state, message, actor) VALUES ($1, $2, $3, $4, $5)`,
      [id, from, to, message, this.workerId],
    );
  }

  private async credentials(job: LeasedJob): Promise<StoredCredentials | undefined> {
    if (job.credentialsId === null) return undefined;
    const r = await this.deps.jobs.query<{ keyId: string; iv: Buffer; ciphertext: Buffer; authTag: Buffer }>(
      `SELECT key_id AS "keyId", iv, ciphertext, auth_tag AS "authTag" FROM import_job_credentials WHERE id = $1`,
      [job.credentialsId],
    );
    const row = r.rows[0];
    return row === undefined ? undefined : this.deps.cipher.open(row);
  }

  private async run(job: LeasedJob, staging: StagingSpec['table'], signal: AbortSignal): Promise<void> {
    const ctx: CollectionsContext = { catalog: this.deps.jobs, target: this.deps.target, config: { pgvector: 'auto' } };
    const collection = await getCollection(ctx, job.dbName, job.collectionName);
    const stored = await this.credentials(job);
    const creds: StorageCredentials | undefined =
      stored === undefined
        ? undefined
        : {
            ...(stored.accessKey === undefined ? {} : { accessKey: stored.accessKey }),
            ...(stored.secretKey === undefined ? {} : { secretKey: stored.secretKey }),
            ...(stored.token === undefined ? {} : { token: stored.token }),
          };
    const files = (
      await this.deps.jobs.query<JobFileRow>(
        `SELECT group_index AS "groupIndex", urls, display_name AS "displayName", format, is_folder AS "isFolder",
                size_bytes::text AS "sizeBytes", state, progress, imported_rows::text AS "importedRows",
                total_rows::text AS "totalRows", reason, completed_at AS "completedAt"
           FROM import_job_files WHERE job_id = $1 ORDER BY group_index`,
        [job.id],
      )
    ).rows;

    const sources: ClosableObjectSource[] = [];
    try {
      const spec: StagingSpec = { table: staging, collection, partition: job.partitionName ?? '_default' };
      await this.runPlanned(job, spec, files, creds, stored?.signedUrls ?? {}, sources, signal);
    } finally {
      // Drops sockets and the in-memory credentials of every source this job opened.
      for (const src of sources) src.close();
    }
  }

  private async runPlanned(
    job: LeasedJob,
    spec: StagingSpec,
    files: JobFileRow[],
    creds: StorageCredentials | undefined,
    signed: Record<string, string>,
    sources: ClosableObjectSource[],
    signal: AbortSignal,
  ): Promise<void> {
    const plan = await this.plan(files, creds, signed, sources, signal);
    const totalBytes = plan.reduce((a, f) => a + f.bytes, 0);
    await this.deps.jobs.query(`UPDATE import_jobs SET total_bytes = $2, updated_at = now() WHERE id = $1`, [
      job.id,
      totalBytes,
    ]);
    for (const f of plan) {
      await this.deps.jobs.query(
        `UPDATE import_job_files SET size_bytes = $3, object_versions = $4, updated_at = now()
          WHERE job_id = $1 AND group_index = $2`,
        [
          job.id,
          f.row.groupIndex,
          f.bytes,
          JSON.stringify(Object.fromEntries(f.units.flatMap((u) => u.inputs.map((i) => [i.display, i.stat.version])))),
        ],
      );
    }

    const progress = new ProgressWriter(this.deps.jobs, job.id, totalBytes);
    this.live.set(job.id, progress);
    const target = this.deps.target;
    await withClient(target, async (c) => {
      await c.query(`CREATE SCHEMA IF NOT EXISTS ${quoteIdent(STAGING_SCHEMA)}`).catch(ignoreDuplicate);
      await c
        .query(
          `CREATE TABLE IF NOT EXISTS ${PUBLISHED_TABLE} (job_id text PRIMARY KEY, rows bigint NOT NULL, at timestamptz NOT NULL DEFAULT now())`,
        )
        .catch(ignoreDuplicate);
      await this.deps.sink.prepare(c, spec);
    });

    for (const f of plan) {
      if (f.row.state === 'Completed') {
        progress.resumed(f.row.groupIndex, f.bytes, Number(f.row.importedRows));
        continue;
      }
      job.currentGroup = f.row.groupIndex;
      await this.stageFile(job, spec, f, progress, signal);
      delete job.currentGroup;
    }
    await progress.flush(true);
    await this.publish(job, spec, signal);
  }

  /** Stats every object (expanding folders) before reading, so size limits fail early and progress has a total. */
  private async plan(
    files: JobFileRow[],
    creds: StorageCredentials | undefined,
    signed: Record<string, string>,
    sources: ClosableObjectSource[],
    signal: AbortSignal,
  ): Promise<PlannedFile[]> {
    const open = (url: string) => {
      const loc = parseObjectLocation(signed[url] ?? url, cfg.storage);
      const source = openObjectSource(loc, creds, cfg.storage, this.deps.storageDeps);
      sources.push(source);
      return { loc, source };
    };
    const cfg = this.deps.config;
    const out: PlannedFile[] = [];
    let unitCount = 0;
    for (const row of files) {
      const units: Unit[] = [];
      if (row.isFolder) {
        const url = row.urls[0]!;
        const { loc, source } = open(url);
        const groups = await expandFolder(source, loc.key, url, {
          maxGroups: cfg.import.maxFileGroups - unitCount,
          signal,
        });
        for (const g of groups) {
          const inputs = [];
          for (const o of g.objects) {
            const display = url + o.key.slice(loc.key.length);
            assertFileSize(o, cfg.import.maxFileBytes, display);
            inputs.push({ source, stat: await source.stat(o.key, signal), display });
          }
          units.push({ format: formatOf(inputs.map((i) => i.display)), inputs });
        }
      } else {
        const inputs = [];
        for (const url of row.urls) {
          const { loc, source } = open(url);
          const stat = await source.stat(loc.key, signal);
          assertFileSize(stat, cfg.import.maxFileBytes, url);
          inputs.push({ source, stat, display: url });
        }
        units.push({ format: formatOf(row.urls), inputs });
      }
      unitCount += units.length;
      if (unitCount > cfg.import.maxFileGroups) {
        throw new PlanError(`too many file groups: more than ${cfg.import.maxFileGroups} after folder expansion`);
      }
      out.push({ row, units, bytes: units.reduce((a, u) => a + u.inputs.reduce((b, i) => b + i.stat.size, 0), 0) });
    }
    return out;
  }

  private async stageFile(
    job: LeasedJob,
    spec: StagingSpec,
    f: PlannedFile,
    progress: ProgressWriter,
    signal: AbortSignal,
  ): Promise<void> {
    const g = f.row.groupIndex;
    await this.deps.jobs.query(
      `UPDATE import_job_files SET state = 'InProgress', updated_at = now() WHERE job_id = $1 AND group_index = $2`,
      [job.id, g],
    );
    progress.startFile(g, f.bytes);
    const opts = {
      batchRows: this.deps.config.import.batchRows,
      ...(job.options.sep === undefined ? {} : { sep: job.options.sep }),
      ...(job.options.nullkey === undefined ? {} : { nullkey: job.options.nullkey }),
      ignoreUnknownFields: job.options.ignore_unknown_fields?.toLowerCase() === 'true',
    };
    const units = f.units;
    const schema = spec.collection.schema;
    async function* batches(): AsyncGenerator<RowBatch> {
      for (const u of units) {
        const spooled: string[] = [];
        try {
          const inputs: ByteInput[] = [];
          for (const i of u.inputs) {
            const onBytes = (n: number) => progress.bytes(g, n);
            if (i.stat.rangeReads === false && (u.format === 'parquet' || u.format === 'numpy')) {
              // The server ignores Range (storage.md §2): read it once into a temporary file.
              const path = await spoolToFile(i.source, i.stat, signal, onBytes);
              spooled.push(path);
              inputs.push(await byteInputFromFile(path, i.display));
            } else {
              inputs.push(objectInput(i.source, i.stat, i.display, signal, onBytes));
            }
          }
          const reader = openFileGroup(u.format, inputs, schema, opts);
          const known = await reader.totalRows();
          if (known !== null) progress.knownRows(g, known);
          for await (const b of reader.batches()) {
            signal.throwIfAborted();
            yield b;
            progress.rows(g, b.rowCount);
            await progress.flush(false);
          }
        } finally {
          await Promise.all(spooled.map((p) => rm(p, { force: true })));
        }
      }
    }
    const rows = await inTransaction(this.deps.target, async (c) => {
      await this.deps.sink.clearGroup(c, spec, g);
      const n = await this.deps.sink.copyGroup(c, spec, g, batches(), signal);
      signal.throwIfAborted();
      return n;
    });
    await this.deps.jobs.query(
      `UPDATE import_job_files SET state = 'Completed', progress = 100, imported_rows = $3, total_rows = $3,
              consumed_bytes = size_bytes, completed_at = now(), updated_at = now()
        WHERE job_id = $1 AND group_index = $2`,
      [job.id, g, rows],
    );
    progress.finishFile(g, f.bytes, rows);
    await progress.flush(true);
  }

  /** One transaction makes every staged row visible and (same database) marks the job Completed. */
  private async publish(job: LeasedJob, spec: StagingSpec, signal: AbortSignal): Promise<void> {
    signal.throwIfAborted();
    const same = this.deps.target === this.deps.jobs;
    const rows = await inTransaction(this.deps.target, async (c) => {
      const done = await c.query<{ rows: string }>(`SELECT rows::text FROM ${PUBLISHED_TABLE} WHERE job_id = $1`, [
        job.jobId,
      ]);
      let n: number;
      if (done.rows[0] !== undefined) {
        n = Number(done.rows[0].rows); // published by an attempt that died before recording it
      } else {
        n = await this.deps.sink.publish(c, spec);
        await c.query(`INSERT INTO ${PUBLISHED_TABLE} (job_id, rows) VALUES ($1, $2)`, [job.jobId, n]);
      }
      signal.throwIfAborted();
      if (same) await this.complete(c, job, n);
      return n;
    });
    if (!same) await inTransaction(this.deps.jobs, (c) => this.complete(c, job, rows));
    await withClient(this.deps.target, (c) => this.deps.sink.drop(c, spec)).catch(() => undefined);
  }

  private async complete(c: PoolClient, job: LeasedJob, rows: number): Promise<void> {
    const r = await c.query<{ state: string }>(`SELECT state FROM import_jobs WHERE id = $1 FOR UPDATE`, [job.id]);
    if (r.rows[0]?.state !== 'Importing') throw new Aborted('cancelled');
    await c.query(
      `UPDATE import_jobs SET imported_rows = $2, total_rows = $2, consumed_bytes = total_bytes WHERE id = $1`,
      [job.id, rows],
    );
    await c.query(
      `UPDATE import_job_files SET state = 'Completed', progress = 100, completed_at = coalesce(completed_at, now()) WHERE job_id = $1`,
      [job.id],
    );
    await finishJob(c, job.id, 'Importing', 'Completed', '', this.workerId);
  }

  /** Decides what a failure means for the job and for BullMQ. */
  private async settle(
    job: LeasedJob,
    staging: StagingSpec['table'],
    why: AbortWhy | null,
    err: unknown,
    opts: { attempt: number; maxAttempts: number },
  ): Promise<RunOutcome> {
    const dropStaging = () =>
      withClient(this.deps.target, (c) =>
        c.query(`DROP TABLE IF EXISTS ${quoteIdent(staging.schema)}.${quoteIdent(staging.name)}`),
      ).catch(() => undefined);
    if (why === 'cancelled' || why === 'lease-lost') {
      // The API (or a drop) already moved the job to Cancelled, or another worker owns it now.
      if (why === 'cancelled') await dropStaging();
      return why === 'cancelled' ? 'cancelled' : 'released';
    }
    if (why === 'shutdown') {
      await this.release(job, 'worker shutting down; the job resumes elsewhere');
      throw new RetryableImportError('worker shut down during the import');
    }
    if (why === 'timeout') {
      await this.fail(job, timeoutReason(job.options.timeout, job.timeoutMs), null);
      await dropStaging();
      return 'failed';
    }
    const message = err instanceof Error ? err.message : String(err);
    const retryable = isCodedError(err) ? err.retryable : !(err instanceof PlanError) && isTransient(err);
    if (!retryable || opts.attempt + 1 >= opts.maxAttempts) {
      await this.fail(job, message, job.currentGroup ?? null);
      await dropStaging();
      throw new FatalImportError(message);
    }
    await this.release(job, `attempt ${opts.attempt + 1} failed: ${message}`);
    throw new RetryableImportError(message);
  }

  private async fail(job: LeasedJob, reason: string, group: number | null): Promise<void> {
    await inTransaction(this.deps.jobs, async (c) => {
      const r = await c.query<{ state: string }>(`SELECT state FROM import_jobs WHERE id = $1 FOR UPDATE`, [job.id]);
      const state = r.rows[0]?.state;
      if (state === 'Pending' || state === 'Importing') {
        await c.query(
          `UPDATE import_job_files SET reason = $3 WHERE job_id = $1 AND state <> 'Completed' AND ($2::int IS NULL OR group_index = $2)`,
          [job.id, group, reason],
        );
        await finishJob(c, job.id, state, 'Failed', reason, this.workerId);
      }
    });
  }

  private async release(job: LeasedJob, reason: string): Promise<void> {
    await this.deps.jobs.query(
      `UPDATE import_jobs SET lease_owner = NULL, lease_expires_at = NULL, reason = $2, updated_at = now()
        WHERE id = $1 AND lease_owner = $3 AND state = 'Importing'`,
      [job.id, reason, this.workerId],
    );
  }
}

/** A job-level problem found while planning (empty folder, too many groups): bad input, no retry. */
class PlanError extends Error {}

async function spoolToFile(
  source: ObjectSource,
  stat: ObjectStat,
  signal: AbortSignal,
  onBytes: (n: number) => void,
): Promise<string> {
  const path = join(tmpdir(), `igw-spool-${randomBytes(8).toString('hex')}`);
  const out = createWriteStream(path, { mode: 0o600 });
  try {
    for await (const chunk of source.stream(stat.key, 0, signal)) {
      onBytes(chunk.length);
      if (!out.write(chunk)) await once(out, 'drain');
    }
    out.end();
    await once(out, 'finish');
    return path;
  } catch (e) {
    out.destroy();
    await rm(path, { force: true });
    throw e;
  }
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '40001',
  '40P01',
]);
function isTransient(e: unknown): boolean {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' && (TRANSIENT_CODES.has(code) || code.startsWith('08'));
}

function ignoreDuplicate(e: unknown): void {
  const code = (e as { code?: unknown }).code;
  // Concurrent CREATE … IF NOT EXISTS still races on the catalog: the loser's error means it exists.
  if (code !== '23505' && code !== '42P06' && code !== '42P07' && code !== '42710') throw e;
}

async function withClient<T>(pool: Pool, run: (c: PoolClient) => Promise<T>): Promise<T> {
  const c = await pool.connect();
  let broken: Error | undefined;
  // A checked-out client whose backend dies emits 'error' itself; unheard, that would end the process.
  const onError = (e: Error) => {
    broken = e;
  };
  c.on('error', onError);
  try {
    return await run(c);
  } catch (e) {
    // A client whose connection failed must not go back to the pool.
    if (isTransient(e) || (isCodedError(e) && e.retryable)) broken = e as Error;
    throw e;
  } finally {
    c.off('error', onError);
    c.release(broken);
  }
}

/**
 * Live progress on the job-table pool (never the data transaction), at most every second or 5 %,
 * and never backwards: the SQL keeps the greater of stored and new values.
 */
class ProgressWriter {
  private readonly files = new Map<number, { size: number; bytes: number; rows: number; known: number | null }>();
  private lastWrite = 0;
  private lastPct = 0;
  private doneBytes = 0;
  private doneRows = 0;

  constructor(
    private readonly pool: Pool,
    private readonly id: string,
    private readonly totalBytes: number,
  ) {}

  resumed(group: number, size: number, rows: number): void {
    this.doneBytes += size;
    this.doneRows += rows;
    this.files.delete(group);
  }
  startFile(group: number, size: number): void {
    this.files.set(group, { size, bytes: 0, rows: 0, known: null });
  }
  bytes(group: number, n: number): void {
    const f = this.files.get(group);
    if (f) f.bytes = Math.min(f.size, f.bytes + n);
  }
  rows(group: number, n: number): void {
    const f = this.files.get(group);
    if (f) f.rows += n;
  }
  knownRows(group: number, n: number): void {
    const f = this.files.get(group);
    if (f) f.known = (f.known ?? 0) + n;
  }
  finishFile(group: number, size: number, rows: number): void {
    this.files.delete(group);
    this.doneBytes += size;
    this.doneRows += rows;
  }

  private pct(bytes: number, total: number): number {
    return total <= 0 ? 0 : Math.min(99, Math.floor((99 * bytes) / total));
  }

  async flush(force: boolean): Promise<void> {
    let bytes = this.doneBytes;
    let rows = this.doneRows;
    for (const f of this.files.values()) {
      bytes += f.bytes;
      rows += f.rows;
    }
    const pct = this.pct(bytes, this.totalBytes);
    const now = Date.now();
    if (!force && now - this.lastWrite < 1_000 && pct - this.lastPct < 5) return;
    this.lastWrite = now;
    this.lastPct = pct;
    await this.pool.query(
      `UPDATE import_jobs SET progress = GREATEST(progress, $2), imported_rows = GREATEST(imported_rows, $3),
              total_rows = GREATEST(total_rows, $3), consumed_bytes = GREATEST(consumed_bytes, $4), updated_at = now()
        WHERE id = $1 AND state = 'Importing'`,
      [this.id, pct, rows, bytes],
    );
    for (const [group, f] of this.files) {
      await this.pool.query(
        `UPDATE import_job_files SET progress = GREATEST(progress, $3), imported_rows = GREATEST(imported_rows, $4),
                total_rows = GREATEST(total_rows, $5), consumed_bytes = GREATEST(consumed_bytes, $6), updated_at = now()
          WHERE job_id = $1 AND group_index = $2 AND state = 'InProgress'`,
        [this.id, group, this.pct(f.bytes, f.size), f.rows, Math.max(f.rows, f.known ?? 0), f.bytes],
      );
    }
  }
}
