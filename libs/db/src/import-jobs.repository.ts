import type { Pool } from 'pg';
import { inTransaction } from '@gw/pg';
import { ACTIVE_STATES, endJob, type FileState, type JobState, type PublishedRowsCheck } from './import-job-state';

export interface NewJobFile {
  paths: string[];
  displayName: string;
  format: string;
  isFolder: boolean;
}

export interface NewJob {
  jobId: string;
  dbName: string;
  collectionName: string;
  partitionName?: string;
  request: Record<string, unknown>;
  options: Record<string, string>;
  timeoutMs?: number;
  idempotencyKey?: string;
  requestHash: string;
  sealedCredentials?: { keyId: string; iv: Buffer; ciphertext: Buffer; authTag: Buffer };
  apiKeyId?: string;
  files: NewJobFile[];
}

export type AdmitResult =
  | { kind: 'created'; jobId: string }
  | { kind: 'replayed'; jobId: string }
  | { kind: 'idempotency-conflict' }
  | { kind: 'limit' };

export interface JobRow {
  id: string;
  jobId: string;
  dbName: string;
  collectionName: string;
  partitionName: string | null;
  state: JobState;
  progress: number;
  importedRows: string;
  totalRows: string;
  totalBytes: string;
  reason: string;
  options: Record<string, string>;
  request: Record<string, unknown>;
  createdAt: Date;
  startedAt: Date | null;
  completedAt: Date | null;
  /** Rows skipped under error_mode=continue (decision 1301). */
  rejectedRows: string;
}

export interface JobFileRow {
  groupIndex: number;
  urls: string[];
  displayName: string;
  format: string;
  isFolder: boolean;
  sizeBytes: string;
  state: FileState;
  progress: number;
  importedRows: string;
  totalRows: string;
  reason: string;
  completedAt: Date | null;
  rejectedRows: string;
  /** Objects of the group that `skip_imported` left out (decision 1401); absent in older fakes. */
  skippedObjects?: number;
}

export interface ListFilter {
  dbName: string;
  collectionName?: string;
  states?: readonly JobState[];
  /** Only these collections (of `dbName`): a key limited to some collections sees only theirs. */
  collectionsIn?: readonly string[];
  /** Created at or after / before this instant (the dashboard's time range, a gateway extension). */
  createdAfter?: Date;
  createdBefore?: Date;
}

/** One state change of a job, as import_job_events records it. */
export interface JobEventRow {
  at: Date;
  fromState: string | null;
  toState: string;
  message: string;
  actor: string;
}

/** Events a read answers at most (the newest); a job records a handful (one per state change, per run). */
export const MAX_JOB_EVENTS = 500;

/** What a list record shows (import-api.md §8), without the request JSON or counters. */
export type JobListRow = Pick<
  JobRow,
  'jobId' | 'collectionName' | 'state' | 'progress' | 'reason' | 'createdAt' | 'rejectedRows'
>;

const LIST_COLUMNS = `job_id AS "jobId", collection_name AS "collectionName", state, progress, reason,
  created_at AS "createdAt",
  rejected_rows::text AS "rejectedRows"`;

const JOB_COLUMNS = `id::text AS "id", job_id AS "jobId", db_name AS "dbName", collection_name AS "collectionName",
  partition_name AS "partitionName", state, progress, imported_rows::text AS "importedRows",
  total_rows::text AS "totalRows", total_bytes::text AS "totalBytes", reason, options, request,
  created_at AS "createdAt", started_at AS "startedAt", completed_at AS "completedAt",
  rejected_rows::text AS "rejectedRows"`;

/**
 * The import job tables, in raw SQL where concurrency matters. Admission (the SQL function
 * admit_import_job) locks the collection's row in import_collection_counters (kept equal to its
 * Pending/Importing jobs by a trigger), so the idempotency lookup, the cap check and the insert
 * are one atomic step across API processes, in one round trip.
 */
export class ImportJobsRepository {
  /** `publishedRows`: see JobRunsRepository (collections in another database, decision 0503). */
  constructor(
    private readonly pool: Pool,
    private readonly publishedRows?: PublishedRowsCheck,
  ) {}

  async admit(job: NewJob, maxActive: number): Promise<AdmitResult> {
    const s = job.sealedCredentials;
    const r = await this.pool.query<{ kind: AdmitResult['kind']; job_id: string | null }>(
      `SELECT kind, job_id FROM admit_import_job($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      [
        job.jobId,
        job.dbName,
        job.collectionName,
        job.partitionName ?? null,
        JSON.stringify(job.request),
        JSON.stringify(job.options),
        job.timeoutMs ?? null,
        job.idempotencyKey ?? null,
        job.requestHash,
        s?.keyId ?? null,
        s?.iv ?? null,
        s?.ciphertext ?? null,
        s?.authTag ?? null,
        job.apiKeyId ?? null,
        JSON.stringify(job.files),
        maxActive,
      ],
    );
    const row = r.rows[0]!;
    switch (row.kind) {
      case 'created':
      case 'replayed':
        return { kind: row.kind, jobId: row.job_id! };
      case 'idempotency-conflict':
      case 'limit':
        return { kind: row.kind };
    }
  }

  async findByJobId(jobId: string): Promise<{ job: JobRow; files: JobFileRow[] } | null> {
    const jobs = await this.pool.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM import_jobs WHERE job_id = $1`, [jobId]);
    const job = jobs.rows[0];
    if (job === undefined) return null;
    const files = await this.pool.query<JobFileRow>(
      `SELECT group_index AS "groupIndex", urls, display_name AS "displayName", format, is_folder AS "isFolder",
              size_bytes::text AS "sizeBytes", state, progress, imported_rows::text AS "importedRows",
              total_rows::text AS "totalRows", reason, completed_at AS "completedAt",
              rejected_rows::text AS "rejectedRows", skipped_objects AS "skippedObjects"
         FROM import_job_files WHERE job_id = $1 ORDER BY group_index`,
      [job.id],
    );
    return { job, files: files.rows };
  }

  /** A job's events, oldest first (the newest MAX_JOB_EVENTS), by the job's internal id. */
  async events(id: string): Promise<JobEventRow[]> {
    const r = await this.pool.query<JobEventRow>(
      `SELECT at, "fromState", "toState", message, actor FROM (
         SELECT id, at, from_state AS "fromState", to_state AS "toState", message, actor
           FROM import_job_events WHERE job_id = $1 ORDER BY at DESC, id DESC LIMIT ${MAX_JOB_EVENTS}
       ) newest ORDER BY at, id`,
      [id],
    );
    return r.rows;
  }

  /** Newest first (createTime, then jobId), served by the (db, [collection,] [state,] created_at, job_id) indexes. */
  async list(filter: ListFilter, limit: number, offset: number): Promise<JobListRow[]> {
    const { where, params } = listWhere(filter);
    const r = await this.pool.query<JobListRow>(
      `SELECT ${LIST_COLUMNS} FROM import_jobs WHERE ${where}
        ORDER BY created_at DESC, job_id DESC LIMIT ${limit} OFFSET ${offset}`,
      params,
    );
    return r.rows;
  }

  async count(filter: ListFilter): Promise<number> {
    const { where, params } = listWhere(filter);
    const r = await this.pool.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM import_jobs WHERE ${where}`,
      params,
    );
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * Pending/Importing → Cancelled with the reason; credentials erased in the same transaction.
   * Returns the state found (so callers can refuse Completed) or null when the job is unknown.
   */
  async cancel(jobId: string, reason: string, actor: string): Promise<JobState | null> {
    return inTransaction(this.pool, async (c) => {
      const r = await c.query<{ id: string; state: JobState; credentialsId: string | null }>(
        `SELECT id::text, state, credentials_id::text AS "credentialsId" FROM import_jobs WHERE job_id = $1 FOR UPDATE`,
        [jobId],
      );
      const row = r.rows[0];
      if (row === undefined) return null;
      if (!ACTIVE_STATES.includes(row.state)) return row.state;
      const ended = await endJob(c, row.id, row.state, { state: 'Cancelled', reason }, actor, this.publishedRows);
      // Rows a run published before the cancel arrived make the job Completed: as if it came late.
      return ended === 'Completed' ? 'Completed' : row.state;
    });
  }

  /** Cancels every active job of a collection (or one partition of it) — used before a drop. */
  async cancelActiveForCollection(
    dbName: string,
    collectionName: string,
    partitionName: string | undefined,
    reason: string,
  ): Promise<string[]> {
    return inTransaction(this.pool, async (c) => {
      const r = await c.query<{ id: string; jobId: string; state: JobState }>(
        `SELECT id::text, job_id AS "jobId", state FROM import_jobs
          WHERE db_name = $1 AND collection_name = $2 AND state IN ('Pending', 'Importing')
            AND ($3::text IS NULL OR coalesce(partition_name, '_default') = $3)
          ORDER BY id FOR UPDATE`,
        [dbName, collectionName, partitionName ?? null],
      );
      const ending = { state: 'Cancelled', reason } as const;
      for (const row of r.rows) await endJob(c, row.id, row.state, ending, 'collections', this.publishedRows);
      return r.rows.map((x) => x.jobId);
    });
  }
}

function listWhere(filter: ListFilter): { where: string; params: unknown[] } {
  const params: unknown[] = [filter.dbName];
  let where = 'db_name = $1';
  if (filter.collectionName !== undefined) {
    params.push(filter.collectionName);
    where += ` AND collection_name = $${params.length}`;
  }
  if (filter.states !== undefined && filter.states.length > 0) {
    params.push(filter.states);
    where += ` AND state = ANY($${params.length}::text[])`;
  }
  if (filter.collectionsIn !== undefined) {
    params.push(filter.collectionsIn);
    where += ` AND collection_name = ANY($${params.length}::text[])`;
  }
  if (filter.createdAfter !== undefined) {
    params.push(filter.createdAfter);
    where += ` AND created_at >= $${params.length}`;
  }
  if (filter.createdBefore !== undefined) {
    params.push(filter.createdBefore);
    where += ` AND created_at < $${params.length}`;
  }
  return { where, params };
}
