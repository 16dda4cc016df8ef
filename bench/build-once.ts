import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * Build once (decision 0701): what `npm run start:*` pays for its prebuild when nothing changed,
 * against a full build after a source edit, on a private copy of the sources (the checkout's own
 * dist is not touched). Prints medians and their ratio.
 */
const root = resolve(__dirname, '..', '..'); // dist/bench → repo
const parts = ['apps', 'libs', 'scripts', 'bench', 'test/support', 'prisma', 'package.json', '.swcrc'];
const FULL_RUNS = 5;
const NOOP_RUNS = 9;

const checkout = mkdtempSync(join(tmpdir(), 'igw-bench-build-'));
try {
  for (const p of parts) cpSync(join(root, p), join(checkout, p), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(checkout, 'node_modules'));
  const build = (): number => {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(process.execPath, [join(checkout, 'scripts/build.cjs')], { cwd: checkout, stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`build exited with ${r.status}`);
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const full: number[] = [];
  for (let i = 0; i < FULL_RUNS; i++) {
    appendFileSync(join(checkout, 'apps/api/src/main.ts'), `\n// bench edit ${i}\n`);
    full.push(build());
  }
  const noop: number[] = [];
  for (let i = 0; i < NOOP_RUNS; i++) noop.push(build());
  const f = median(full);
  const n = median(noop);
  console.log(
    `build-once  unchanged ${n.toFixed(0)} ms  full ${f.toFixed(0)} ms (medians of ${NOOP_RUNS} / ${FULL_RUNS})  unchanged/full = ${(n / f).toFixed(2)}`,
  );
} finally {
  rmSync(checkout, { recursive: true, force: true });
}
