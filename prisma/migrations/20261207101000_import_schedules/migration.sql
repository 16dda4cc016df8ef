-- Scheduled imports (issue 16 point 5, decision 1402). PostgreSQL holds every schedule; BullMQ job
-- schedulers only produce the ticks and are re-created from this table when a worker starts, so a
-- flushed Redis loses no schedule. Dropping the collection drops its schedules.
CREATE TABLE import_schedules (
  id               bigserial   PRIMARY KEY,
  schedule_id      text        NOT NULL UNIQUE,
  collection_id    bigint      NOT NULL REFERENCES gateway_collections (id) ON DELETE CASCADE,
  db_name          text        NOT NULL,
  collection_name  text        NOT NULL,
  partition_name   text,
  folder_url       text        NOT NULL,
  interval_ms      bigint      NOT NULL CHECK (interval_ms >= 1000),
  interval_text    text        NOT NULL,
  options          jsonb       NOT NULL DEFAULT '{}',
  -- accessKey/secretKey/token sealed with GATEWAY_SECRET_KEY (CredentialsCipher), as for jobs.
  key_id           text,
  iv               bytea,
  ciphertext       bytea,
  auth_tag         bytea,
  api_key_id       bigint,
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- The last tick's outcome, for describe: 'created', 'nothing new', 'busy', 'cap reached', 'error: …'.
  last_tick_at     timestamptz,
  last_tick_result text        NOT NULL DEFAULT '',
  last_job_id      text
);
CREATE INDEX import_schedules_collection_idx ON import_schedules (db_name, collection_name);

-- Jobs a schedule created (a tick creates none while one of them is still active).
CREATE TABLE import_schedule_jobs (
  schedule_id  bigint      NOT NULL REFERENCES import_schedules (id) ON DELETE CASCADE,
  job_id       text        NOT NULL,
  tick         bigint      NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (schedule_id, tick)
);
CREATE INDEX import_schedule_jobs_job_idx ON import_schedule_jobs (job_id);
