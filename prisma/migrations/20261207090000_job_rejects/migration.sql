-- error_mode=continue (issue 16 points 2 and 3, decision 1301): rows a job skipped because the
-- schema refused them. Counts per file group and per job (describe and list show rejectedRows),
-- and the rows themselves, at most 10,000 per job (MAX_STORED_REJECTS_PER_JOB), deleted with
-- their job (job retention deletes import_jobs rows; the foreign key cascades).
ALTER TABLE import_jobs ADD COLUMN rejected_rows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE import_job_files ADD COLUMN rejected_rows BIGINT NOT NULL DEFAULT 0;

CREATE TABLE import_job_rejects (
  id          BIGSERIAL PRIMARY KEY,
  job_id      BIGINT NOT NULL REFERENCES import_jobs (id) ON DELETE CASCADE,
  group_index INTEGER NOT NULL,
  file        TEXT NOT NULL,
  row_number  BIGINT NOT NULL,
  field       TEXT NOT NULL,
  reason      TEXT NOT NULL,
  raw         TEXT NOT NULL
);
-- The report is read in (group, row) order, page after page; a group restaged replaces its rows.
CREATE INDEX import_job_rejects_job_idx ON import_job_rejects (job_id, group_index, row_number, id);
