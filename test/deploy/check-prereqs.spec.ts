import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';

/**
 * scripts/check-prereqs.sh, run by .ci/run before `npm ci`, with PATH set to a directory holding
 * only what each case gives it: it names what is missing and how to install it, and exits non-zero.
 */
const root = resolve(__dirname, '..', '..');
const script = join(root, 'scripts', 'check-prereqs.sh');
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** The command's executable; python3's real interpreter (a pyenv shim needs its own PATH). */
function which(cmd: string): string {
  const r =
    cmd === 'python3'
      ? spawnSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' })
      : spawnSync('/bin/sh', ['-c', `command -v ${cmd}`], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} is not installed on this machine`);
  return r.stdout.trim();
}

/** A PATH directory with links to the named commands and the given scripts. */
function binDir(links: string[], scripts: Record<string, string> = {}): string {
  const d = mkdtempSync(join(tmpdir(), 'igw-prereqs-'));
  dirs.push(d);
  for (const c of links) symlinkSync(which(c), join(d, c));
  for (const [name, body] of Object.entries(scripts)) {
    writeFileSync(join(d, name), body);
    chmodSync(join(d, name), 0o755);
  }
  return d;
}

function check(path: string): { status: number | null; stderr: string } {
  const r = spawnSync('/bin/sh', [script], { env: { PATH: path }, encoding: 'utf8' });
  return { status: r.status, stderr: r.stderr };
}

describe('scripts/check-prereqs.sh', () => {
  it('passes silently with python3 (with numpy) and openssl', () => {
    const r = check(binDir(['python3', 'openssl']));
    expect(r).toEqual({ status: 0, stderr: '' });
  });

  it('without python3: fails, naming python3 with numpy and the package to install', () => {
    const r = check(binDir(['openssl']));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('missing what the tests need');
    expect(r.stderr).toContain('python3 with numpy');
    expect(r.stderr).toContain('apt-get install python3 python3-numpy');
    expect(r.stderr).not.toContain('openssl —');
  });

  it('with a python3 that has no numpy: fails, naming numpy', () => {
    const r = check(binDir(['openssl'], { python3: '#!/bin/sh\nexit 1\n' }));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('numpy for python3');
    expect(r.stderr).toContain('apt-get install python3-numpy');
  });

  it('without openssl: fails, naming openssl', () => {
    const r = check(binDir(['python3']));
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('openssl — Debian/Ubuntu: apt-get install openssl');
    expect(r.stderr).not.toContain('python3 with numpy');
  });

  const fakeNpm = { npm: `#!/bin/sh\necho "$@" >> "$(dirname "$0")/npm-ran"\n` };

  it('.ci/run goes on to npm ci and npm test when everything is there (npm faked)', () => {
    const path = binDir(['bash', 'dirname', 'id', 'python3', 'openssl'], fakeNpm);
    const r = spawnSync(join(root, '.ci', 'run'), [], { env: { PATH: path }, encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(readFileSync(join(path, 'npm-ran'), 'utf8')).toBe('ci\ntest\n');
  });

  it('.ci/run stops at the check, before npm ci', () => {
    const path = binDir(['bash', 'dirname', 'id'], fakeNpm);
    const r = spawnSync(join(root, '.ci', 'run'), [], { env: { PATH: path }, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('python3 with numpy');
    expect(r.stderr).toContain('openssl —');
    expect(existsSync(join(path, 'npm-ran')), 'npm ran although prerequisites are missing').toBe(false);
  });
});
