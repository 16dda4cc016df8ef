-- Admission in one round trip: the collection's counter row is locked only while this function
-- runs inside the server (about a millisecond), not across client round trips, so creates for one
-- collection are serialised but fast. Returns (kind, job_id): created | replayed | idempotency-conflict | limit.
CREATE FUNCTION admit_import_job(
  p_job_id text, p_db text, p_collection text, p_partition text,
  p_request jsonb, p_options jsonb, p_timeout_ms bigint,
  p_idempotency_key text, p_request_hash text,
  p_cred_key_id text, p_cred_iv bytea, p_cred_ciphertext bytea, p_cred_tag bytea,
  p_api_key_id bigint, p_files jsonb, p_max_active integer
) RETURNS TABLE (kind text, job_id text) LANGUAGE plpgsql AS $$
DECLARE
  v_active integer;
  v_prior_id text;
  v_prior_hash text;
  v_credentials_id bigint;
  v_id bigint;
BEGIN
  INSERT INTO import_collection_counters (db_name, collection_name) VALUES (p_db, p_collection)
  ON CONFLICT (db_name, collection_name) DO NOTHING;
  SELECT c.active_jobs INTO v_active FROM import_collection_counters c
   WHERE c.db_name = p_db AND c.collection_name = p_collection FOR UPDATE;

  IF p_idempotency_key IS NOT NULL THEN
    SELECT j.job_id, j.request_hash INTO v_prior_id, v_prior_hash FROM import_jobs j
     WHERE j.db_name = p_db AND j.collection_name = p_collection AND j.idempotency_key = p_idempotency_key
       AND j.created_at > now() - interval '24 hours'
     ORDER BY j.created_at DESC LIMIT 1;
    IF FOUND THEN
      IF v_prior_hash = p_request_hash THEN
        RETURN QUERY SELECT 'replayed'::text, v_prior_id;
      ELSE
        RETURN QUERY SELECT 'idempotency-conflict'::text, NULL::text;
      END IF;
      RETURN;
    END IF;
  END IF;

  IF v_active >= p_max_active THEN
    RETURN QUERY SELECT 'limit'::text, NULL::text;
    RETURN;
  END IF;

  IF p_cred_ciphertext IS NOT NULL THEN
    INSERT INTO import_job_credentials (key_id, iv, ciphertext, auth_tag)
    VALUES (p_cred_key_id, p_cred_iv, p_cred_ciphertext, p_cred_tag) RETURNING id INTO v_credentials_id;
  END IF;

  INSERT INTO import_jobs (job_id, db_name, collection_name, partition_name, request, options, timeout_ms,
                           deadline_at, idempotency_key, request_hash, credentials_id, api_key_id)
  VALUES (p_job_id, p_db, p_collection, p_partition, p_request, p_options, p_timeout_ms,
          CASE WHEN p_timeout_ms IS NULL THEN NULL ELSE now() + make_interval(secs => p_timeout_ms / 1000.0) END,
          p_idempotency_key, p_request_hash, v_credentials_id, p_api_key_id)
  RETURNING id INTO v_id;

  INSERT INTO import_job_files (job_id, group_index, urls, display_name, format, is_folder)
  SELECT v_id, (g.ord - 1)::integer, ARRAY(SELECT jsonb_array_elements_text(g.f -> 'paths')), g.f ->> 'displayName',
         g.f ->> 'format', (g.f ->> 'isFolder')::boolean
    FROM jsonb_array_elements(p_files) WITH ORDINALITY AS g(f, ord);

  INSERT INTO import_job_events (job_id, to_state, message, actor) VALUES (v_id, 'Pending', 'created', 'api');
  RETURN QUERY SELECT 'created'::text, p_job_id;
END $$;
