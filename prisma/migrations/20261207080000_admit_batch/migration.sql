-- Admission of several creates of one collection in one transaction (decision 1102): the API groups
-- the creates that arrive for a collection while its previous admission is in flight and admits
-- them here, in arrival order, each through admit_import_job — so the counter row is locked once,
-- the cap is checked against the count including the jobs admitted before it in the same batch (the
-- trigger updates it row by row), an idempotency key repeated within the batch is a replay of the
-- first, and the whole group costs one commit instead of one per create.
-- p_jobs: a JSON array of {jobId, dbName, collectionName, partitionName, request, options, timeoutMs,
-- idempotencyKey, requestHash, credKeyId, credIv, credCiphertext, credTag (base64), apiKeyId, files}.
CREATE FUNCTION admit_import_jobs(p_jobs jsonb, p_max_active integer)
RETURNS TABLE (ord integer, kind text, job_id text) LANGUAGE plpgsql AS $$
DECLARE
  j jsonb;
  i integer;
  r record;
BEGIN
  FOR j, i IN SELECT e, (n - 1)::integer FROM jsonb_array_elements(p_jobs) WITH ORDINALITY AS t(e, n) LOOP
    SELECT a.kind, a.job_id INTO r FROM admit_import_job(
      j ->> 'jobId', j ->> 'dbName', j ->> 'collectionName', j ->> 'partitionName',
      j -> 'request', j -> 'options', (j ->> 'timeoutMs')::bigint,
      j ->> 'idempotencyKey', j ->> 'requestHash',
      j ->> 'credKeyId', decode(j ->> 'credIv', 'base64'), decode(j ->> 'credCiphertext', 'base64'),
      decode(j ->> 'credTag', 'base64'), (j ->> 'apiKeyId')::bigint, j -> 'files', p_max_active) AS a;
    ord := i;
    kind := r.kind;
    job_id := r.job_id;
    RETURN NEXT;
  END LOOP;
END $$;
