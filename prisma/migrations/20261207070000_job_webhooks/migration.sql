-- Webhooks (#15 point 6, decisions 1501–1509): an outbox. The rows are written by the state
-- machine (finishJob) in the transaction that moves a job to Completed, Failed or Cancelled, from
-- the targets the job snapshotted at admission (import_jobs.request -> 'webhooks'), so a crash
-- after that commit loses no notification; the workers' delivery loop claims due rows with
-- FOR UPDATE SKIP LOCKED and a short claim (next_attempt_at moved past the request timeout), so two
-- workers never send the same attempt and a worker that dies mid-request is replaced after it.
CREATE TABLE import_job_webhooks (
  id               bigserial   PRIMARY KEY,
  job_id           bigint      NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  -- 'job' (options.webhook_url) or 'global' (WEBHOOK_URL at admission).
  target           text        NOT NULL,
  url              text        NOT NULL,
  -- the terminal state that was announced
  event            text        NOT NULL,
  -- Pending (due at next_attempt_at) → Delivered | Failed (attempts used up or refused).
  state            text        NOT NULL DEFAULT 'Pending',
  attempts         integer     NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  -- the body, rendered once at the first attempt so every retry sends the same bytes
  payload          text,
  last_status      integer,
  last_error       text        NOT NULL DEFAULT '',
  created_at       timestamptz NOT NULL DEFAULT now(),
  delivered_at     timestamptz,
  UNIQUE (job_id, target)
);
CREATE INDEX import_job_webhooks_due_idx ON import_job_webhooks (next_attempt_at, id) WHERE state = 'Pending';

CREATE TABLE import_job_webhook_attempts (
  id           bigserial   PRIMARY KEY,
  webhook_id   bigint      NOT NULL REFERENCES import_job_webhooks (id) ON DELETE CASCADE,
  attempt      integer     NOT NULL,
  started_at   timestamptz NOT NULL,
  duration_ms  integer     NOT NULL,
  -- HTTP status, or null when no answer came (refused, timeout, connection error)
  status       integer,
  error        text        NOT NULL DEFAULT '',
  UNIQUE (webhook_id, attempt)
);
