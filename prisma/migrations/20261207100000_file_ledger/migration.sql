-- File ledger (issue 16 point 4, decision 1401): every object a Completed job loaded, per collection,
-- with the version (ETag, generation, inode-size-mtime) and size it was read at. Written by the
-- transaction that completes the job, so a ledger row exists exactly when its rows are visible.
-- Keyed by the catalog id: dropping the collection drops its ledger (a re-created collection with
-- the same name starts empty, as its table does).
CREATE TABLE import_file_ledger (
  collection_id  bigint      NOT NULL REFERENCES gateway_collections (id) ON DELETE CASCADE,
  url            text        NOT NULL,
  version        text        NOT NULL,
  size_bytes     bigint      NOT NULL,
  -- The public id of the job that loaded this version last (no foreign key: retention deletes jobs).
  job_id         text        NOT NULL,
  loaded_at      timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (collection_id, url)
);

-- Planning records each object's size next to its version (display name → bytes), so completion
-- can write ledger rows from the job tables alone; skipped_objects counts the objects of a group
-- that skip_imported left out (a whole group left out is state 'Skipped').
ALTER TABLE import_job_files
  ADD COLUMN object_sizes    jsonb NOT NULL DEFAULT '{}',
  ADD COLUMN skipped_objects int   NOT NULL DEFAULT 0;

-- A group skip_imported left out whole is 'Skipped' (0 rows, never claimed).
ALTER TABLE import_job_files DROP CONSTRAINT import_job_files_state_check;
ALTER TABLE import_job_files ADD CONSTRAINT import_job_files_state_check
  CHECK (state IN ('Pending', 'InProgress', 'Completed', 'Failed', 'Skipped'));
