import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '@gw/pg';
import {
  completeJob,
  endJob,
  type JobEnding,
  type JobState,
  type PublishedRowsCheck,
  recordEvent,
  type TerminalState,
} from './import-job-state';
import type { JobFileRow } from './import-jobs.repository';

/** One run of a job, as acquired: what the worker needs, and the fencing token it holds. */
export interface JobRun {
  id: string;
  jobId: string;
  dbName: string;
  collectionName: string;
  partitionName: string | null;
  options: Record<string, string>;
  timeoutMs: string | null;
  deadlineAt: Date | null;
  credentialsId: string | null;
  /** The state before this run took the job (Pending: first run; Importing: a resume). */
  fromState: JobState;
  /** This run's fencing token: every write of the run checks it is still the newest. */
  token: bigint;
  /** 1-based number of this run among the job's runs. */
  attempt: number;
  maxAttempts: number;
  owner: string;
}

export type AcquireResult =
  | { kind: 'acquired'; run: JobRun }
  /** Another run holds a live lease, or the job is terminal or unknown: nothing to do. */
  | { kind: 'skipped'; why: 'busy' | 'finished' | 'unknown' }
  /** Every attempt was used: the job is now Failed with `reason`. */
  | { kind: 'exhausted'; id: string; jobId: string; reason: string };

export type RenewResult = 'renewed' | 'cancelled' | 'lost';

export interface StoredCredentialsRow {
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  authTag: Buffer;
}

export interface FileProgress {
  group: number;
  progress: number;
  rows: number;
  totalRows: number;
  bytes: number;
}

/** What a run holds: enough to fence a write. */
export type RunRef = Pick<JobRun, 'id' | 'token'>;

const FILE_COLUMNS = `group_index AS "groupIndex", urls, display_name AS "displayName", format, is_folder AS "isFolder",
  size_bytes::text AS "sizeBytes", state, progress, imported_rows::text AS "importedRows",
  total_rows::text AS "totalRows", reason, completed_at AS "completedAt", skipped_objects AS "skippedObjects"`;

/**
 * Every statement a worker runs on the job tables while running a job. Each write of a run is
 * fenced: it applies only while `run_token` still equals the run's token and the job is
 * Importing, so a run that lost its lease cannot move progress, files or the state.
 */
export class JobRunsRepository {
  private installation: Promise<string> | undefined;

  /**
   * `publishedRows`: set when the collections live in another database (decision 0503); every
   * ending other than Completed then asks it first whether a run already published the job.
   */
  constructor(
    private readonly pool: Pool,
    private readonly publishedRows?: PublishedRowsCheck,
  ) {}

  /** This installation's id (migration-created), used in staging table names. */
  installationId(): Promise<string> {
    this.installation ??= this.pool.query<{ id: string }>(`SELECT id FROM gateway_installation`).then((r) => {
      const id = r.rows[0]?.id;
      if (id === undefined) throw new Error('gateway_installation is empty: migrations were not applied');
      return id;
    });
    this.installation.catch(() => {
      this.installation = undefined;
    });
    return this.installation;
  }

  /**
   * Starts a run: Pending, or Importing with no live lease (released, or its worker died) →
   * Importing with a new lease and the next fencing token; `attempts` counts runs that started.
   * A job whose attempts are used up is Failed instead (zero rows: nothing was published).
   */
  async acquire(jobId: string, owner: string, leaseMs: number, maxAttempts: number): Promise<AcquireResult> {
    return inTransaction(this.pool, async (c) => {
      const r = await c.query<{
        id: string;
        state: JobState;
        attempts: number;
        leaseOwner: string | null;
        live: boolean;
        reason: string;
      }>(
        `SELECT id::text, state, attempts, lease_owner AS "leaseOwner", reason,
                coalesce(lease_expires_at >= now(), false) AS live
           FROM import_jobs WHERE job_id = $1 FOR UPDATE`,
        [jobId],
      );
      const prior = r.rows[0];
      if (prior === undefined) return { kind: 'skipped', why: 'unknown' } as const;
      if (prior.state !== 'Pending' && prior.state !== 'Importing')
        return { kind: 'skipped', why: 'finished' } as const;
      if (prior.leaseOwner !== null && prior.live) return { kind: 'skipped', why: 'busy' } as const;
      if (prior.attempts >= maxAttempts) {
        // A lease still set means the last run never settled: its worker died or stalled.
        const reason =
          prior.leaseOwner !== null
            ? `worker stopped while importing (attempt ${prior.attempts} of ${maxAttempts})`
            : `gave up after ${prior.attempts} of ${maxAttempts} attempts: ${prior.reason.replace(/^attempt \d+ of \d+ failed: /, '')}`;
        const ended = await endJob(c, prior.id, prior.state, { state: 'Failed', reason }, owner, this.publishedRows);
        if (ended === 'Completed') return { kind: 'skipped', why: 'finished' } as const;
        return { kind: 'exhausted', id: prior.id, jobId, reason } as const;
      }
      const u = await c.query<Omit<JobRun, 'fromState' | 'token' | 'maxAttempts' | 'owner'> & { token: string }>(
        `UPDATE import_jobs SET state = 'Importing', started_at = coalesce(started_at, now()), attempts = attempts + 1,
                run_token = run_token + 1, lease_owner = $2, lease_expires_at = now() + make_interval(secs => $3 / 1000.0),
                updated_at = now()
          WHERE id = $1
          RETURNING id::text AS id, job_id AS "jobId", db_name AS "dbName", collection_name AS "collectionName",
                    partition_name AS "partitionName", options, timeout_ms::text AS "timeoutMs",
                    deadline_at AS "deadlineAt", credentials_id::text AS "credentialsId", run_token::text AS token,
                    attempts AS attempt`,
        [prior.id, owner, leaseMs],
      );
      const row = u.rows[0]!;
      const run: JobRun = { ...row, token: BigInt(row.token), fromState: prior.state, maxAttempts, owner };
      const verb = prior.state === 'Pending' ? 'started' : 'resumed';
      await recordEvent(
        c,
        run.id,
        prior.state,
        'Importing',
        `${verb} (attempt ${run.attempt} of ${maxAttempts})`,
        owner,
      );
      return { kind: 'acquired', run } as const;
    });
  }

  /**
   * Extends the lease of a run that still holds it. A lease that already ran out is lost, not
   * renewed: another run may have taken the job (a paused worker must stop, not carry on).
   */
  async renew(run: RunRef, leaseMs: number): Promise<RenewResult> {
    const r = await this.pool.query<{ state: JobState; renewed: boolean }>(
      `WITH upd AS (
         UPDATE import_jobs SET lease_expires_at = now() + make_interval(secs => $3 / 1000.0)
          WHERE id = $1 AND run_token = $2 AND state = 'Importing' AND lease_expires_at >= now()
          RETURNING id)
       SELECT state, EXISTS (SELECT 1 FROM upd) AS renewed FROM import_jobs WHERE id = $1`,
      [run.id, run.token.toString(), leaseMs],
    );
    const row = r.rows[0];
    if (row?.renewed === true) return 'renewed';
    return row?.state === 'Cancelled' ? 'cancelled' : 'lost';
  }

  /** Gives the job back (transient failure, shutdown): it stays Importing without a lease. */
  async release(run: RunRef, reason: string): Promise<void> {
    await this.pool.query(
      `UPDATE import_jobs SET lease_owner = NULL, lease_expires_at = NULL, reason = $3, updated_at = now()
        WHERE id = $1 AND run_token = $2 AND state = 'Importing'`,
      [run.id, run.token.toString(), reason],
    );
  }

  /** Fails the job if this run still owns it; the reason also lands on the failing file group. */
  async fail(run: RunRef, reason: string, group: number | null): Promise<TerminalState | null> {
    return this.end(run, { state: 'Failed', reason }, group);
  }

  /**
   * Ends the job as `ending` says if this run still owns it (the reason also lands on the file
   * group at fault) — or Completed, when its rows turn out to be published already (decision
   * 0503). Null when the run no longer owns the job.
   */
  async end(run: RunRef, ending: JobEnding, group: number | null): Promise<TerminalState | null> {
    return inTransaction(this.pool, async (c) => {
      const r = await c.query<{ state: JobState }>(
        `SELECT state FROM import_jobs WHERE id = $1 AND run_token = $2 FOR UPDATE`,
        [run.id, run.token.toString()],
      );
      const state = r.rows[0]?.state;
      if (state !== 'Pending' && state !== 'Importing') return null;
      await c.query(
        `UPDATE import_job_files SET reason = $3 WHERE job_id = $1 AND state <> 'Completed' AND ($2::int IS NULL OR group_index = $2)`,
        [run.id, group, ending.reason],
      );
      return endJob(c, run.id, state, ending, 'worker', this.publishedRows);
    });
  }

  /**
   * Importing → Completed with the published row count, in the caller's transaction (the publish
   * transaction when job and collection tables share a database). False when this run no longer
   * owns the job (cancelled, or a newer run): the caller must roll back.
   */
  async complete(c: PoolClient, run: RunRef, rows: number, owner: string): Promise<boolean> {
    const r = await c.query<{ state: JobState }>(
      `SELECT state FROM import_jobs WHERE id = $1 AND run_token = $2 FOR UPDATE`,
      [run.id, run.token.toString()],
    );
    if (r.rows[0]?.state !== 'Importing') return false;
    await completeJob(c, run.id, rows, owner);
    return true;
  }

  async credentials(id: string): Promise<StoredCredentialsRow | undefined> {
    const r = await this.pool.query<StoredCredentialsRow>(
      `SELECT key_id AS "keyId", iv, ciphertext, auth_tag AS "authTag" FROM import_job_credentials WHERE id = $1`,
      [id],
    );
    return r.rows[0];
  }

  async files(id: string): Promise<JobFileRow[]> {
    const r = await this.pool.query<JobFileRow>(
      `SELECT ${FILE_COLUMNS} FROM import_job_files WHERE job_id = $1 ORDER BY group_index`,
      [id],
    );
    return r.rows;
  }

  /** Sizes and object versions found by planning (`sizes`: bytes by display name, for the file ledger). */
  async recordPlan(
    run: RunRef,
    totalBytes: number,
    files: readonly {
      group: number;
      bytes: number;
      versions: Record<string, string>;
      sizes?: Record<string, number>;
    }[],
  ): Promise<void> {
    await inTransaction(this.pool, async (c) => {
      const r = await c.query(
        `UPDATE import_jobs SET total_bytes = $3, updated_at = now() WHERE id = $1 AND run_token = $2 AND state = 'Importing'`,
        [run.id, run.token.toString(), totalBytes],
      );
      if (r.rowCount === 0) return;
      await c.query(
        `UPDATE import_job_files f SET size_bytes = p.bytes, object_versions = p.versions,
                object_sizes = coalesce(p.sizes, '{}'), updated_at = now()
           FROM jsonb_to_recordset($2::jsonb) AS p(grp int, bytes bigint, versions jsonb, sizes jsonb)
          WHERE f.job_id = $1 AND f.group_index = p.grp`,
        [
          run.id,
          JSON.stringify(files.map((f) => ({ grp: f.group, bytes: f.bytes, versions: f.versions, sizes: f.sizes }))),
        ],
      );
    });
  }

  /**
   * The file ledger of the run's collection (decision 1401): version and size of every object a
   * Completed job loaded, by URL, for the URLs asked (objects without a version are never matched).
   */
  async loadedObjects(run: RunRef, urls: readonly string[]): Promise<Map<string, { version: string; size: number }>> {
    if (urls.length === 0) return new Map();
    const r = await this.pool.query<{ url: string; version: string; size: string }>(
      `SELECT l.url, l.version, l.size_bytes::text AS size
         FROM import_jobs j
         JOIN gateway_collections g ON g.db_name = j.db_name AND g.name = j.collection_name
         JOIN import_file_ledger l ON l.collection_id = g.id
        WHERE j.id = $1 AND l.url = ANY($2::text[]) AND l.version <> ''`,
      [run.id, urls],
    );
    return new Map(r.rows.map((x) => [x.url, { version: x.version, size: Number(x.size) }]));
  }

  /**
   * Records what `skip_imported` left out: a group left out whole becomes Skipped (0 rows, never
   * claimed), a folder left out in part counts its skipped objects. Groups already staged keep
   * their state (a resumed run loads what an earlier run staged).
   */
  async recordSkips(
    run: RunRef,
    skips: readonly { group: number; objects: number; whole: boolean; bytes: number }[],
  ): Promise<void> {
    if (skips.length === 0) return;
    await this.pool.query(
      `UPDATE import_job_files f
          SET skipped_objects = p.objects,
              state = CASE WHEN p.whole THEN 'Skipped' ELSE f.state END,
              progress = CASE WHEN p.whole THEN 100 ELSE f.progress END,
              size_bytes = CASE WHEN p.whole THEN p.bytes ELSE f.size_bytes END,
              object_versions = CASE WHEN p.whole THEN '{}'::jsonb ELSE f.object_versions END,
              completed_at = CASE WHEN p.whole THEN now() ELSE f.completed_at END,
              claim_owner = CASE WHEN p.whole THEN NULL ELSE f.claim_owner END,
              updated_at = now()
         FROM import_jobs j, jsonb_to_recordset($3::jsonb) AS p(grp int, objects int, whole boolean, bytes bigint)
        WHERE f.job_id = $1 AND j.id = f.job_id AND j.run_token = $2 AND j.state = 'Importing'
          AND f.group_index = p.grp AND f.state IN ('Pending', 'InProgress')`,
      [
        run.id,
        run.token.toString(),
        JSON.stringify(skips.map((s) => ({ grp: s.group, objects: s.objects, whole: s.whole, bytes: s.bytes }))),
      ],
    );
  }

  /**
   * Claims the next group of the run's job that nobody is staging: not staged yet, and unclaimed,
   * claimed under an older run's token, or whose claim ran out (its stager died). Any worker slot
   * may claim (decision 0502); SKIP LOCKED keeps concurrent claimers off each other's rows.
   */
  async claimGroup(run: RunRef, owner: string, leaseMs: number): Promise<number | null> {
    const r = await this.pool.query<{ group: number }>(
      `UPDATE import_job_files f SET state = 'InProgress', claim_owner = $3, claim_token = $2,
              claim_expires_at = now() + make_interval(secs => $4 / 1000.0), updated_at = now()
        WHERE f.id = (
          SELECT c.id FROM import_job_files c JOIN import_jobs j ON j.id = c.job_id
           WHERE c.job_id = $1 AND j.run_token = $2 AND j.state = 'Importing'
             AND c.state IN ('Pending', 'InProgress')
             AND (c.claim_owner IS NULL OR c.claim_token IS DISTINCT FROM $2 OR c.claim_expires_at < now())
           ORDER BY c.group_index LIMIT 1 FOR UPDATE OF c SKIP LOCKED)
        RETURNING f.group_index AS "group"`,
      [run.id, run.token.toString(), owner, leaseMs],
    );
    return r.rows[0]?.group ?? null;
  }

  /** Gives a claimed group back (the stager stops without staging it), so another claims it at once. */
  async releaseClaim(run: RunRef, group: number, owner: string): Promise<void> {
    await this.pool.query(
      `UPDATE import_job_files SET claim_owner = NULL, claim_expires_at = NULL, updated_at = now()
        WHERE job_id = $1 AND group_index = $2 AND claim_owner = $3 AND claim_token = $4`,
      [run.id, group, owner, run.token.toString()],
    );
  }

  /**
   * For a slot helping with a run it did not start: extends its claims and tells whether the run
   * still owns the job (a new run, a cancel or a failure ends the help).
   */
  async renewClaims(run: RunRef, owner: string, leaseMs: number): Promise<RenewResult> {
    const r = await this.pool.query<{ state: JobState; current: boolean }>(
      `WITH upd AS (
         UPDATE import_job_files SET claim_expires_at = now() + make_interval(secs => $4 / 1000.0)
          WHERE job_id = $1 AND claim_owner = $3 AND claim_token = $2 AND state = 'InProgress')
       SELECT state, run_token = $2 AS current FROM import_jobs WHERE id = $1`,
      [run.id, run.token.toString(), owner, leaseMs],
    );
    const row = r.rows[0];
    if (row?.state === 'Importing' && row.current) return 'renewed';
    return row?.state === 'Cancelled' ? 'cancelled' : 'lost';
  }

  /**
   * A job whose live run has groups nobody is staging yet: work an idle slot can help with. Only
   * runs that have planned (total_bytes set): the limits and totals are checked once, by the run.
   */
  async findJobToHelp(): Promise<string | null> {
    const r = await this.pool.query<{ id: string }>(
      `SELECT j.id::text FROM import_jobs j
        WHERE j.state = 'Importing' AND j.lease_expires_at > now() AND j.total_bytes > 0
          AND coalesce(lower(j.options ->> 'dry_run'), 'false') <> 'true' -- read by its run alone (decision 1302)
          AND EXISTS (SELECT 1 FROM import_job_files c
                       WHERE c.job_id = j.id AND c.state IN ('Pending', 'InProgress')
                         AND (c.claim_owner IS NULL OR c.claim_token IS DISTINCT FROM j.run_token OR c.claim_expires_at < now()))
        ORDER BY j.id LIMIT 1`,
    );
    return r.rows[0]?.id ?? null;
  }

  /** The job's current run, for a slot that helps it: same token, no lease of its own. */
  async joinRun(id: string, owner: string, maxAttempts: number): Promise<JobRun | null> {
    const r = await this.pool.query<Omit<JobRun, 'fromState' | 'token' | 'maxAttempts' | 'owner'> & { token: string }>(
      `SELECT id::text AS id, job_id AS "jobId", db_name AS "dbName", collection_name AS "collectionName",
              partition_name AS "partitionName", options, timeout_ms::text AS "timeoutMs",
              deadline_at AS "deadlineAt", credentials_id::text AS "credentialsId", run_token::text AS token,
              attempts AS attempt
         FROM import_jobs WHERE id = $1 AND state = 'Importing' AND lease_expires_at > now()`,
      [id],
    );
    const row = r.rows[0];
    return row === undefined ? null : { ...row, token: BigInt(row.token), fromState: 'Importing', maxAttempts, owner };
  }

  /** The object versions recorded when the run planned a group (a helper checks it reads the same). */
  async plannedVersions(id: string, group: number): Promise<Record<string, string>> {
    const r = await this.pool.query<{ v: Record<string, string> }>(
      `SELECT object_versions AS v FROM import_job_files WHERE job_id = $1 AND group_index = $2`,
      [id, group],
    );
    return r.rows[0]?.v ?? {};
  }

  /**
   * A group's rows are staged (and committed in the target database): its file row turns
   * Completed; claim_owner stays, naming the slot that staged it (for operators).
   */
  async markGroupStaged(q: Pick<PoolClient, 'query'>, run: RunRef, group: number, rows: number): Promise<void> {
    await q.query(
      `UPDATE import_job_files f SET state = 'Completed', progress = 100, imported_rows = $4, total_rows = $4,
              consumed_bytes = size_bytes, completed_at = now(), updated_at = now(), claim_expires_at = NULL
         FROM import_jobs j
        WHERE f.job_id = $1 AND f.group_index = $3 AND j.id = f.job_id AND j.run_token = $2 AND j.state = 'Importing'`,
      [run.id, run.token.toString(), group, rows],
    );
  }

  /**
   * Live progress, never backwards (GREATEST), and only while this run owns the job: the files
   * this stager has in progress, then the job's totals summed over all its files (several slots
   * may stage groups of one job, each knowing only its own). False when the run no longer owns it.
   */
  async writeProgress(run: RunRef, files: readonly FileProgress[]): Promise<boolean> {
    const r = await this.pool.query<{ owned: boolean }>(
      `WITH j AS (SELECT id FROM import_jobs WHERE id = $1 AND run_token = $2 AND state = 'Importing'),
       f AS (
         UPDATE import_job_files f SET progress = GREATEST(f.progress, p.progress),
                imported_rows = GREATEST(f.imported_rows, p.rows), total_rows = GREATEST(f.total_rows, p.total_rows),
                consumed_bytes = GREATEST(f.consumed_bytes, p.bytes), updated_at = now()
           FROM j, jsonb_to_recordset($3::jsonb) AS p(grp int, progress int, rows bigint, total_rows bigint, bytes bigint)
          WHERE f.job_id = j.id AND f.group_index = p.grp AND f.state = 'InProgress'
          RETURNING f.group_index, f.imported_rows, f.consumed_bytes),
       agg AS (
         SELECT coalesce(sum(coalesce(f.imported_rows, x.imported_rows)), 0) AS rows,
                coalesce(sum(coalesce(f.consumed_bytes, x.consumed_bytes)), 0) AS bytes
           FROM import_job_files x JOIN j ON x.job_id = j.id LEFT JOIN f ON f.group_index = x.group_index),
       u AS (
         UPDATE import_jobs t SET imported_rows = GREATEST(t.imported_rows, agg.rows),
                total_rows = GREATEST(t.total_rows, agg.rows), consumed_bytes = GREATEST(t.consumed_bytes, agg.bytes),
                progress = GREATEST(t.progress, CASE WHEN t.total_bytes > 0
                  THEN LEAST(99, floor(99 * agg.bytes / t.total_bytes))::int ELSE 0 END),
                updated_at = now()
           FROM agg, j WHERE t.id = j.id
          RETURNING 1)
       SELECT EXISTS (SELECT 1 FROM u) AS owned`,
      [
        run.id,
        run.token.toString(),
        JSON.stringify(
          files.map((f) => ({
            grp: f.group,
            progress: f.progress,
            rows: f.rows,
            total_rows: f.totalRows,
            bytes: f.bytes,
          })),
        ),
      ],
    );
    return r.rows[0]?.owned === true;
  }

  /**
   * Active jobs Redis may have lost, a page in id order after `cursor`: Pending past the grace
   * period, Importing with no live lease (released, or its worker died).
   */
  async listUnowned(
    graceMs: number,
    batch: number,
    cursor: string,
  ): Promise<{ id: string; jobId: string; dbName: string; collectionName: string; state: JobState }[]> {
    const r = await this.pool.query<{
      id: string;
      jobId: string;
      dbName: string;
      collectionName: string;
      state: JobState;
    }>(
      `SELECT id::text, job_id AS "jobId", db_name AS "dbName", collection_name AS "collectionName", state FROM import_jobs
        WHERE state IN ('Pending', 'Importing') AND id > $3::bigint
          AND ((state = 'Pending' AND created_at < now() - make_interval(secs => $1 / 1000.0))
            OR (state = 'Importing' AND (lease_expires_at IS NULL OR lease_expires_at < now())))
        ORDER BY import_jobs.id LIMIT $2`,
      [graceMs, batch, cursor],
    );
    return r.rows;
  }

  /** Jobs past their deadline that no live run holds (a running one times itself out) → Failed. */
  async failPastDeadline(
    limit: number,
    reasonOf: (optionsTimeout: string | null, timeoutMs: string | null) => string,
    actor: string,
  ): Promise<string[]> {
    const r = await this.pool.query<{ id: string }>(
      `SELECT id::text FROM import_jobs
        WHERE state IN ('Pending', 'Importing') AND deadline_at < now()
          AND (lease_expires_at IS NULL OR lease_expires_at < now())
        LIMIT $1`,
      [limit],
    );
    const failed: string[] = [];
    for (const { id } of r.rows) {
      const done = await inTransaction(this.pool, async (c) => {
        const j = await c.query<{ state: 'Pending' | 'Importing'; text: string | null; ms: string | null }>(
          `SELECT state, options->>'timeout' AS text, timeout_ms::text AS ms FROM import_jobs
            WHERE id = $1 AND state IN ('Pending', 'Importing') AND deadline_at < now()
              AND (lease_expires_at IS NULL OR lease_expires_at < now()) FOR UPDATE`,
          [id],
        );
        const row = j.rows[0];
        if (row === undefined) return false;
        const ending = { state: 'Failed', reason: reasonOf(row.text, row.ms) } as const;
        await endJob(c, id, row.state, ending, actor, this.publishedRows);
        return true;
      });
      if (done) failed.push(id);
    }
    return failed;
  }

  /**
   * IMPORT_JOB_RETENTION: deletes up to `limit` terminal jobs that ended more than `olderThanMs`
   * ago, oldest first, with their files and events (foreign keys cascade); rows another reconciler
   * is deleting are skipped. Active-job counters are untouched (only active jobs count).
   */
  async deleteEndedBefore(olderThanMs: number, limit: number): Promise<number> {
    const r = await this.pool.query(
      `WITH doomed AS (
         SELECT id FROM import_jobs
          WHERE state IN ('Completed', 'Failed', 'Cancelled')
            AND completed_at < now() - make_interval(secs => $1 / 1000.0)
          ORDER BY completed_at, id LIMIT $2 FOR UPDATE SKIP LOCKED)
       DELETE FROM import_jobs j USING doomed WHERE j.id = doomed.id`,
      [olderThanMs, limit],
    );
    return r.rowCount ?? 0;
  }

  /** The state of each job id given; ids of deleted jobs are absent. */
  async statesOf(ids: readonly string[]): Promise<Map<string, JobState>> {
    if (ids.length === 0) return new Map();
    const r = await this.pool.query<{ id: string; state: JobState }>(
      `SELECT id::text, state FROM import_jobs WHERE id = ANY($1::bigint[])`,
      [ids],
    );
    return new Map(r.rows.map((x) => [x.id, x.state]));
  }
}
