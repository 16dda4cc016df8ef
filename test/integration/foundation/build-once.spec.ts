import { type ChildProcess, spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate } from '@gw/db';
import { createScratchDatabase, gatewayEnv, REPO_ROOT } from '@gw/testing';

/**
 * `npm run start:worker` four times at once from one checkout (issue #17.6): each prestart runs the
 * build; before build-once, one build's rmSync(dist) pulled modules from under another process
 * (`Cannot find module`). A fresh copy of the sources (no dist yet) makes every start build.
 */
const CHECKOUT_PARTS = ['apps', 'libs', 'scripts', 'bench', 'test/support', 'prisma', 'package.json', '.swcrc'];

interface Started {
  child: ChildProcess;
  output: () => string;
}

let checkout: string;
let scratch: { url: string; drop: () => Promise<void> };
const started: Started[] = [];

function startWorker(): Started {
  const child = spawn('npm', ['run', 'start:worker'], {
    cwd: checkout,
    // Its own process group, so the test can stop npm and the worker it started together.
    detached: true,
    env: gatewayEnv({ DATABASE_URL: scratch.url, WORKER_PARSE_THREADS: '0', WORKER_CONCURRENCY: '1' }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const s = { child, output: () => out };
  started.push(s);
  return s;
}

/** Waits until every worker logged that it started; fails at once when one exits instead. */
async function allUp(workers: Started[]): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (const w of workers) {
    while (!w.output().includes('import-gateway worker started')) {
      if (w.child.exitCode !== null) throw new Error(`worker exited with ${w.child.exitCode}:\n${w.output()}`);
      if (Date.now() > deadline) throw new Error(`worker did not start within 60 s:\n${w.output()}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }
}

describe('starting several processes from one checkout', () => {
  beforeAll(async () => {
    checkout = mkdtempSync(join(tmpdir(), 'igw-checkout-'));
    for (const part of CHECKOUT_PARTS) cpSync(join(REPO_ROOT, part), join(checkout, part), { recursive: true });
    symlinkSync(join(REPO_ROOT, 'node_modules'), join(checkout, 'node_modules'));
    scratch = await createScratchDatabase();
    await migrate(scratch.url);
  });

  afterAll(async () => {
    for (const s of started) {
      try {
        if (s.child.pid !== undefined) process.kill(-s.child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(checkout, { recursive: true, force: true });
    await scratch.drop();
  });

  it('four workers started at once on a fresh checkout all come up and stay up', async () => {
    const first = [startWorker(), startWorker(), startWorker(), startWorker()];
    await allUp(first);
    await new Promise((r) => setTimeout(r, 1_000));
    for (const w of first) {
      expect(w.child.exitCode, w.output()).toBeNull();
      expect(w.output()).not.toContain('Cannot find module');
    }
    // dist is a symlink to one complete build
    const target = readlinkSync(join(checkout, 'dist'));
    expect(target).toMatch(/^\.dist-[0-9a-f]{16}$/);
    expect(existsSync(join(checkout, target, '.complete'))).toBe(true);
  }, 120_000);

  it('a source change rebuilds once for four new workers while the running ones keep going', async () => {
    const before = readlinkSync(join(checkout, 'dist'));
    const main = join(checkout, 'apps/worker/src/main.ts');
    writeFileSync(main, `${readFileSync(main, 'utf8')}\n// changed by build-once.spec.ts\n`);
    const second = [startWorker(), startWorker(), startWorker(), startWorker()];
    await allUp(second);
    const after = readlinkSync(join(checkout, 'dist'));
    expect(after).not.toBe(before);
    expect(readFileSync(join(checkout, 'dist/apps/worker/src/main.js'), 'utf8')).toContain('changed by build-once');
    await new Promise((r) => setTimeout(r, 1_000));
    for (const w of started) expect(w.child.exitCode, w.output()).toBeNull();
    // the previous build stays for the processes still running from it; no temporary directories remain
    expect(existsSync(join(checkout, before, '.complete'))).toBe(true);
    expect(readdirSync(checkout).filter((n) => n.includes('.tmp-') || n.startsWith('.dist-link-'))).toEqual([]);
  }, 120_000);

  it('an unchanged checkout does not rebuild', async () => {
    const target = readlinkSync(join(checkout, 'dist'));
    const stamp = readFileSync(join(checkout, target, '.complete'), 'utf8');
    const r = spawn('npm', ['run', 'build', '--silent'], { cwd: checkout, env: gatewayEnv(), stdio: 'ignore' });
    await new Promise((ok) => r.on('exit', ok));
    expect(readlinkSync(join(checkout, 'dist'))).toBe(target);
    expect(readFileSync(join(checkout, target, '.complete'), 'utf8')).toBe(stamp);
  });
});
