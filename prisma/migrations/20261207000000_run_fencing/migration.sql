-- Fencing (issue 12): every run of a job takes the next run_token when it acquires the job, and
-- every staging commit, progress write and the publish checks it, so a run that lost its lease
-- (paused process, lost BullMQ lock) can no longer write. attempts counts runs that started.
ALTER TABLE import_jobs ADD COLUMN run_token bigint NOT NULL DEFAULT 0;

-- One row naming this installation: staging tables in a target database are named after it, so
-- two gateways sharing a target database never adopt each other's staging tables.
CREATE TABLE gateway_installation (
  singleton   boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
  id          text        NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);
INSERT INTO gateway_installation (id) VALUES (substr(md5(random()::text || clock_timestamp()::text), 1, 10));
