-- One job over many workers (issue 12 point 6, decision 0502): a job's file groups are claimed
-- one at a time by any worker slot, under the run's fencing token, with an expiring claim.
ALTER TABLE import_job_files
  ADD COLUMN claim_owner      text,
  ADD COLUMN claim_token      bigint,
  ADD COLUMN claim_expires_at timestamptz;
-- Groups still to stage, for claims and for idle workers looking for a job to help.
CREATE INDEX import_job_files_unstaged_idx ON import_job_files (job_id, group_index)
  WHERE state IN ('Pending', 'InProgress');
