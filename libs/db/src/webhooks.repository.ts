import type { Pool, PoolClient } from 'pg';
import { inTransaction } from '@gw/pg';
import type { TerminalState } from './import-job-state';

/**
 * The webhook outbox (decisions 1501–1509). `queueJobWebhooks` runs inside the transaction that
 * moves a job to its terminal state (finishJob), so the notification commits with the state or not
 * at all; the workers' delivery loop claims, sends and records through WebhooksRepository.
 */
export type WebhookTarget = 'job' | 'global';
export type WebhookState = 'Pending' | 'Delivered' | 'Failed';

/** A target snapshotted into `import_jobs.request.webhooks` at admission. */
export interface WebhookTargetSpec {
  target: WebhookTarget;
  url: string;
}

/** What describe shows of one delivery. */
export interface JobWebhookRow {
  target: WebhookTarget;
  url: string;
  event: TerminalState;
  state: WebhookState;
  attempts: number;
  lastStatus: number | null;
  lastError: string;
  nextAttemptAt: Date;
  deliveredAt: Date | null;
}

/** A delivery claimed by one worker for one attempt. */
export interface ClaimedWebhook {
  id: string;
  jobPk: string;
  jobId: string;
  target: WebhookTarget;
  url: string;
  event: TerminalState;
  /** This attempt's number (1-based); also the fence of its record. */
  attempt: number;
  payload: string | null;
}

export interface WebhookAttemptResult {
  id: string;
  attempt: number;
  startedAt: Date;
  durationMs: number;
  status: number | null;
  error: string;
  /** Delivered; retry after `retryInMs`; or Failed for good. */
  outcome: { kind: 'delivered' } | { kind: 'retry'; retryInMs: number } | { kind: 'failed' };
  /** The body sent, kept so every retry sends the same bytes. */
  payload: string;
}

/** Writes the job's deliveries (row locked by the caller, in the terminal-state transaction). */
export async function queueJobWebhooks(
  c: Pick<PoolClient, 'query'>,
  jobPk: string,
  event: TerminalState,
): Promise<void> {
  await c.query(
    `INSERT INTO import_job_webhooks (job_id, target, url, event)
     SELECT j.id, w.target, w.url, $2
       FROM import_jobs j
      CROSS JOIN LATERAL jsonb_to_recordset(
              CASE WHEN jsonb_typeof(j.request -> 'webhooks') = 'array' THEN j.request -> 'webhooks' ELSE '[]'::jsonb END
            ) AS w(target text, url text)
      WHERE j.id = $1 AND w.target IN ('job', 'global') AND w.url IS NOT NULL
     ON CONFLICT (job_id, target) DO NOTHING`,
    [jobPk, event],
  );
}

const ROW_COLUMNS = `target, url, event, state, attempts, last_status AS "lastStatus", last_error AS "lastError",
  next_attempt_at AS "nextAttemptAt", delivered_at AS "deliveredAt"`;

export class WebhooksRepository {
  constructor(private readonly pool: Pool) {}

  /**
   * Claims up to `limit` due deliveries for one attempt each. SKIP LOCKED keeps two workers off
   * the same row; moving next_attempt_at `claimMs` ahead (longer than a request may last) keeps it
   * claimed after this commit, and hands it to another worker if this one dies mid-request.
   */
  async claimDue(limit: number, claimMs: number): Promise<ClaimedWebhook[]> {
    const r = await this.pool.query<ClaimedWebhook>(
      `WITH due AS (
         SELECT id FROM import_job_webhooks
          WHERE state = 'Pending' AND next_attempt_at <= now()
          ORDER BY next_attempt_at, id LIMIT $1 FOR UPDATE SKIP LOCKED)
       UPDATE import_job_webhooks w
          SET attempts = w.attempts + 1, next_attempt_at = now() + make_interval(secs => $2 / 1000.0)
         FROM due, import_jobs j
        WHERE w.id = due.id AND j.id = w.job_id
        RETURNING w.id::text AS id, w.job_id::text AS "jobPk", j.job_id AS "jobId", w.target, w.url, w.event,
                  w.attempts AS attempt, w.payload`,
      [limit, claimMs],
    );
    return r.rows;
  }

  /**
   * Records one attempt and moves the delivery on. Fenced by the attempt number: a worker whose
   * claim was taken over (it stalled past the claim) records nothing.
   */
  async recordAttempt(a: WebhookAttemptResult): Promise<boolean> {
    return inTransaction(this.pool, async (c) => {
      const state: WebhookState =
        a.outcome.kind === 'delivered' ? 'Delivered' : a.outcome.kind === 'failed' ? 'Failed' : 'Pending';
      const retryMs = a.outcome.kind === 'retry' ? a.outcome.retryInMs : 0;
      const u = await c.query(
        `UPDATE import_job_webhooks
            SET state = $3, last_status = $4, last_error = $5, payload = coalesce(payload, $6),
                next_attempt_at = now() + make_interval(secs => $7 / 1000.0),
                delivered_at = CASE WHEN $3 = 'Delivered' THEN now() ELSE NULL END
          WHERE id = $1 AND attempts = $2 AND state = 'Pending'`,
        [a.id, a.attempt, state, a.status, a.error, a.payload, retryMs],
      );
      if (u.rowCount !== 1) return false;
      await c.query(
        `INSERT INTO import_job_webhook_attempts (webhook_id, attempt, started_at, duration_ms, status, error)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (webhook_id, attempt) DO NOTHING`,
        [a.id, a.attempt, a.startedAt, Math.round(a.durationMs), a.status, a.error],
      );
      return true;
    });
  }

  /** Every delivery of a job (describe). */
  async listForJob(jobPk: string): Promise<JobWebhookRow[]> {
    const r = await this.pool.query<JobWebhookRow>(
      `SELECT ${ROW_COLUMNS} FROM import_job_webhooks WHERE job_id = $1 ORDER BY id`,
      [jobPk],
    );
    return r.rows;
  }

  /** The attempts of one job's deliveries, oldest first (tests, operators). */
  async attemptsForJob(
    jobPk: string,
  ): Promise<{ target: WebhookTarget; attempt: number; status: number | null; error: string }[]> {
    const r = await this.pool.query<{ target: WebhookTarget; attempt: number; status: number | null; error: string }>(
      `SELECT w.target, a.attempt, a.status, a.error
         FROM import_job_webhook_attempts a JOIN import_job_webhooks w ON w.id = a.webhook_id
        WHERE w.job_id = $1 ORDER BY w.id, a.attempt`,
      [jobPk],
    );
    return r.rows;
  }
}
