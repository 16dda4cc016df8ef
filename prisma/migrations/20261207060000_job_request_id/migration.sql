-- The X-Request-Id of the create call that admitted a job, so the worker's log lines of the job
-- name the request that created it (issue 15 point 3). admit_import_job is not changed: the API
-- sets `igw.request_id` for the admitting statement only (set_config(..., true) in its implicit
-- transaction) and the column's default reads it, so the row is inserted with its request id in
-- the same round trip. Rows inserted any other way get NULL. Existing rows: NULL (a stable
-- default is evaluated once here, no table rewrite).
ALTER TABLE import_jobs ADD COLUMN request_id text DEFAULT NULLIF(current_setting('igw.request_id', true), '');
