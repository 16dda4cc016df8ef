-- Idle worker slots look for a running job to help every 500 ms per process (decision 0502):
-- only Importing jobs qualify, and with thousands of Pending jobs queued the active-jobs index
-- would walk past all of them on every look.
CREATE INDEX import_jobs_importing_idx ON import_jobs (id) WHERE state = 'Importing';
