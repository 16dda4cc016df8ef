import type { Pool, PoolClient } from 'pg';
import type { RunRef } from './job-runs.repository';

/** The phases of a job's run, in the order a run goes through them (issue 16 point 7). */
export const JOB_PHASES = ['listing', 'reading', 'validating', 'publishing', 'indexing'] as const;
export type JobPhase = (typeof JOB_PHASES)[number];
export type PhaseState = 'Running' | 'Done' | 'Failed' | 'Skipped';

/** One phase of a job as describe shows it. */
export interface JobPhaseRow {
  phase: JobPhase;
  state: PhaseState;
  startedAt: Date;
  endedAt: Date | null;
  rows: string | null;
  bytes: string | null;
  conflictRows: string | null;
  message: string;
}

/** What a phase ends with. */
export interface PhaseEnd {
  state: Exclude<PhaseState, 'Running'>;
  rows?: number | null;
  bytes?: number | null;
  conflictRows?: number | null;
  message?: string;
}

/** A running index build whose worker may have died (the reconciler's view). */
export interface RunningIndexBuild {
  id: string;
  jobId: string;
  startedAt: Date;
}

/** Where a phase write runs: the pool, or the client of a transaction it must commit with. */
export type PhaseWriter = Pick<PoolClient, 'query'>;

/** Phase times are clock_timestamp(): a phase may end inside a transaction that began before it started. */
/** Only the run that holds the job's newest token writes its phases (decision 0501). */
const CURRENT_RUN = `EXISTS (SELECT 1 FROM import_jobs j WHERE j.id = $1::bigint AND j.run_token = $2::bigint)`;

/**
 * The phase timeline in `import_job_phases`. Writes are fenced by the run's token, so a run that
 * lost its job never overwrites the timeline of the run that took over. The index build runs
 * after the job is Completed and is fenced the same way (a Completed job keeps its last token).
 */
export class JobPhasesRepository {
  constructor(private readonly pool: Pool) {}

  /** Starts (or restarts, for a new run) a phase. */
  async start(run: RunRef, phase: JobPhase, opts: { bytes?: number | null; q?: PhaseWriter } = {}): Promise<void> {
    await (opts.q ?? this.pool).query(
      `INSERT INTO import_job_phases (job_id, phase, state, started_at, bytes)
       SELECT $1::bigint, $3::text, 'Running', clock_timestamp(), $4::bigint WHERE ${CURRENT_RUN}
       ON CONFLICT (job_id, phase) DO UPDATE SET state = 'Running', started_at = clock_timestamp(), ended_at = NULL,
              rows = NULL, bytes = EXCLUDED.bytes, conflict_rows = NULL, message = ''`,
      [run.id, run.token.toString(), phase, opts.bytes ?? null],
    );
  }

  /** Ends a phase this run started (a phase it never started is left alone). */
  async end(run: RunRef, phase: JobPhase, end: PhaseEnd, q: PhaseWriter = this.pool): Promise<void> {
    await q.query(
      `UPDATE import_job_phases SET state = $4, ended_at = clock_timestamp(), rows = coalesce($5, rows),
              bytes = coalesce($6, bytes), conflict_rows = coalesce($7, conflict_rows), message = $8
        WHERE job_id = $1 AND phase = $3 AND ${CURRENT_RUN}`,
      [
        run.id,
        run.token.toString(),
        phase,
        end.state,
        end.rows ?? null,
        end.bytes ?? null,
        end.conflictRows ?? null,
        (end.message ?? '').slice(0, 2000),
      ],
    );
  }

  /** A phase that is skipped as a whole (start and end at once). */
  async skip(run: RunRef, phase: JobPhase, message: string, q: PhaseWriter = this.pool): Promise<void> {
    await this.start(run, phase, { q });
    await this.end(run, phase, { state: 'Skipped', message }, q);
  }

  /** Marks whatever phase of the run is still Running as Failed (the run ended by failing). */
  async failRunning(run: RunRef, message: string): Promise<void> {
    await this.pool.query(
      `UPDATE import_job_phases SET state = 'Failed', ended_at = clock_timestamp(), message = $3
        WHERE job_id = $1 AND state = 'Running' AND ${CURRENT_RUN}`,
      [run.id, run.token.toString(), message.slice(0, 2000)],
    );
  }

  /** The timeline of one job (internal id), in phase order. */
  async ofJob(id: string): Promise<JobPhaseRow[]> {
    const r = await this.pool.query<JobPhaseRow>(
      `SELECT phase, state, started_at AS "startedAt", ended_at AS "endedAt", rows::text AS rows,
              bytes::text AS bytes, conflict_rows::text AS "conflictRows", message
         FROM import_job_phases WHERE job_id = $1`,
      [id],
    );
    return r.rows.sort((a, b) => JOB_PHASES.indexOf(a.phase) - JOB_PHASES.indexOf(b.phase));
  }

  /** Index builds of Completed jobs still Running since before `olderThanMs` ago. */
  async runningIndexBuilds(olderThanMs: number, limit = 100): Promise<RunningIndexBuild[]> {
    const r = await this.pool.query<RunningIndexBuild>(
      `SELECT p.job_id::text AS id, j.job_id AS "jobId", p.started_at AS "startedAt"
         FROM import_job_phases p JOIN import_jobs j ON j.id = p.job_id
        WHERE p.state = 'Running' AND p.phase = 'indexing'
          AND p.started_at < now() - make_interval(secs => $1 / 1000.0)
        ORDER BY p.started_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return r.rows;
  }

  /** Ends an index build nobody is running any more (unfenced: its run is gone). */
  async failAbandoned(id: string, message: string): Promise<boolean> {
    const r = await this.pool.query(
      `UPDATE import_job_phases SET state = 'Failed', ended_at = clock_timestamp(), message = $2
        WHERE job_id = $1 AND phase = 'indexing' AND state = 'Running'`,
      [id, message],
    );
    return (r.rowCount ?? 0) > 0;
  }
}
