-- Volumes (storage.md §7): PostgreSQL is the source of truth for which volumes exist, as it is
-- for jobs; the backend (a directory or a bucket prefix) only holds their files.
CREATE TABLE volumes (
  name        text        PRIMARY KEY,
  backend     text        NOT NULL,  -- 'local' | 's3' | 'gcs' | 'azure'
  location    text        NOT NULL,  -- directory or bucket URL of the volume's root (no credentials)
  project_id  text,
  region_id   text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- Deleting a volume asks whether an active job reads it; jobs name their volume in `request`.
CREATE INDEX import_jobs_active_volume_idx ON import_jobs ((request ->> 'volumeName'))
  WHERE state IN ('Pending', 'Importing') AND request ? 'volumeName';
