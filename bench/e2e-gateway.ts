/**
 * The gateway under benchmark: a scratch database (migrated) and a private Redis key prefix, the
 * real API and worker processes from dist/ on 127.0.0.1, removed again by close(). Shared by
 * import-e2e.ts and volumes.ts.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import Redis from 'ioredis';
import pg from 'pg';
import { ApiKeysRepository, migrate } from '@gw/db';
import { STAGING_GROUP_COLUMN } from '@gw/sink';
import { DIM } from './e2e-fixtures';

const DIST = resolve(__dirname, '..'); // dist/bench → dist
const REPO = resolve(DIST, '..');
export const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const POLL_MS = 20;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The 3-field collection of the end-to-end benchmarks (id, 128-d vector, tag). */
export const CREATE_SCHEMA = {
  autoID: false,
  enableDynamicField: false,
  fields: [
    { fieldName: 'id', dataType: 'Int64', isPrimary: true },
    { fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: DIM } },
    { fieldName: 'tag', dataType: 'VarChar', elementTypeParams: { max_length: 64 } },
  ],
};

// ---------------------------------------------------------------- processes

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

/** A compiled entry point of dist/ as a child process, keeping the tail of its output. */
export class Proc {
  readonly child: ChildProcess;
  private text = '';
  readonly exited: Promise<void>;
  constructor(
    readonly name: string,
    distFile: string,
    env: NodeJS.ProcessEnv,
  ) {
    // BENCH_E2E_NODE_ARGS (e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof") profiles the gateway
    // processes; node refuses --cpu-prof in NODE_OPTIONS.
    const nodeArgs = (process.env.BENCH_E2E_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
    this.child = spawn(process.execPath, [...nodeArgs, join(DIST, distFile)], {
      cwd: REPO,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // BENCH_E2E_LOG_DIR keeps each process's whole output (e.g. with --trace-gc) in <dir>/<name>-<pid>.log.
    const logDir = process.env.BENCH_E2E_LOG_DIR;
    const logFile = logDir === undefined ? undefined : join(logDir, `${name}-${this.child.pid ?? 'x'}.log`);
    const keep = (d: Buffer) => {
      this.text = (this.text + d.toString()).slice(-64 * 1024);
      if (logFile !== undefined) appendFileSync(logFile, d);
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((ok) => this.child.once('exit', () => ok()));
  }
  get pid(): number {
    return this.child.pid ?? -1;
  }
  get alive(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }
  output(): string {
    return this.text;
  }
  async waitFor(marker: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!this.text.includes(marker)) {
      if (!this.alive) throw new Error(`${this.name} exited while starting:\n${this.text.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not log "${marker}":\n${this.text.slice(-4000)}`);
      await sleep(50);
    }
  }
  /** Peak resident set of the whole process (all threads), from the kernel's high-water mark. */
  peakRssBytes(): number {
    const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${this.pid}/status`, 'utf8'));
    return m === null ? NaN : Number(m[1]) * 1024;
  }
  /** User + system CPU seconds used so far. */
  cpuSeconds(): number {
    return processCpuSeconds(this.pid);
  }
  async stop(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGTERM');
    const killed = await Promise.race([this.exited.then(() => false), sleep(15_000).then(() => true)]);
    if (killed && this.alive) {
      this.child.kill('SIGKILL');
      await this.exited;
    }
  }
}

// ---------------------------------------------------------------- the gateway under test

export interface JobResult {
  rows: number;
  ms: number;
  firstRowMs: number | null;
  /** First time the job's staging table had a non-empty data file (rows written by the COPY, not yet committed). */
  firstPageMs: number | null;
  /** The job's staging table still existed 3 s after Completed. */
  stagingLeft: boolean;
  /** The job's phase timeline (issue 16 point 7) in ms after its creation: where its time went. */
  phases: string;
}

/** utime + stime of a process in seconds (0 once it is gone). */
function processCpuSeconds(pid: number | string): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in USER_HZ (100 on Linux)
}

/**
 * CPU seconds used so far by the PostgreSQL server's processes on this machine (backends,
 * walwriter, checkpointer…): which side of a COPY bounds a run. Backends that exited in between
 * are not counted, so take it around work done on connections that stay open.
 */
export function postgresCpuSeconds(): number {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let comm: string;
    try {
      comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
    } catch {
      continue;
    }
    if (comm === 'postgres' || comm.startsWith('postgres:')) total += processCpuSeconds(pid);
  }
  return total;
}

const fmtMs = (ms: string | null): string => (ms === null ? '?' : Number(ms).toLocaleString('en-US'));

export class Gateway {
  readonly runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  readonly dbName = `igw_bench_${this.runId}`;
  readonly queuePrefix = `igwbench-${this.runId}`;
  readonly secretKey = randomBytes(32).toString('hex');
  readonly databaseUrl: string;
  db!: pg.Pool;
  private api?: Proc;
  private apiUrl = '';
  private key = '';
  workers: Proc[] = [];
  private dbCreated = false;

  /** `extra`: environment of every gateway process (e.g. VOLUMES_DIR, STORAGE_S3_ENDPOINT). */
  constructor(private readonly extra: NodeJS.ProcessEnv = {}) {
    const u = new URL(ADMIN_URL);
    u.pathname = `/${this.dbName}`;
    this.databaseUrl = u.toString();
  }

  private env(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const k of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'NODE_OPTIONS'])
      if (process.env[k] !== undefined) env[k] = process.env[k];
    for (const [k, v] of Object.entries(process.env)) {
      if (/^(WORKER|IMPORT|COLLECTIONS)_/.test(k)) env[k] = v;
    }
    return {
      ...env,
      NODE_ENV: 'production',
      DATABASE_URL: this.databaseUrl,
      REDIS_URL,
      QUEUE_PREFIX: this.queuePrefix,
      GATEWAY_SECRET_KEY: this.secretKey,
      LOG_LEVEL: 'info',
      HOST: '127.0.0.1',
      STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
      STORAGE_ALLOW_HTTP: 'true',
      STORAGE_AMBIENT_CREDENTIALS: 'false',
      ...this.extra,
      ...extra,
    };
  }

  async start(): Promise<void> {
    const admin = new pg.Client({ connectionString: ADMIN_URL });
    await admin.connect();
    await admin.query(`CREATE DATABASE "${this.dbName}"`);
    await admin.end();
    this.dbCreated = true;
    await migrate(this.databaseUrl);
    this.db = new pg.Pool({ connectionString: this.databaseUrl, max: 3 });
    this.db.on('error', () => undefined);
    this.key = (await new ApiKeysRepository(this.db).create({ name: 'bench', scopes: ['admin'] })).key;
    const port = await freePort();
    this.apiUrl = `http://127.0.0.1:${port}`;
    this.api = new Proc('api', 'apps/api/src/main.js', this.env({ PORT: String(port) }));
    await this.api.waitFor('import-gateway API listening', 30_000);
  }

  async startWorkers(n: number, extra: NodeJS.ProcessEnv = {}): Promise<Proc[]> {
    const started = Array.from(
      { length: n },
      (_, i) => new Proc(`worker ${i + 1}`, 'apps/worker/src/main.js', this.env({ ...extra })),
    );
    this.workers.push(...started);
    await Promise.all(started.map((w) => w.waitFor('import-gateway worker started', 30_000)));
    return started;
  }

  async stopWorkers(): Promise<void> {
    await Promise.all(this.workers.splice(0).map((w) => w.stop()));
  }

  get url(): string {
    return this.apiUrl;
  }

  /** User + system CPU seconds the API process used so far. */
  apiCpuSeconds(): number {
    return this.api?.cpuSeconds() ?? NaN;
  }

  get apiKey(): string {
    return this.key;
  }

  async call(path: string, body: unknown): Promise<unknown> {
    const res = await fetch(`${this.apiUrl}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    const text = await res.text();
    const parsed = JSON.parse(text) as { code: number; data?: unknown };
    if (res.status !== 200 || parsed.code !== 0) throw new Error(`${path}: HTTP ${res.status} ${text}`);
    return parsed.data;
  }

  /** Creates the 3-field collection over the API; returns its vector storage. */
  async createCollection(name: string): Promise<'pgvector' | 'array'> {
    await this.call('/v2/vectordb/collections/create', { collectionName: name, schema: CREATE_SCHEMA });
    const d = (await this.call('/v2/vectordb/collections/describe', { collectionName: name })) as {
      properties: { key: string; value: string }[];
    };
    return d.properties.find((p) => p.key === 'gateway.vectorType')?.value === 'pgvector' ? 'pgvector' : 'array';
  }

  async dropCollection(name: string): Promise<void> {
    await this.call('/v2/vectordb/collections/drop', { collectionName: name });
  }

  /** Creates the job and polls the job table every 20 ms until Completed. */
  /** `source`: the request's file fields (`objectUrls`, or `volumeName` + `dataPaths`). */
  async importJob(collection: string, source: Record<string, unknown>, timeoutMs: number): Promise<JobResult> {
    const before = await this.stagingTables();
    const t0 = performance.now();
    const data = (await this.call('/v2/vectordb/jobs/import/create', {
      collectionName: collection,
      ...source,
    })) as { jobId: string };
    let firstRowMs: number | null = null;
    let firstPageMs: number | null = null;
    for (;;) {
      // Staged pages show in the size of the staging table before the COPY commits (a one-group
      // job COPYs straight into the collection table, so its size counts too). Staging tables are
      // found by their group column (whatever their schema or name); the bench runs one job at a
      // time, so a new one is this job's.
      const r = await this.db.query<{
        state: string;
        reason: string;
        imported_rows: string;
        staged_bytes: string;
      }>(
        `SELECT state, reason, imported_rows::text,
                (SELECT coalesce(sum(pg_relation_size(a.attrelid)), 0)::text FROM pg_attribute a
                  WHERE a.attname = $3 AND NOT a.attisdropped AND a.attrelid <> ALL($2::oid[])
                    AND a.attrelid IN (SELECT oid FROM pg_class WHERE relkind = 'r'))::bigint
                + pg_relation_size(format('%I.%I', 'milvus_default', $4::text)::regclass) AS staged_bytes
           FROM import_jobs WHERE job_id = $1`,
        [data.jobId, before, STAGING_GROUP_COLUMN, collection],
      );
      const now = performance.now() - t0;
      const row = r.rows[0];
      if (row === undefined) throw new Error(`job ${data.jobId} not in import_jobs`);
      if (firstRowMs === null && Number(row.imported_rows) > 0) firstRowMs = now;
      if (firstPageMs === null && Number(row.staged_bytes) > 0) firstPageMs = now;
      if (row.state === 'Completed') {
        // The worker drops its staging table after the publish commits; give it 3 s (outside the timing).
        let stagingLeft = true;
        for (let waited = 0; waited < 3_000 && stagingLeft; waited += 50) {
          stagingLeft = (await this.stagingTables()).some((t) => !before.includes(t));
          if (stagingLeft) await sleep(50);
        }
        return {
          rows: Number(row.imported_rows),
          ms: now,
          firstRowMs,
          firstPageMs,
          stagingLeft,
          phases: await this.phaseTimeline(data.jobId),
        };
      }
      if (row.state === 'Failed' || row.state === 'Cancelled') {
        throw new Error(`job ${data.jobId} ${row.state}: ${row.reason}\n${this.workerTails()}`);
      }
      const dead = this.workers.find((w) => !w.alive);
      if (dead !== undefined) {
        throw new Error(`${dead.name} exited while job ${data.jobId} was ${row.state}:\n${dead.output().slice(-6000)}`);
      }
      if (now > timeoutMs)
        throw new Error(`job ${data.jobId} still ${row.state} after ${timeoutMs} ms\n${this.workerTails()}`);
      await sleep(POLL_MS);
    }
  }

  /**
   * "started 12, listing 14–20, reading 21–2,310, … ms": the job's phase rows in ms after its row was
   * created (the database's clock for both; describe rounds to seconds). No "Completed": completed_at
   * is its transaction's start, which for a one-group job is before the COPY.
   */
  async phaseTimeline(jobId: string): Promise<string> {
    const r = await this.db.query<{ what: string; from_ms: string; to_ms: string | null }>(
      `SELECT * FROM (SELECT 'started' AS what, 0 AS ord, round(extract(epoch FROM j.started_at - j.created_at) * 1000)::text AS from_ms,
              NULL AS to_ms
         FROM import_jobs j WHERE j.job_id = $1
       UNION ALL
       SELECT p.phase, 1, round(extract(epoch FROM p.started_at - j.created_at) * 1000)::text,
              round(extract(epoch FROM p.ended_at - j.created_at) * 1000)::text
         FROM import_job_phases p JOIN import_jobs j ON j.id = p.job_id WHERE j.job_id = $1) t
       ORDER BY ord, from_ms::numeric`,
      [jobId],
    );
    return r.rows
      .map((x) =>
        x.to_ms === null ? `${x.what} ${fmtMs(x.from_ms)}` : `${x.what} ${fmtMs(x.from_ms)}–${fmtMs(x.to_ms)}`,
      )
      .join(', ')
      .concat(' ms');
  }

  /** Staging tables (those with libs/sink's group column) that exist now. */
  async stagingTables(): Promise<string[]> {
    const r = await this.db.query<{ oid: string }>(
      `SELECT a.attrelid::text AS oid FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
        WHERE a.attname = $1 AND NOT a.attisdropped AND c.relkind = 'r'`,
      [STAGING_GROUP_COLUMN],
    );
    return r.rows.map((x) => x.oid);
  }

  workerTails(): string {
    return this.workers.map((w) => `--- ${w.name}:\n${w.output().slice(-3000)}`).join('\n');
  }

  async tableCount(collection: string): Promise<number> {
    const r = await this.db.query<{ n: string }>(`SELECT count(*)::text AS n FROM "milvus_default"."${collection}"`);
    return Number(r.rows[0]!.n);
  }

  /** md5 over every 997th row (id, vector text, tag): equal across tables holding the same rows. */
  async sampleDigest(collection: string): Promise<string> {
    const r = await this.db.query<{ d: string }>(
      `SELECT md5(coalesce(string_agg(id::text || ':' || vector::text || ':' || tag, ',' ORDER BY id), '')) AS d
         FROM "milvus_default"."${collection}" WHERE id % 997 = 0`,
    );
    return r.rows[0]!.d;
  }

  async close(): Promise<void> {
    await this.stopWorkers();
    await this.api?.stop();
    await this.db?.end().catch(() => undefined);
    if (this.dbCreated) {
      const admin = new pg.Client({ connectionString: ADMIN_URL });
      await admin.connect();
      await admin.query(`DROP DATABASE IF EXISTS "${this.dbName}" WITH (FORCE)`);
      await admin.end();
    }
    const redis = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${this.queuePrefix}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length > 0) await redis.del(...keys);
      } while (cursor !== '0');
    } finally {
      redis.disconnect();
    }
  }
}
