/**
 * Unauthenticated upload flood (issue 13, point 2): the real API process from dist/ on loopback,
 * a scratch database, and FLOOD_CLIENTS (200) parallel uploads that each declare a 64 MiB body
 * and stream it without a key, replaced as they end, for FLOOD_SECONDS (20). Meanwhile one client
 * with a key calls `list` in a loop. Prints the API's peak RSS (VmHWM) before and after, and the
 * authenticated latency during the flood against the same calls measured before it (the baseline).
 *
 *   npm run build && node dist/bench/auth-flood.js
 *
 * env: FLOOD_CLIENTS (200), FLOOD_SECONDS (20), FLOOD_BODY_MIB (64), BENCH_DATABASE_URL /
 *      DATABASE_URL (admin URL of the server), BENCH_REDIS_URL / REDIS_URL, FLOOD_API_DIST (the dist/
 *      directory whose API to run, e.g. an older build for comparison; default this one).
 * Against a build that buffers bodies before auth, keep FLOOD_CLIENTS small: each upload costs 64 MiB.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer } from 'node:net';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import pg from 'pg';
import { ApiKeysRepository, migrate } from '@gw/db';

const DIST = resolve(__dirname, '..');
const ADMIN_URL =
  process.env.BENCH_DATABASE_URL ?? process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const CLIENTS = Number(process.env.FLOOD_CLIENTS ?? 200);
const SECONDS = Number(process.env.FLOOD_SECONDS ?? 20);
const BODY = Number(process.env.FLOOD_BODY_MIB ?? 64) * 2 ** 20;
const CHUNK = Buffer.alloc(2 ** 20, 0x20); // one MiB, written again and again: the client holds no body

const out = (s: string) => process.stdout.write(`${s}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const mb = (bytes: number): string => (bytes / 2 ** 20).toFixed(0);

async function freePort(): Promise<number> {
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

function vmHwmBytes(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m === null ? NaN : Number(m[1]) * 1024;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
}

/** One upload without a key: resolves with the status it got, or 'reset' when the socket closed first. */
function upload(port: number, agent: Agent): Promise<number | 'reset'> {
  return new Promise((ok) => {
    let done = false;
    const finish = (v: number | 'reset') => {
      if (!done) {
        done = true;
        ok(v);
      }
    };
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path: '/v2/vectordb/jobs/import/create',
        method: 'POST',
        agent,
        headers: { 'content-type': 'application/json', 'content-length': String(BODY) },
      },
      (res) => {
        res.resume();
        res.on('end', () => finish(res.statusCode ?? 0));
        res.on('error', () => finish(res.statusCode ?? 0));
      },
    );
    req.on('error', () => finish('reset'));
    let written = 0;
    const pump = () => {
      while (written < BODY && !req.destroyed) {
        written += CHUNK.length;
        if (!req.write(CHUNK)) {
          req.once('drain', pump);
          return;
        }
      }
      if (!req.destroyed) req.end();
    };
    pump();
  });
}

async function timedList(url: string, key: string): Promise<number> {
  const t0 = performance.now();
  const res = await fetch(`${url}/v2/vectordb/jobs/import/list`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: '{"pageSize":10}',
  });
  const body = (await res.json()) as { code: number };
  if (res.status !== 200 || body.code !== 0) throw new Error(`list: HTTP ${res.status} ${JSON.stringify(body)}`);
  return performance.now() - t0;
}

async function latencies(url: string, key: string, until: () => boolean): Promise<number[]> {
  const ms: number[] = [];
  while (!until()) {
    ms.push(await timedList(url, key));
    await sleep(50);
  }
  return ms.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const dbName = `igw_bench_flood_${randomBytes(4).toString('hex')}`;
  const adminUrl = new URL(ADMIN_URL);
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${dbName}"`);
  adminUrl.pathname = `/${dbName}`;
  const databaseUrl = adminUrl.toString();
  let api: ChildProcess | undefined;
  try {
    await migrate(databaseUrl);
    const db = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    const key = (await new ApiKeysRepository(db).create({ name: 'bench', scopes: ['admin'] })).key;
    await db.end();
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const apiDist = process.env.FLOOD_API_DIST ?? DIST;
    api = spawn(process.execPath, [join(apiDist, 'apps/api/src/main.js')], {
      cwd: resolve(apiDist, '..'),
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        NODE_ENV: 'production',
        DATABASE_URL: databaseUrl,
        REDIS_URL,
        QUEUE_PREFIX: `igwbench-${dbName}`,
        GATEWAY_SECRET_KEY: randomBytes(32).toString('hex'),
        LOG_LEVEL: 'warn',
        HOST: '127.0.0.1',
        PORT: String(port),
      },
    });
    api.stdout?.resume();
    api.stderr?.resume();
    const pid = api.pid!;
    for (let i = 0; ; i++) {
      try {
        if ((await fetch(`${url}/health/live`)).status === 200) break;
      } catch {
        /* not listening yet */
      }
      if (i > 300) throw new Error('the API did not start within 30 s');
      await sleep(100);
    }

    const warm = Date.now() + 3_000;
    await latencies(url, key, () => Date.now() > warm); // JIT and pool warm-up, not counted
    const baseEnd = Date.now() + 5_000;
    const base = await latencies(url, key, () => Date.now() > baseEnd);
    const rssBefore = vmHwmBytes(pid);

    // The flood runs in its own process, so its sockets never delay the measuring client's event loop.
    const flood = spawn(process.execPath, [__filename, 'flood', String(port)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, FLOOD_SECONDS: String(SECONDS) },
    });
    let floodOut = '';
    flood.stdout?.on('data', (d: Buffer) => (floodOut += d.toString()));
    const floodDone = new Promise<void>((ok) => flood.once('exit', () => ok()));
    const floodEnd = Date.now() + SECONDS * 1000;
    await sleep(1_000); // every flooder connected
    const during = await latencies(url, key, () => Date.now() > floodEnd);
    await floodDone;
    const statuses = floodOut.trim();
    const rssAfter = vmHwmBytes(pid);

    const p = (xs: number[], q: number) => quantile(xs, q).toFixed(1);
    out(
      `auth flood ${CLIENTS} × ${mb(BODY)} MiB unauthenticated uploads for ${SECONDS} s ` +
        `(load ${loadavg()[0]!.toFixed(2)}, 2 cores shared)`,
    );
    out(`  uploads answered: ${statuses}`);
    out(`  API peak RSS (VmHWM): ${mb(rssBefore)} MB before, ${mb(rssAfter)} MB after (target < 300 MB)`);
    out(
      `  authenticated list latency: before p50 ${p(base, 0.5)} ms p99 ${p(base, 0.99)} ms (${base.length} calls); ` +
        `during p50 ${p(during, 0.5)} ms p99 ${p(during, 0.99)} ms max ${p(during, 1)} ms (${during.length} calls)`,
    );
    out(`  during/before p50 = ${(quantile(during, 0.5) / quantile(base, 0.5)).toFixed(2)}`);
  } finally {
    api?.kill('SIGKILL');
    await sleep(200);
    await admin.query(`DROP DATABASE IF EXISTS "${dbName}" WITH (FORCE)`).catch(() => undefined);
    await admin.end();
  }
}

/** The child: CLIENTS uploads at a time, each replaced as it ends, for SECONDS; prints the tally. */
async function floodChild(port: number): Promise<void> {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  const statuses = new Map<string, number>();
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (Date.now() < end) {
        const s = String(await upload(port, agent));
        statuses.set(s, (statuses.get(s) ?? 0) + 1);
      }
    }),
  );
  out([...statuses].map(([s, n]) => `${s}: ${n}`).join(', '));
}

(process.argv[2] === 'flood' ? floodChild(Number(process.argv[3])) : main()).catch((e: unknown) => {
  process.stderr.write(`auth-flood: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
