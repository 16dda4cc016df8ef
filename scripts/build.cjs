#!/usr/bin/env node
// Compiles apps/, libs/, scripts/ and bench/ TypeScript to dist/ with SWC (decorator metadata and
// @gw/* path aliases per .swcrc). Type checking is `npm run typecheck`. A tiny script instead of
// @swc/cli, whose dependency tree pulls a binary downloader and packages that require Node 22.
'use strict';
const { transformFile } = require('@swc/core');
const { mkdirSync, readdirSync, rmSync, writeFileSync, existsSync } = require('node:fs');
const { join, relative, dirname } = require('node:path');

const root = join(__dirname, '..');
const out = join(root, 'dist');
const roots = ['apps', 'libs', 'scripts', 'bench', 'test/support'];

function* sources(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') yield* sources(p);
    } else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') && !e.name.endsWith('.spec.ts')) {
      yield p;
    }
  }
}

async function main() {
  rmSync(out, { recursive: true, force: true });
  const files = roots.filter((r) => existsSync(join(root, r))).flatMap((r) => [...sources(join(root, r))]);
  let next = 0;
  async function worker() {
    while (next < files.length) {
      const file = files[next++];
      const rel = relative(root, file);
      const target = join(out, rel.replace(/\.ts$/, '.js'));
      const res = await transformFile(file, {
        cwd: root,
        sourceMaps: true,
        sourceFileName: relative(dirname(target), file),
      });
      mkdirSync(dirname(target), { recursive: true });
      writeFileSync(target, `${res.code}\n//# sourceMappingURL=${target.split('/').pop()}.map\n`);
      if (res.map) writeFileSync(`${target}.map`, res.map);
    }
  }
  await Promise.all(Array.from({ length: 8 }, worker));
}

main().catch((e) => {
  process.stderr.write(`build failed: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
});
