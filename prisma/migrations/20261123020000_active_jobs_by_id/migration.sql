-- The reconciler walks active jobs in id order, a page per pass, whatever the number of finished jobs.
CREATE INDEX import_jobs_active_by_id_idx ON import_jobs (id) WHERE state IN ('Pending', 'Importing');
