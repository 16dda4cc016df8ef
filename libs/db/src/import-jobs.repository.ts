import type { Pool } from 'pg';
import { inTransaction } from '@gw/pg';
import { type JobPhaseRow, JobPhasesRepository } from './job-phases.repository';
import {
  ACTIVE_STATES,
  endJob,
  isActive,
  type FileState,
  type JobState,
  type PublishedRowsCheck,
} from './import-job-state';
import { type JobWebhookRow, WebhooksRepository } from './webhooks.repository';
import { GroupCommit } from './group-commit';

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
  /** X-Request-Id of the create call, stored with the job (worker log lines name it). */
  requestId?: string;
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
  /** Objects planning found for the group (a folder's listed files, a NumPy group's `.npy` files); 0 before planning. */
  objects?: number;
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

const LIST_COLUMNS = `j.job_id AS "jobId", j.collection_name AS "collectionName", j.state, j.progress, j.reason,
  j.created_at AS "createdAt", j.rejected_rows::text AS "rejectedRows"`;

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
  private readonly batches: GroupCommit<{ job: NewJob; maxActive: number }, AdmitResult>;

  /**
   * `publishedRows`: see JobRunsRepository (collections in another database, decision 0503).
   * `admissionBatch`: most creates of one collection admitted in one transaction (decision 1102);
   * 1 admits each create in its own.
   */
  constructor(
    private readonly pool: Pool,
    private readonly publishedRows?: PublishedRowsCheck,
    private readonly admissionBatch = 1,
  ) {
    this.batches = new GroupCommit(admissionBatch, (items) => this.admitBatch(items));
  }

  /**
   * Admits one job under the cap. With `admissionBatch` > 1, creates of the same collection that
   * arrive while its previous admission is in flight are admitted together, in arrival order, in
   * one transaction (admit_import_jobs): same answers, one commit.
   */
  async admit(job: NewJob, maxActive: number): Promise<AdmitResult> {
    if (this.admissionBatch <= 1) return this.admitOne(job, maxActive);
    return this.batches.submit(JSON.stringify([job.dbName, job.collectionName]), { job, maxActive });
  }

  private async admitBatch(items: { job: NewJob; maxActive: number }[]): Promise<AdmitResult[]> {
    if (items.length === 1) return [await this.admitOne(items[0]!.job, items[0]!.maxActive)];
    let r;
    try {
      r = await this.pool.query<{ ord: number; kind: AdmitResult['kind']; job_id: string | null }>({
        name: 'igw_admit_import_jobs',
        text: `SELECT ord, kind, job_id FROM admit_import_jobs($1::jsonb, $2)`,
        values: [JSON.stringify(items.map((x) => batchEntry(x.job))), items[0]!.maxActive],
      });
    } catch {
      // One bad create must not fail the others it was grouped with: admit them one by one (each
      // then fails or succeeds alone, as without grouping).
      return Promise.all(items.map((x) => this.admitOne(x.job, x.maxActive)));
    }
    const byOrd = new Map(r.rows.map((row) => [row.ord, row]));
    return items.map((_, i) => admitResult(byOrd.get(i)!));
  }

  private async admitOne(job: NewJob, maxActive: number): Promise<AdmitResult> {
    const s = job.sealedCredentials;
    const r = await this.pool.query<{ kind: AdmitResult['kind']; job_id: string | null }>({
      // Named: parsed and planned once per connection (every create runs it).
      name: 'igw_admit_import_job',
      // The request id reaches the row through the column default (migration 20261207060000):
      // the first argument's subquery sets igw.request_id for this statement's transaction only,
      // and arguments are evaluated before the function body inserts the job.
      text: `SELECT kind, job_id FROM admit_import_job(
         (SELECT $1::text WHERE set_config('igw.request_id', $17::text, true) IS NOT NULL),
         $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
      values: [
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
        job.requestId ?? '',
      ],
    });
    return admitResult(r.rows[0]!);
  }

  async findByJobId(
    jobId: string,
  ): Promise<{ job: JobRow; files: JobFileRow[]; phases: JobPhaseRow[]; webhooks: JobWebhookRow[] } | null> {
    const jobs = await this.pool.query<JobRow>(`SELECT ${JOB_COLUMNS} FROM import_jobs WHERE job_id = $1`, [jobId]);
    const job = jobs.rows[0];
    if (job === undefined) return null;
    const files = await this.pool.query<JobFileRow>(
      `SELECT group_index AS "groupIndex", urls, display_name AS "displayName", format, is_folder AS "isFolder",
              size_bytes::text AS "sizeBytes", state, progress, imported_rows::text AS "importedRows",
              total_rows::text AS "totalRows", reason, completed_at AS "completedAt",
              rejected_rows::text AS "rejectedRows", skipped_objects AS "skippedObjects",
              (SELECT count(*) FROM jsonb_object_keys(object_versions))::int AS objects
         FROM import_job_files WHERE job_id = $1 ORDER BY group_index`,
      [job.id],
    );
    const phases = await new JobPhasesRepository(this.pool).ofJob(job.id);
    // Only a terminal job has deliveries (the outbox rows are written with the terminal state).
    const webhooks = isActive(job.state) ? [] : await new WebhooksRepository(this.pool).listForJob(job.id);
    return { job, files: files.rows, phases, webhooks };
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

  /**
   * Newest first (createTime, then jobId). The page's keys are found first by an index-only scan of
   * the (db, [collection,] [state,] created_at, job_id) indexes — one ordered branch per
   * collection × state the filter names, merged — and only those `limit` rows are read from the
   * table, with only the columns a list record shows (decision 1101). With the filter's `total`
   * known, a page nearer the oldest end is found walking from there (the last page of a 50,000-job
   * collection reads 100 index entries, not 50,000).
   */
  async list(filter: ListFilter, limit: number, offset: number, total?: number): Promise<JobListRow[]> {
    const { sql, params } = pageKeysQuery(filter, pageWalk(limit, offset, total));
    const r = await this.pool.query<JobListRow>(
      `WITH page AS (${sql})
       SELECT ${LIST_COLUMNS} FROM page JOIN import_jobs j USING (job_id)
        ORDER BY page.created_at DESC, page.job_id DESC`,
      params,
    );
    return r.rows;
  }

  /**
   * Exact, from the trigger-kept import_job_state_counts (a few rows per collection) unless the
   * filter has a creation-time range, which only import_jobs can answer (an index range count).
   */
  async count(filter: ListFilter): Promise<number> {
    if (filter.createdAfter !== undefined || filter.createdBefore !== undefined) {
      const { where, params } = listWhere(filter);
      const r = await this.pool.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM import_jobs WHERE ${where}`,
        params,
      );
      return Number(r.rows[0]?.n ?? 0);
    }
    const { where, params } = listWhere(filter);
    const r = await this.pool.query<{ n: string }>(
      `SELECT coalesce(sum(jobs), 0)::text AS n FROM import_job_state_counts WHERE ${where}`,
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

function admitResult(row: { kind: AdmitResult['kind']; job_id: string | null }): AdmitResult {
  switch (row.kind) {
    case 'created':
    case 'replayed':
      return { kind: row.kind, jobId: row.job_id! };
    case 'idempotency-conflict':
    case 'limit':
      return { kind: row.kind };
  }
}

/** One element of admit_import_jobs' array (binary credentials as base64). */
function batchEntry(job: NewJob): Record<string, unknown> {
  const s = job.sealedCredentials;
  return {
    jobId: job.jobId,
    dbName: job.dbName,
    collectionName: job.collectionName,
    partitionName: job.partitionName ?? null,
    request: job.request,
    options: job.options,
    timeoutMs: job.timeoutMs ?? null,
    idempotencyKey: job.idempotencyKey ?? null,
    requestHash: job.requestHash,
    credKeyId: s?.keyId ?? null,
    credIv: s?.iv.toString('base64') ?? null,
    credCiphertext: s?.ciphertext.toString('base64') ?? null,
    credTag: s?.authTag.toString('base64') ?? null,
    apiKeyId: job.apiKeyId ?? null,
    files: job.files,
  };
}

function listWhere(filter: ListFilter, params: unknown[] = []): { where: string; params: unknown[] } {
  params.push(filter.dbName);
  let where = `db_name = $${params.length}`;
  if (filter.collectionName !== undefined) {
    params.push(filter.collectionName);
    where += ` AND collection_name = $${params.length}`;
  }
  // One value is an equality, not `= ANY`, so that an index scan stays in created_at order.
  if (filter.states !== undefined && filter.states.length === 1) {
    params.push(filter.states[0]);
    where += ` AND state = $${params.length}`;
  } else if (filter.states !== undefined && filter.states.length > 1) {
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

/** Which end of the newest-first order a page is counted from, and how far in. */
export interface PageWalk {
  readonly limit: number;
  readonly offset: number;
  readonly order: 'DESC' | 'ASC';
}

/**
 * Newest-first page `offset…offset+limit`, or, when `total` is known and the page is nearer the
 * oldest end, the same rows counted from that end (the caller's ORDER BY puts them back).
 */
export function pageWalk(limit: number, offset: number, total?: number): PageWalk {
  if (total === undefined) return { limit, offset, order: 'DESC' };
  const fromOldest = total - offset - limit;
  if (fromOldest >= offset) return { limit, offset, order: 'DESC' };
  // A last, short page: only the rows that exist, from the oldest.
  return fromOldest >= 0
    ? { limit, offset: fromOldest, order: 'ASC' }
    : { limit: Math.max(0, limit + fromOldest), offset: 0, order: 'ASC' };
}

/** Above this many collection × state branches the planner gets one query with ANY(...) instead. */
const MAX_BRANCHES = 32;

/**
 * The job ids (and creation times) of one page. An `= ANY(...)` on state or collection would make
 * PostgreSQL read every matching entry and sort them; one branch per (collection, state), each an
 * ordered index-only scan stopping at offset + limit entries, merged (Merge Append), costs the
 * entries skipped and no more.
 */
function pageKeysQuery(
  filter: ListFilter,
  { limit, offset, order: direction }: PageWalk,
): { sql: string; params: unknown[] } {
  const states: (JobState | undefined)[] =
    filter.states !== undefined && filter.states.length > 0 ? [...new Set(filter.states)] : [undefined];
  const collections: (string | undefined)[] =
    filter.collectionName !== undefined
      ? filter.collectionsIn === undefined || filter.collectionsIn.includes(filter.collectionName)
        ? [filter.collectionName]
        : []
      : filter.collectionsIn !== undefined
        ? [...new Set(filter.collectionsIn)]
        : [undefined];
  const order = `ORDER BY created_at ${direction}, job_id ${direction}`;
  const tail = `${order} LIMIT ${limit} OFFSET ${offset}`;
  if (collections.length === 0) {
    return { sql: `SELECT created_at, job_id FROM import_jobs WHERE false`, params: [] };
  }
  if (collections.length * states.length === 1 || collections.length * states.length > MAX_BRANCHES) {
    const { where, params } = listWhere(filter);
    return { sql: `SELECT created_at, job_id FROM import_jobs WHERE ${where} ${tail}`, params };
  }
  const params: unknown[] = [];
  const branches: string[] = [];
  for (const collectionName of collections) {
    for (const state of states) {
      const { where } = listWhere(
        {
          dbName: filter.dbName,
          ...(collectionName === undefined ? {} : { collectionName }),
          ...(state === undefined ? {} : { states: [state] }),
          ...(filter.createdAfter === undefined ? {} : { createdAfter: filter.createdAfter }),
          ...(filter.createdBefore === undefined ? {} : { createdBefore: filter.createdBefore }),
        },
        params,
      );
      branches.push(`(SELECT created_at, job_id FROM import_jobs WHERE ${where} ${order} LIMIT ${offset + limit})`);
    }
  }
  return { sql: `SELECT created_at, job_id FROM (${branches.join(' UNION ALL ')}) k ${tail}`, params };
}
