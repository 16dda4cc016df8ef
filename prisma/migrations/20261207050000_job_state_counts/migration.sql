-- Jobs by state per collection, and rows of Completed jobs, kept by a trigger like the admission
-- counters: /metrics reads this small table instead of counting import_jobs on every scrape, so a
-- scrape costs the same at a thousand jobs as at ten million (issue 14).
CREATE TABLE import_job_state_counts (
  db_name          text   NOT NULL,
  collection_name  text   NOT NULL,
  state            text   NOT NULL,
  jobs             bigint NOT NULL DEFAULT 0,
  -- imported_rows of the jobs in this state (counted for Completed jobs).
  rows             bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (db_name, collection_name, state)
);

INSERT INTO import_job_state_counts (db_name, collection_name, state, jobs, rows)
SELECT db_name, collection_name, state, count(*),
       coalesce(sum(imported_rows) FILTER (WHERE state = 'Completed'), 0)
  FROM import_jobs GROUP BY 1, 2, 3;

CREATE FUNCTION import_jobs_count_states() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' THEN
    UPDATE import_job_state_counts
       SET jobs = jobs - 1, rows = rows - CASE WHEN OLD.state = 'Completed' THEN OLD.imported_rows ELSE 0 END
     WHERE db_name = OLD.db_name AND collection_name = OLD.collection_name AND state = OLD.state;
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO import_job_state_counts (db_name, collection_name, state, jobs, rows)
    VALUES (NEW.db_name, NEW.collection_name, NEW.state, 1,
            CASE WHEN NEW.state = 'Completed' THEN NEW.imported_rows ELSE 0 END)
    ON CONFLICT (db_name, collection_name, state) DO UPDATE
      SET jobs = import_job_state_counts.jobs + 1, rows = import_job_state_counts.rows + EXCLUDED.rows;
  END IF;
  RETURN NULL;
END $$;

-- Only moves between states (and renames) change the counts; progress updates do not fire it.
CREATE TRIGGER import_jobs_count_states
  AFTER INSERT OR DELETE OR UPDATE OF state, db_name, collection_name ON import_jobs
  FOR EACH ROW EXECUTE FUNCTION import_jobs_count_states();
