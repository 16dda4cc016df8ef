-- IMPORT_JOB_RETENTION: the reconciler deletes terminal jobs whose end is older than the
-- retention, oldest first, in batches; this index finds them without walking active or recent jobs.
CREATE INDEX import_jobs_terminal_completed_idx ON import_jobs (completed_at, id)
  WHERE state IN ('Completed', 'Failed', 'Cancelled');
