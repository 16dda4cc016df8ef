import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { call, gatewayEnv, REPO_ROOT, type TestGateway } from '@gw/testing';

export const CLI = resolve(REPO_ROOT, 'dist/apps/cli/src/main.js');
export const EXAMPLES = resolve(REPO_ROOT, 'examples/products');

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunningCli {
  pid: number | undefined;
  kill: (signal: NodeJS.Signals) => void;
  stdout: () => string;
  done: Promise<CliRun>;
}

/** Starts the compiled CLI (a separate process, as a user runs it) against `gw`. */
export function startCli(gw: TestGateway, args: readonly string[], env: NodeJS.ProcessEnv = {}): RunningCli {
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: REPO_ROOT,
    env: gatewayEnv({ DATABASE_URL: gw.config.databaseUrl, IMPORT_GATEWAY_URL: gw.url, ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<CliRun>((ok) => child.on('close', (code, signal) => ok({ code, signal, stdout, stderr })));
  return { pid: child.pid, kill: (s) => child.kill(s), stdout: () => stdout, done };
}

/** Runs the CLI to its end (asynchronously: the API under test lives in this process). */
export function cli(gw: TestGateway, args: readonly string[], env: NodeJS.ProcessEnv = {}): Promise<CliRun> {
  return startCli(gw, args, env).done;
}

/** Creates the example collection under `name` (collection.json with the name replaced). */
export async function createExampleCollection(gw: TestGateway, key: string, name: string): Promise<void> {
  const body = JSON.parse(readFileSync(resolve(EXAMPLES, 'collection.json'), 'utf8')) as Record<string, unknown>;
  const res = await call(gw, 'POST', '/v2/vectordb/collections/create', {
    key,
    body: { ...body, collectionName: name },
  });
  if (res.body.code !== 0) throw new Error(`collections/create failed: ${res.text}`);
}

export async function rowCount(gw: TestGateway, key: string, name: string): Promise<number> {
  const res = await call(gw, 'POST', '/v2/vectordb/collections/get_stats', { key, body: { collectionName: name } });
  return (res.body.data as { rowCount: number }).rowCount;
}
