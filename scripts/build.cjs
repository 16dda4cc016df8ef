#!/usr/bin/env node
// Compiles apps/, libs/, scripts/ and bench/ TypeScript with SWC (decorator metadata and @gw/*
// path aliases per .swcrc). Type checking is `npm run typecheck`. A tiny script instead of
// @swc/cli, whose dependency tree pulls a binary downloader and packages that require Node 22.
//
// Build once, swap atomically (decision 0701): every `npm run start:*` runs this first, and
// several processes are often started at once from one checkout. So:
//  - the sources are fingerprinted (content hash); when `dist` already points at a complete build
//    of that fingerprint nothing is written (the usual case: ~50 ms);
//  - otherwise the build goes to a private temporary directory, is renamed to `.dist-<hash>`, and
//    `dist` — a symlink — is replaced by rename(2), which is atomic: a process starting at any
//    moment sees the old complete build or the new one, never a half-written or deleted tree;
//  - a running process keeps loading from the build it started with (Node resolves the real
//    path), so the previous builds are kept (KEEP_PREVIOUS) rather than deleted under it.
// Builds live next to `dist` (same depth) so paths that climb from dist/ to the repository work.
'use strict';
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const { join, relative, dirname } = require('node:path');

const root = join(__dirname, '..');
const link = join(root, 'dist');
const roots = ['apps', 'libs', 'scripts', 'bench', 'test/support'];
/** Files served as they are (the dashboard, decision 1011): copied to the same path in the build. */
const assetRoots = ['apps/api/ui'];
/** Inputs besides the sources that change the output. */
const extraInputs = ['.swcrc', 'scripts/build.cjs', 'node_modules/@swc/core/package.json'];
const KEEP_PREVIOUS = 2;
const STALE_TMP_MS = 3_600_000;
const COMPLETE = '.complete';

function* sources(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') yield* sources(p);
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.spec.ts')) {
      yield p;
    }
  }
}

function fingerprint(files) {
  const h = createHash('sha256');
  for (const f of [...files, ...extraInputs.map((p) => join(root, p))].sort()) {
    if (!fs.existsSync(f)) continue;
    h.update(relative(root, f)).update('\0').update(fs.readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

async function compile(files, out) {
  // Loaded only when something is compiled: the native binding is most of an up-to-date run's time.
  const { transformFile } = require('@swc/core');
  let next = 0;
  async function worker() {
    while (next < files.length) {
      const file = files[next++];
      const rel = relative(root, file);
      const target = join(out, rel.replace(/\.ts$/, '.js'));
      const res = await transformFile(file, {
        cwd: root,
        sourceMaps: true,
        // Relative to where the file will be served from (`dist/…`), not the temporary directory.
        sourceFileName: relative(dirname(join(link, rel)), file),
      });
      fs.mkdirSync(dirname(target), { recursive: true });
      fs.writeFileSync(target, `${res.code}\n//# sourceMappingURL=${target.split('/').pop()}.map\n`);
      // Entry points with a shebang (the CLI) are run directly, by npx or a package bin link.
      if (res.code.startsWith('#!')) fs.chmodSync(target, 0o755);
      if (res.map) fs.writeFileSync(`${target}.map`, res.map);
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
}

function currentTarget() {
  try {
    return fs.readlinkSync(link);
  } catch {
    return undefined; // absent, or a plain directory left by an older build script
  }
}

/** Points `dist` at `name` with one rename(2), replacing a previous symlink atomically. */
function swapIn(name) {
  const tmpLink = join(root, `.dist-link-${process.pid}-${randomBytes(3).toString('hex')}`);
  fs.symlinkSync(name, tmpLink);
  for (let attempt = 0; ; attempt++) {
    try {
      fs.renameSync(tmpLink, link);
      return;
    } catch (e) {
      // A real directory named dist (from the build script before this one) cannot be replaced by
      // rename; move it aside once. Another builder may have moved it already (ENOENT).
      if (attempt > 3 || !['EISDIR', 'ENOTEMPTY', 'EEXIST', 'ENOTDIR'].includes(e.code)) throw e;
      try {
        fs.renameSync(link, join(root, `.dist-legacy-${process.pid}-${attempt}`));
      } catch (moveError) {
        if (moveError.code !== 'ENOENT') throw moveError;
      }
    }
  }
}

/** Removes old builds nobody should still start from, keeping the newest few for running processes. */
function collectGarbage(current) {
  const now = Date.now();
  const builds = [];
  for (const e of fs.readdirSync(root, { withFileTypes: true })) {
    if (!e.name.startsWith('.dist-') || e.name === current) continue;
    const p = join(root, e.name);
    try {
      if (e.isSymbolicLink()) {
        if (now - fs.lstatSync(p).mtimeMs > STALE_TMP_MS) fs.rmSync(p, { force: true });
      } else if (e.name.startsWith('.dist-legacy-')) {
        fs.rmSync(p, { recursive: true, force: true });
      } else if (e.name.includes('.tmp-')) {
        if (now - fs.statSync(p).mtimeMs > STALE_TMP_MS) fs.rmSync(p, { recursive: true, force: true });
      } else {
        builds.push({ p, t: fs.statSync(join(p, COMPLETE)).mtimeMs });
      }
    } catch {
      // raced with another builder's clean-up, or an incomplete build: left for a later run
    }
  }
  builds.sort((a, b) => b.t - a.t);
  for (const b of builds.slice(KEEP_PREVIOUS)) fs.rmSync(b.p, { recursive: true, force: true });
}

function* assets(dir) {
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* assets(p);
    else yield p;
  }
}

function copyAssets(files, out) {
  for (const file of files) {
    const target = join(out, relative(root, file));
    fs.mkdirSync(dirname(target), { recursive: true });
    fs.copyFileSync(file, target);
  }
}

async function main() {
  const files = roots.filter((r) => fs.existsSync(join(root, r))).flatMap((r) => [...sources(join(root, r))]);
  const assetFiles = assetRoots.filter((r) => fs.existsSync(join(root, r))).flatMap((r) => [...assets(join(root, r))]);
  const name = `.dist-${fingerprint([...files, ...assetFiles])}`;
  const build = join(root, name);
  if (currentTarget() === name && fs.existsSync(join(build, COMPLETE))) return;

  if (!fs.existsSync(join(build, COMPLETE))) {
    const tmp = `${build}.tmp-${process.pid}-${randomBytes(3).toString('hex')}`;
    await compile(files, tmp);
    copyAssets(assetFiles, tmp);
    fs.writeFileSync(join(tmp, COMPLETE), `${new Date().toISOString()}\n`);
    try {
      fs.renameSync(tmp, build);
    } catch (e) {
      // Another process finished the same build first: its output is identical, use it.
      if (!['ENOTEMPTY', 'EEXIST'].includes(e.code)) throw e;
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }
  swapIn(name);
  collectGarbage(name);
}

main().catch((e) => {
  process.stderr.write(`build failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
