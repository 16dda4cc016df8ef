import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { queuePrefixFor, testEnv } from './index';

export const REPO_ROOT = resolve(__dirname, '..', '..');

/** A TCP port nobody listens on right now (loopback). */
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

export interface RunningProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stop: (signal?: NodeJS.Signals) => Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Runs a compiled entry point (path under dist/) with the given environment, capturing output. */
export function startNode(distFile: string, env: NodeJS.ProcessEnv): RunningProcess {
  return startCommand(process.execPath, [resolve(REPO_ROOT, 'dist', distFile)], env);
}

export function startCommand(cmd: string, args: readonly string[], env: NodeJS.ProcessEnv): RunningProcess {
  const child = spawn(cmd, args, { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((ok) => {
    child.on('exit', (code, signal) => ok({ code, signal }));
  });
  return {
    child,
    output: () => out,
    exited,
    stop: async (signal: NodeJS.Signals = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** Polls `url` until it answers with `status` (or the deadline passes); returns the last body. */
export async function waitForStatus(url: string, status: number, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      last = `${res.status} ${await res.text()}`;
      if (res.status === status) return last;
    } catch (e) {
      last = (e as Error).message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`${url} did not answer ${status} within ${timeoutMs} ms; last: ${last}`);
}

/** The environment a gateway process under test gets: this run's database and Redis prefix. */
export function gatewayEnv(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const keep = ['PATH', 'HOME', 'NODE_OPTIONS', 'TMPDIR', 'LANG'];
  const base: NodeJS.ProcessEnv = {};
  for (const k of keep) if (process.env[k] !== undefined) base[k] = process.env[k];
  const databaseUrl = overrides.DATABASE_URL ?? testEnv().databaseUrl;
  return {
    ...base,
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    REDIS_URL: process.env.REDIS_URL,
    QUEUE_PREFIX: queuePrefixFor(databaseUrl),
    GATEWAY_SECRET_KEY: process.env.GATEWAY_SECRET_KEY,
    LOG_LEVEL: 'info',
    HOST: '127.0.0.1',
    STORAGE_AMBIENT_CREDENTIALS: 'false',
    ...overrides,
  };
}
