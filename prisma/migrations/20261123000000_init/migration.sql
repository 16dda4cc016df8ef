-- Job tables, collection catalog and API keys. Written by hand (no schema engine offline here);
-- prisma/schema.prisma mirrors it and test/integration/db-drift.spec.ts checks every column.

CREATE TABLE import_jobs (
  id                bigserial PRIMARY KEY,
  job_id            text        NOT NULL,
  db_name           text        NOT NULL,
  collection_name   text        NOT NULL,
  partition_name    text,
  state             text        NOT NULL DEFAULT 'Pending'
                    CHECK (state IN ('Pending', 'Importing', 'Completed', 'Failed', 'Cancelled')),
  progress          integer     NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  imported_rows     bigint      NOT NULL DEFAULT 0,
  total_rows        bigint      NOT NULL DEFAULT 0,
  total_bytes       bigint      NOT NULL DEFAULT 0,
  consumed_bytes    bigint      NOT NULL DEFAULT 0,
  reason            text        NOT NULL DEFAULT '',
  request           jsonb       NOT NULL DEFAULT '{}',
  options           jsonb       NOT NULL DEFAULT '{}',
  timeout_ms        bigint,
  deadline_at       timestamptz,
  idempotency_key   text,
  request_hash      text,
  credentials_id    bigint,
  api_key_id        bigint,
  attempts          integer     NOT NULL DEFAULT 0,
  lease_owner       text,
  lease_expires_at  timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  started_at        timestamptz,
  completed_at      timestamptz,
  updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX import_jobs_job_id_key ON import_jobs (job_id);
-- list: a database's jobs, optionally one collection and one state, newest first
CREATE INDEX import_jobs_list_db_idx ON import_jobs (db_name, created_at DESC, job_id DESC);
CREATE INDEX import_jobs_list_collection_idx ON import_jobs (db_name, collection_name, created_at DESC, job_id DESC);
CREATE INDEX import_jobs_list_collection_state_idx ON import_jobs (db_name, collection_name, state, created_at DESC, job_id DESC);
CREATE INDEX import_jobs_list_state_idx ON import_jobs (db_name, state, created_at DESC, job_id DESC);
-- active jobs per collection (cap audit, reconciler, drop-collection cancel)
CREATE INDEX import_jobs_active_idx ON import_jobs (db_name, collection_name, created_at)
  WHERE state IN ('Pending', 'Importing');
CREATE INDEX import_jobs_idempotency_idx ON import_jobs (db_name, collection_name, idempotency_key, created_at DESC)
  WHERE idempotency_key IS NOT NULL;

-- Encrypted request credentials (AES-256-GCM). Rows are deleted when their job is terminal.
CREATE TABLE import_job_credentials (
  id          bigserial PRIMARY KEY,
  key_id      text        NOT NULL,
  iv          bytea       NOT NULL,
  ciphertext  bytea       NOT NULL,
  auth_tag    bytea       NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE import_jobs ADD CONSTRAINT import_jobs_credentials_fkey
  FOREIGN KEY (credentials_id) REFERENCES import_job_credentials (id) ON DELETE SET NULL;

CREATE TABLE import_job_files (
  id               bigserial PRIMARY KEY,
  job_id           bigint      NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  group_index      integer     NOT NULL,
  urls             text[]      NOT NULL,
  display_name     text        NOT NULL,
  format           text        NOT NULL,
  is_folder        boolean     NOT NULL DEFAULT false,
  size_bytes       bigint      NOT NULL DEFAULT 0,
  object_versions  jsonb       NOT NULL DEFAULT '{}',
  state            text        NOT NULL DEFAULT 'Pending'
                   CHECK (state IN ('Pending', 'InProgress', 'Completed', 'Failed')),
  progress         integer     NOT NULL DEFAULT 0 CHECK (progress BETWEEN 0 AND 100),
  imported_rows    bigint      NOT NULL DEFAULT 0,
  total_rows       bigint      NOT NULL DEFAULT 0,
  consumed_bytes   bigint      NOT NULL DEFAULT 0,
  reason           text        NOT NULL DEFAULT '',
  completed_at     timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (job_id, group_index)
);

CREATE TABLE import_job_events (
  id          bigserial PRIMARY KEY,
  job_id      bigint      NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  at          timestamptz NOT NULL DEFAULT clock_timestamp(),
  from_state  text,
  to_state    text        NOT NULL,
  message     text        NOT NULL DEFAULT '',
  actor       text        NOT NULL DEFAULT ''
);
CREATE INDEX import_job_events_job_idx ON import_job_events (job_id, at);

-- The per-collection admission counter: create locks this row, so "check and insert" is atomic
-- across API processes. A trigger keeps it equal to the number of Pending/Importing jobs.
CREATE TABLE import_collection_counters (
  db_name          text    NOT NULL,
  collection_name  text    NOT NULL,
  active_jobs      integer NOT NULL DEFAULT 0 CHECK (active_jobs >= 0),
  PRIMARY KEY (db_name, collection_name)
);

CREATE FUNCTION import_jobs_count_active() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  was_active boolean := TG_OP <> 'INSERT' AND OLD.state IN ('Pending', 'Importing');
  is_active  boolean := TG_OP <> 'DELETE' AND NEW.state IN ('Pending', 'Importing');
BEGIN
  IF was_active AND (NOT is_active OR OLD.db_name <> NEW.db_name OR OLD.collection_name <> NEW.collection_name) THEN
    UPDATE import_collection_counters SET active_jobs = active_jobs - 1
     WHERE db_name = OLD.db_name AND collection_name = OLD.collection_name;
  END IF;
  IF is_active AND (NOT was_active OR OLD.db_name <> NEW.db_name OR OLD.collection_name <> NEW.collection_name) THEN
    INSERT INTO import_collection_counters (db_name, collection_name, active_jobs)
    VALUES (NEW.db_name, NEW.collection_name, 1)
    ON CONFLICT (db_name, collection_name) DO UPDATE SET active_jobs = import_collection_counters.active_jobs + 1;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER import_jobs_count_active
  AFTER INSERT OR DELETE OR UPDATE OF state, db_name, collection_name ON import_jobs
  FOR EACH ROW EXECUTE FUNCTION import_jobs_count_active();

-- Collection catalog (the Milvus schema of each collection; rows live in milvus_<db>.<name>).
CREATE TABLE gateway_databases (
  name        text PRIMARY KEY,
  properties  jsonb       NOT NULL DEFAULT '{}',
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE gateway_collections (
  id            bigserial PRIMARY KEY,
  db_name       text        NOT NULL REFERENCES gateway_databases (name),
  name          text        NOT NULL,
  description   text        NOT NULL DEFAULT '',
  schema        jsonb       NOT NULL,
  index_params  jsonb       NOT NULL DEFAULT '[]',
  params        jsonb       NOT NULL DEFAULT '{}',
  vector_type   text        NOT NULL CHECK (vector_type IN ('pgvector', 'array')),
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (db_name, name)
);

CREATE TABLE gateway_partitions (
  collection_id  bigint      NOT NULL REFERENCES gateway_collections (id) ON DELETE CASCADE,
  name           text        NOT NULL,
  created_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (collection_id, name)
);

CREATE TABLE api_keys (
  id            bigserial PRIMARY KEY,
  name          text        NOT NULL,
  key_prefix    text        NOT NULL,
  key_hash      text        NOT NULL,
  scopes        text[]      NOT NULL,
  databases     text[]      NOT NULL DEFAULT '{}',  -- empty: every database
  collections   text[]      NOT NULL DEFAULT '{}',  -- empty: every collection
  created_at    timestamptz NOT NULL DEFAULT now(),
  revoked_at    timestamptz,
  last_used_at  timestamptz
);
CREATE UNIQUE INDEX api_keys_key_hash_key ON api_keys (key_hash);

-- Operator views.
CREATE VIEW import_jobs_active AS
  SELECT db_name, collection_name, state, count(*) AS jobs, min(created_at) AS oldest_created_at,
         sum(imported_rows) AS imported_rows, sum(total_bytes) AS total_bytes
    FROM import_jobs WHERE state IN ('Pending', 'Importing')
   GROUP BY db_name, collection_name, state;

CREATE VIEW import_jobs_recent_failures AS
  SELECT job_id, db_name, collection_name, state, reason, attempts, created_at, completed_at
    FROM import_jobs WHERE state IN ('Failed', 'Cancelled') AND completed_at > now() - interval '24 hours'
   ORDER BY completed_at DESC;
