/**
 * API at scale (issue 14): list and describe latency with a large job table, and create throughput
 * with the per-collection cap checked on every create. The real API process from dist/ on loopback
 * (bench/e2e-gateway.ts), a scratch database, keep-alive HTTP.
 *
 *   npm run build && node dist/bench/api-scale.js [list|create|all]
 *
 * list: BENCH_LIST_JOBS (1,000,000) jobs over BENCH_LIST_COLLECTIONS (20) collections generated with
 *   generate_series (triggers off during the load, the counters rebuilt after, then VACUUM ANALYZE as
 *   autovacuum would). One request at a time, BENCH_LIST_REQUESTS (200) per case; p50/p99 over HTTP.
 *   Baseline in the same run: the previous list SQL (count(*) + OFFSET over full rows) vs the new SQL
 *   (page keys by index-only scans, count from import_job_state_counts), run directly on PostgreSQL.
 * create: BENCH_CREATE_REQUESTS (20,000) creates over BENCH_CREATE_COLLECTIONS (20) collections,
 *   BENCH_CREATE_INFLIGHT (64) in flight, the cap checked on every create (no worker runs: every job
 *   stays Pending), req/s and p50/p99. Run twice on fresh databases, back to back: the previous
 *   admission path (IMPORT_ADMISSION_BATCH=1, API_KEY_CACHE_MS=0: one transaction per create, one key
 *   lookup per request) as the same-run baseline, then the defaults (grouped admission, key cache).
 */
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { ImportJobsRepository, type JobState, type ListFilter } from '@gw/db';
import Redis from 'ioredis';
import { Gateway, postgresCpuSeconds, REDIS_URL } from './e2e-gateway';
import { ListImportJobs } from '@gw/jobs';

const out = (s: string) => process.stdout.write(`${s}\n`);
const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? NaN;
}
const ms = (x: number) => x.toFixed(1);

const agent = new Agent({ keepAlive: true, maxSockets: 256 });

/** One POST over a keep-alive connection; resolves with the parsed body and the time it took. */
function post(url: string, key: string, path: string, body: unknown): Promise<{ ms: number; body: { code: number } }> {
  const u = new URL(path, url);
  const data = Buffer.from(JSON.stringify(body));
  const t0 = performance.now();
  return new Promise((ok, fail) => {
    const req = request(
      {
        agent,
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': data.length },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          try {
            ok({ ms: performance.now() - t0, body: JSON.parse(Buffer.concat(chunks).toString()) as { code: number } });
          } catch (e) {
            fail(e instanceof Error ? e : new Error(String(e)));
          }
        });
        res.on('error', fail);
      },
    );
    req.on('error', fail);
    req.end(data);
  });
}

const STATES = `CASE WHEN i % 200 = 0 THEN 'Pending' WHEN i % 200 = 1 THEN 'Importing'
  WHEN i % 20 = 2 THEN 'Failed' WHEN i % 50 = 3 THEN 'Cancelled' ELSE 'Completed' END`;

/** Generates `n` jobs (one file each) over `collections` collections, one second apart, newest last. */
async function generateJobs(gw: Gateway, n: number, collections: number): Promise<void> {
  const db = gw.db;
  await db.query('ALTER TABLE import_jobs DISABLE TRIGGER USER');
  const chunk = 1_000_000;
  for (let from = 1; from <= n; from += chunk) {
    const to = Math.min(n, from + chunk - 1);
    await db.query(
      `INSERT INTO import_jobs (job_id, db_name, collection_name, state, progress, imported_rows, total_rows,
                                request, options, created_at, started_at, completed_at)
       SELECT 'j' || lpad(i::text, 9, '0'), 'default', 'c' || lpad((i % $3)::text, 2, '0'), ${STATES},
              100, 1000, 1000, jsonb_build_object('groups', jsonb_build_array(jsonb_build_array('s3://b/' || i || '.parquet'))),
              '{}'::jsonb, timestamptz '2026-01-01T00:00:00Z' + make_interval(secs => i),
              timestamptz '2026-01-01T00:00:00Z' + make_interval(secs => i),
              timestamptz '2026-01-01T00:00:00Z' + make_interval(secs => i + 1)
         FROM generate_series($1::int, $2::int) i`,
      [from, to, collections],
    );
    await db.query(
      `INSERT INTO import_job_files (job_id, group_index, urls, display_name, format, is_folder, size_bytes,
                                     state, progress, imported_rows, total_rows)
       SELECT id, 0, ARRAY['s3://b/' || id || '.parquet'], id || '.parquet', 'parquet', false, 123456,
              'Completed', 100, 1000, 1000
         FROM import_jobs WHERE id BETWEEN $1 AND $2`,
      [from, to],
    );
    out(`  generated ${to.toLocaleString('en-US')} jobs (load ${load()})`);
  }
  await db.query('ALTER TABLE import_jobs ENABLE TRIGGER USER');
  // What the triggers would have kept: the counters rebuilt once.
  await db.query(`DELETE FROM import_job_state_counts`);
  await db.query(
    `INSERT INTO import_job_state_counts (db_name, collection_name, state, jobs, rows)
     SELECT db_name, collection_name, state, count(*), coalesce(sum(imported_rows) FILTER (WHERE state = 'Completed'), 0)
       FROM import_jobs GROUP BY 1, 2, 3`,
  );
  await db.query(`DELETE FROM import_collection_counters`);
  await db.query(
    `INSERT INTO import_collection_counters (db_name, collection_name, active_jobs)
     SELECT db_name, collection_name, count(*) FILTER (WHERE state IN ('Pending', 'Importing'))
       FROM import_jobs GROUP BY 1, 2`,
  );
  await db.query('VACUUM ANALYZE import_jobs');
  await db.query('VACUUM ANALYZE import_job_files');
}

const STATE_OF: Record<string, JobState[]> = { Completed: ['Completed'], Failed: ['Failed', 'Cancelled'] };

function filterOf(body: Record<string, unknown>): ListFilter {
  const state = typeof body.state === 'string' ? STATE_OF[body.state] : undefined;
  return {
    dbName: 'default',
    ...(typeof body.collectionName === 'string' ? { collectionName: body.collectionName } : {}),
    ...(state === undefined ? {} : { states: state }),
  };
}

/** The list SQL before decision 1101, for the same-run baseline. */
async function oldList(gw: Gateway, where: string, params: unknown[], limit: number, offset: number): Promise<void> {
  await Promise.all([
    gw.db.query(
      `SELECT job_id AS "jobId", collection_name AS "collectionName", state, progress, reason, created_at AS "createdAt"
         FROM import_jobs WHERE ${where} ORDER BY created_at DESC, job_id DESC LIMIT ${limit} OFFSET ${offset}`,
      params,
    ),
    gw.db.query(`SELECT count(*)::text AS n FROM import_jobs WHERE ${where}`, params),
  ]);
}

async function runList(): Promise<void> {
  const jobs = Number(process.env.BENCH_LIST_JOBS ?? 1_000_000);
  const collections = Number(process.env.BENCH_LIST_COLLECTIONS ?? 20);
  const requests = Number(process.env.BENCH_LIST_REQUESTS ?? 200);
  const gw = new Gateway();
  try {
    await gw.start();
    const t0 = performance.now();
    await generateJobs(gw, jobs, collections);
    const size = await gw.db.query<{ s: string }>(
      `SELECT pg_size_pretty(pg_total_relation_size('import_jobs') + pg_total_relation_size('import_job_files')) AS s`,
    );
    out(
      `list/describe: ${jobs.toLocaleString('en-US')} jobs over ${collections} collections generated in ${((performance.now() - t0) / 1000).toFixed(0)} s (job tables ${size.rows[0]!.s}); load ${load()}`,
    );
    const repo = new ImportJobsRepository(gw.db);
    const listJobs = new ListImportJobs(repo); // the API's use-case: count first on deep pages
    const perCollection = Math.floor(jobs / collections);
    const lastPage = Math.ceil(perCollection / 100);
    const cases: {
      name: string;
      body: Record<string, unknown>;
      old?: [string, unknown[], number];
    }[] = [
      {
        name: 'collection, page 1',
        body: { collectionName: 'c07', pageSize: 100, currentPage: 1 },
        old: [`db_name = 'default' AND collection_name = 'c07'`, [], 0],
      },
      {
        name: 'collection, page 50',
        body: { collectionName: 'c07', pageSize: 100, currentPage: 50 },
        old: [`db_name = 'default' AND collection_name = 'c07'`, [], 4900],
      },
      {
        name: `collection, last page (${lastPage})`,
        body: { collectionName: 'c07', pageSize: 100, currentPage: lastPage },
        old: [`db_name = 'default' AND collection_name = 'c07'`, [], (lastPage - 1) * 100],
      },
      {
        name: 'collection, state=Completed, page 50',
        body: { collectionName: 'c07', state: 'Completed', pageSize: 100, currentPage: 50 },
        old: [`db_name = 'default' AND collection_name = 'c07' AND state = 'Completed'`, [], 4900],
      },
      {
        name: 'collection, state=Failed (Failed+Cancelled), page 1',
        body: { collectionName: 'c07', state: 'Failed', pageSize: 100, currentPage: 1 },
        old: [`db_name = 'default' AND collection_name = 'c07' AND state = ANY('{Failed,Cancelled}')`, [], 0],
      },
      {
        name: 'collection, state=Failed, page 20',
        body: { collectionName: 'c07', state: 'Failed', pageSize: 100, currentPage: 20 },
        old: [`db_name = 'default' AND collection_name = 'c07' AND state = ANY('{Failed,Cancelled}')`, [], 1900],
      },
      {
        name: 'collection, states=[Pending,Importing]',
        body: { collectionName: 'c07', states: ['Pending', 'Importing'], pageSize: 100 },
      },
      { name: 'database, page 1', body: { pageSize: 100, currentPage: 1 }, old: [`db_name = 'default'`, [], 0] },
      { name: 'database, page 50', body: { pageSize: 100, currentPage: 50 }, old: [`db_name = 'default'`, [], 4900] },
      {
        name: 'collection, createdAfter/Before (one day)',
        body: {
          collectionName: 'c07',
          createdAfter: '2026-01-03T00:00:00Z',
          createdBefore: '2026-01-04T00:00:00Z',
          pageSize: 100,
        },
      },
    ];
    for (const c of cases) {
      const times: number[] = [];
      for (let i = 0; i < requests; i++) {
        const r = await post(gw.url, gw.apiKey, '/v2/vectordb/jobs/import/list', c.body);
        if (r.body.code !== 0) throw new Error(`${c.name}: ${JSON.stringify(r.body)}`);
        times.push(r.ms);
      }
      let line = `  list ${c.name}: p50 ${ms(pct(times, 50))} ms, p99 ${ms(pct(times, 99))} ms (HTTP, ${requests} requests)`;
      if (c.old !== undefined) {
        const [where, params, offset] = c.old;
        const oldTimes: number[] = [];
        const newTimes: number[] = [];
        const filter = filterOf(c.body);
        for (let i = 0; i < Math.min(requests, 40); i++) {
          let t = performance.now();
          await oldList(gw, where, params, 100, offset);
          oldTimes.push(performance.now() - t);
          t = performance.now();
          await listJobs.execute({ ...filter, page: { size: 100, current: offset / 100 + 1 } });
          newTimes.push(performance.now() - t);
        }
        const [o, n] = [pct(oldTimes, 50), pct(newTimes, 50)];
        line += ` | SQL alone p50: previous ${ms(o)} ms, new ${ms(n)} ms, previous/new ${(o / n).toFixed(1)}×`;
      }
      out(line);
    }
    const times: number[] = [];
    for (let i = 0; i < requests; i++) {
      const id = 1 + Math.floor(Math.random() * jobs);
      const r = await post(gw.url, gw.apiKey, '/v2/vectordb/jobs/import/describe', {
        jobId: `j${String(id).padStart(9, '0')}`,
      });
      if (r.body.code !== 0) throw new Error(`describe: ${JSON.stringify(r.body)}`);
      times.push(r.ms);
    }
    out(`  describe (random job): p50 ${ms(pct(times, 50))} ms, p99 ${ms(pct(times, 99))} ms; load ${load()}`);
  } finally {
    await gw.close();
  }
}

/** PostgreSQL transactions of the scratch database so far (each autocommit statement is one). */
async function pgTransactions(gw: Gateway): Promise<number> {
  const r = await gw.db.query<{ n: string }>(
    `SELECT (xact_commit + xact_rollback)::text AS n FROM pg_stat_database WHERE datname = current_database()`,
  );
  return Number(r.rows[0]?.n ?? 0);
}

/** Commands Redis has run (all clients: the bench is alone on it). */
async function redisCommands(redis: Redis): Promise<number> {
  const m = /total_commands_processed:(\d+)/.exec(await redis.info('stats'));
  return Number(m?.[1] ?? 0);
}

/**
 * Transactions the API's idle connections have not reported yet reach pg_stat_database within
 * PostgreSQL's idle flush interval (10 s): wait until the count stops moving.
 */
async function settledPgTransactions(gw: Gateway): Promise<number> {
  let last = await pgTransactions(gw);
  for (let waited = 0; waited < 12_000; waited += 2_000) {
    await new Promise((r) => setTimeout(r, 2_000));
    const now = await pgTransactions(gw);
    if (now === last && waited >= 10_000) break;
    last = now;
  }
  return last;
}

interface CreateRun {
  rps: number;
  p50: number;
  p99: number;
  cpu: number;
  /** CPU seconds of PostgreSQL's processes and of this bench process (the client) during the run. */
  pgCpu: number;
  clientCpu: number;
  /** PostgreSQL transactions and Redis commands per create (round trips the path costs). */
  pgPerCreate: number;
  redisPerCreate: number;
}

async function createRun(env: NodeJS.ProcessEnv): Promise<CreateRun> {
  const requests = Number(process.env.BENCH_CREATE_REQUESTS ?? 20_000);
  const collections = Number(process.env.BENCH_CREATE_COLLECTIONS ?? 20);
  const inflight = Number(process.env.BENCH_CREATE_INFLIGHT ?? 64);
  const gw = new Gateway(env);
  try {
    await gw.start();
    const names = Array.from({ length: collections }, (_, i) => `bc${i}`);
    for (const n of names) await gw.call('/v2/vectordb/collections/create', { collectionName: n, dimension: 4 });
    // Warm-up (JIT, pools), not counted.
    for (let i = 0; i < 200; i++) {
      await post(gw.url, gw.apiKey, '/v2/vectordb/jobs/import/create', {
        collectionName: names[i % collections],
        objectUrl: `s3://bench-bucket/w${i}.json`,
      });
    }
    const redis = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
    const pg0 = await settledPgTransactions(gw);
    const redis0 = await redisCommands(redis);
    const cpu0 = gw.apiCpuSeconds();
    const pgCpu0 = postgresCpuSeconds();
    const client0 = process.cpuUsage();
    const times: number[] = [];
    let next = 0;
    let failed = 0;
    let firstFailure = '';
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: inflight }, async () => {
        while (next < requests) {
          const i = next++;
          const r = await post(gw.url, gw.apiKey, '/v2/vectordb/jobs/import/create', {
            collectionName: names[i % collections],
            objectUrl: `s3://bench-bucket/${i}.json`,
          });
          if (r.body.code !== 0 && failed++ === 0) firstFailure = JSON.stringify(r.body);
          times.push(r.ms);
        }
      }),
    );
    const seconds = (performance.now() - t0) / 1000;
    if (failed > 0) throw new Error(`${failed} creates failed, the first: ${firstFailure}`);
    const cpu = gw.apiCpuSeconds() - cpu0;
    const pgCpu = postgresCpuSeconds() - pgCpu0;
    const client = process.cpuUsage(client0);
    const redisPerCreate = ((await redisCommands(redis)) - redis0 - 1) / requests;
    redis.disconnect();
    const pgPerCreate = ((await settledPgTransactions(gw)) - pg0) / requests;
    return {
      rps: requests / seconds,
      p50: pct(times, 50),
      p99: pct(times, 99),
      cpu,
      pgCpu,
      clientCpu: (client.user + client.system) / 1e6,
      pgPerCreate,
      redisPerCreate,
    };
  } finally {
    await gw.close();
  }
}

async function runCreate(): Promise<void> {
  const requests = Number(process.env.BENCH_CREATE_REQUESTS ?? 20_000);
  out(
    `create: ${requests.toLocaleString('en-US')} creates, ${process.env.BENCH_CREATE_INFLIGHT ?? 64} in flight; load ${load()}`,
  );
  const line = (name: string, r: CreateRun) =>
    out(
      `  ${name}: ${r.rps.toFixed(0)} req/s, p50 ${ms(r.p50)} ms, p99 ${ms(r.p99)} ms, CPU per create: API ${((r.cpu * 1000) / requests).toFixed(2)} ms, ` +
        `PostgreSQL ${((r.pgCpu * 1000) / requests).toFixed(2)} ms, client ${((r.clientCpu * 1000) / requests).toFixed(2)} ms; ` +
        `PostgreSQL transactions ${r.pgPerCreate.toFixed(2)}/create, Redis commands ${r.redisPerCreate.toFixed(2)}/create; load ${load()}`,
    );
  const before = await createRun({ IMPORT_ADMISSION_BATCH: '1', API_KEY_CACHE_MS: '0' });
  line('previous path (one transaction per create, key looked up per request)', before);
  const after = await createRun({});
  line('grouped admission + key cache (defaults)', after);
  out(
    `  new/previous: ${(after.rps / before.rps).toFixed(2)}× req/s, p99 ${(before.p99 / after.p99).toFixed(2)}× lower`,
  );
}

async function main(): Promise<void> {
  const what = process.argv[2] ?? 'all';
  if (what === 'create' || what === 'all') await runCreate();
  if (what === 'list' || what === 'all') await runList();
  agent.destroy();
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
