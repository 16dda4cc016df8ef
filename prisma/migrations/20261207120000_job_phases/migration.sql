-- A job's phase timeline (issue 16 point 7): when listing, reading, validating, publishing and the
-- index build after load started and ended, with rows, so describe says where a stuck job is.
-- One row per phase; a new run of the job overwrites the rows of the phases it goes through again.
CREATE TABLE import_job_phases (
  job_id         bigint      NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  phase          text        NOT NULL
                 CHECK (phase IN ('listing', 'reading', 'validating', 'publishing', 'indexing')),
  state          text        NOT NULL DEFAULT 'Running'
                 CHECK (state IN ('Running', 'Done', 'Failed', 'Skipped')),
  started_at     timestamptz NOT NULL DEFAULT now(),
  ended_at       timestamptz,
  rows           bigint,
  bytes          bigint,
  -- Rows that met an existing primary key (on_conflict skip or upsert), counted at publish.
  conflict_rows  bigint,
  message        text        NOT NULL DEFAULT '',
  PRIMARY KEY (job_id, phase)
);

-- The reconciler looks for index builds whose worker died (Running long after it started).
CREATE INDEX import_job_phases_running_idx ON import_job_phases (started_at) WHERE state = 'Running';
