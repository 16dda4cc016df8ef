import type { PoolClient } from 'pg';

/**
 * The import job state machine, the one module that writes `import_jobs.state`. The API (cancel),
 * the worker (start, complete, fail, release) and the reconciler (timeouts, exhausted attempts)
 * all move jobs through here, so the allowed moves and what each move also does (counters through
 * the trigger, credentials erased, an event row) cannot drift apart.
 *
 *   Pending ──start──▶ Importing ──publish──▶ Completed
 *      │                  │  ▲ release (transient failure, shutdown) keeps Importing, no lease
 *      └──────────────────┴──┴──▶ Failed | Cancelled
 */
export type JobState = 'Pending' | 'Importing' | 'Completed' | 'Failed' | 'Cancelled';
export type TerminalState = 'Completed' | 'Failed' | 'Cancelled';
/** Skipped: `skip_imported` found every object of the group in the file ledger (decision 1401). */
export type FileState = 'Pending' | 'InProgress' | 'Completed' | 'Failed' | 'Skipped';
export const ACTIVE_STATES: readonly JobState[] = ['Pending', 'Importing'];
export const TERMINAL_STATES: readonly TerminalState[] = ['Completed', 'Failed', 'Cancelled'];

/** Every allowed move; Importing → Importing is a new run taking over (resume). */
export const JOB_TRANSITIONS: Readonly<Record<JobState, readonly JobState[]>> = {
  Pending: ['Importing', 'Failed', 'Cancelled'],
  Importing: ['Importing', 'Completed', 'Failed', 'Cancelled'],
  Completed: [],
  Failed: [],
  Cancelled: [],
};

export function canMove(from: JobState, to: JobState): boolean {
  return JOB_TRANSITIONS[from].includes(to);
}

export function isActive(state: string): state is 'Pending' | 'Importing' {
  return state === 'Pending' || state === 'Importing';
}

/** A move the state machine does not allow: a bug in the caller, never bad input. */
export class IllegalTransitionError extends Error {
  constructor(from: string, to: string) {
    super(`illegal import job transition ${from} → ${to}`);
  }
}

export async function recordEvent(
  c: Pick<PoolClient, 'query'>,
  id: string,
  from: JobState | null,
  to: JobState,
  message: string,
  actor: string,
): Promise<void> {
  await c.query(
    `INSERT INTO import_job_events (job_id, from_state, to_state, message, actor) VALUES ($1, $2, $3, $4, $5)`,
    [id, from, to, message, actor],
  );
}

/**
 * Moves a job (row locked by the caller, in the caller's transaction) to a terminal state:
 * counters follow through the trigger, credentials are erased, unfinished files are marked
 * Failed, an event is written. A Failed or Cancelled job reports zero imported rows.
 */
export async function finishJob(
  c: PoolClient,
  id: string,
  from: JobState,
  to: TerminalState,
  reason: string,
  actor: string,
): Promise<void> {
  if (!canMove(from, to)) throw new IllegalTransitionError(from, to);
  const prior = await c.query<{ credentialsId: string | null }>(
    `UPDATE import_jobs j SET state = $2, reason = $3, completed_at = now(), updated_at = now(),
            progress = CASE WHEN $2 = 'Completed' THEN 100 ELSE 0 END,
            imported_rows = CASE WHEN $2 = 'Completed' THEN j.imported_rows ELSE 0 END,
            lease_owner = NULL, lease_expires_at = NULL, credentials_id = NULL
       FROM (SELECT id, credentials_id FROM import_jobs WHERE id = $1) prior
      WHERE j.id = prior.id
      RETURNING prior.credentials_id::text AS "credentialsId"`,
    [id, to, reason],
  );
  const credentialsId = prior.rows[0]?.credentialsId;
  if (credentialsId !== null && credentialsId !== undefined) {
    await c.query('DELETE FROM import_job_credentials WHERE id = $1', [credentialsId]);
  }
  if (to !== 'Completed') {
    await c.query(
      `UPDATE import_job_files SET state = CASE WHEN state IN ('Completed', 'Skipped') THEN state ELSE 'Failed' END,
              progress = CASE WHEN state IN ('Completed', 'Skipped') THEN progress ELSE 0 END, updated_at = now()
        WHERE job_id = $1`,
      [id],
    );
  }
  await recordEvent(c, id, from, to, reason, actor);
}

/** How a job that does not complete ends. */
export interface JobEnding {
  state: 'Failed' | 'Cancelled';
  reason: string;
}

/**
 * With the collections in another database, publish and the job's Completed state are two commits
 * (decision 0503). Before a job that may have run is failed or cancelled, this closes the job's
 * publish fence in the target database — no run can publish after it — and answers the rows a run
 * already published (null: none). Published rows make the job Completed instead: the two databases
 * then tell the same story.
 */
export type PublishedRowsCheck = (jobPk: string, ending: JobEnding) => Promise<number | null>;

/**
 * Ends an active job (row locked by the caller) as `ending` says — or Completed, when `check`
 * finds that a run of it already published its rows. Only an Importing job can have published.
 */
export async function endJob(
  c: PoolClient,
  id: string,
  from: JobState,
  ending: JobEnding,
  actor: string,
  check?: PublishedRowsCheck,
): Promise<TerminalState> {
  if (check !== undefined && from === 'Importing') {
    const published = await check(id, ending);
    if (published !== null) {
      await completeJob(c, id, published, actor);
      return 'Completed';
    }
  }
  await finishJob(c, id, from, ending.state, ending.reason, actor);
  return ending.state;
}

/** Importing → Completed with the published row count (row locked by the caller). */
export async function completeJob(c: PoolClient, id: string, rows: number, actor: string): Promise<void> {
  await c.query(
    `UPDATE import_jobs SET imported_rows = $2, total_rows = $2, consumed_bytes = total_bytes WHERE id = $1`,
    [id, rows],
  );
  await c.query(
    `UPDATE import_job_files SET state = 'Completed', progress = 100, completed_at = coalesce(completed_at, now())
      WHERE job_id = $1 AND state <> 'Skipped'`,
    [id],
  );
  await recordLoadedObjects(c, id);
  await finishJob(c, id, 'Importing', 'Completed', '', actor);
}

/**
 * The file ledger (decision 1401): every object the job loaded, at the version and size planning
 * recorded, in the transaction that completes the job — so the ledger names an object exactly when
 * its rows are visible. Skipped groups loaded nothing; a dry run loads nothing. The newest load of
 * a URL wins (a changed object loaded again replaces its row).
 */
async function recordLoadedObjects(c: PoolClient, id: string): Promise<void> {
  await c.query(
    `INSERT INTO import_file_ledger (collection_id, url, version, size_bytes, job_id)
     SELECT DISTINCT ON (v.key) g.id, v.key, v.value, coalesce((f.object_sizes ->> v.key)::bigint, 0), j.job_id
       FROM import_jobs j
       JOIN gateway_collections g ON g.db_name = j.db_name AND g.name = j.collection_name
       JOIN import_job_files f ON f.job_id = j.id AND f.state <> 'Skipped'
       CROSS JOIN LATERAL jsonb_each_text(f.object_versions) v
      WHERE j.id = $1 AND lower(coalesce(j.options ->> 'dry_run', 'false')) <> 'true'
      ORDER BY v.key, f.group_index DESC
     ON CONFLICT (collection_id, url) DO UPDATE
       SET version = EXCLUDED.version, size_bytes = EXCLUDED.size_bytes, job_id = EXCLUDED.job_id, loaded_at = now()`,
    [id],
  );
}
