import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

/**
 * package.json against the code (decision 1720): packages whose internals we use are pinned to
 * the version those uses were checked against, and what the API, worker and CLI load at run time
 * is in `dependencies` (the image runs `npm prune --omit=dev`).
 */
const root = resolve(__dirname, '..', '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as {
  packages: Record<string, { version?: string }>;
};

/**
 * Packages whose undocumented internals (deep imports, Redis keys, private fields) or exact
 * behaviour our code depends on. Before bumping one, re-check every place listed, then update
 * the pin in package.json (exact version, no range) and this table.
 */
const INTERNALS: Record<string, { files: string[]; what: string }> = {
  hyparquet: {
    files: [
      'libs/formats/src/parquet-pages.ts',
      'libs/formats/src/parquet-levels.ts',
      'libs/formats/src/parquet-levels.spec.ts',
      'libs/formats/src/parquet-pages.spec.ts',
      'tsconfig.json',
    ],
    what:
      'deep imports of hyparquet/src/{assemble,column,convert,datapage,delta,encoding,plain,schema}.js ' +
      "(page decoder, Dremel assembly, parsers), typed through tsconfig's 'hyparquet/src/*' path to " +
      'node_modules/hyparquet/types; parquet-pages.ts mirrors readDataPage/readDataPageV2 and the ' +
      "column-chunk planner; parquet-levels.ts must give the same results as hyparquet's RLE/bit-packed decoder",
  },
  'hyparquet-compressors': {
    files: ['libs/formats/src/bounded-decompress.ts'],
    what:
      'the declared-size bound (decision 0801) relies on how its decoders allocate: hysnappy (its exact ' +
      'dependency) writes the preamble length whatever room it is given, the LZ4 decoders drop writes ' +
      'past the declared length',
  },
  fzstd: {
    files: ['libs/formats/src/bounded-decompress.ts', 'libs/formats/src/parquet-pages.ts'],
    what:
      'ZstdFrameWalker checks frames before fzstd sees them because fzstd allocates each frame’s declared ' +
      'window/content size; the stream decoder (Decompress) calls back per chunk',
  },
  bullmq: {
    files: [
      'libs/jobs/src/queues/import/ready-set.ts',
      'libs/jobs/src/queues/import/import-queue.ts',
      'libs/jobs/src/queues/import/dispatcher.ts',
    ],
    what:
      "Lua and pipelines reading BullMQ's Redis keys <prefix>:<queue>:wait|prioritized|active|delayed|meta, " +
      "the meta hash's 'concurrency' field, the delayed score (timestamp * 0x1000) and the job hash's " +
      "'timestamp'; Worker's backend-factory argument (createRedisBackend, withBlockingConnection: false), " +
      'manual processing (getNextJob/moveToCompleted/moveToFailed with a token, extendJobLocks, ' +
      'startStalledCheckTimer) and job.deferredFailure',
  },
  'pg-copy-streams': {
    files: ['libs/sink/src/copy.ts'],
    what:
      "CopyStreamInternals: the private 'chunks' queue, '_destroy' (replaced so no CopyFail goes to a dead " +
      "connection) and 'connection' (pg's Connection, whose socket's writableLength says when written parts are sent)",
  },
};

function installedVersion(name: string): string {
  return (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
    .version;
}

describe('packages whose internals we use', () => {
  for (const [name, { files, what }] of Object.entries(INTERNALS)) {
    const recheck = `${name}: ${files.join(', ')} depend on its internals (${what}); re-check them before changing its version`;

    it(`${name} is pinned to one exact version, installed and locked`, () => {
      const spec = pkg.dependencies[name];
      expect(spec, `${name} must be a production dependency`).toBeDefined();
      expect(spec, `pin ${name} exactly (no ^ or ~). ${recheck}`).toMatch(/^\d+\.\d+\.\d+$/);
      expect(lock.packages[`node_modules/${name}`]?.version, `package-lock.json disagrees. ${recheck}`).toBe(spec);
      expect(installedVersion(name), `node_modules has another ${name}: run npm ci. ${recheck}`).toBe(spec);
    });

    it(`${name}: the files listed as using its internals still exist and use it`, () => {
      for (const f of files) {
        expect(existsSync(join(root, f)), `${f} (listed for ${name}) is gone: update INTERNALS`).toBe(true);
        expect(readFileSync(join(root, f), 'utf8'), `${f} no longer mentions ${name}: update INTERNALS`).toContain(
          name,
        );
      }
    });
  }

  it('every deep import of a package (pkg/sub/path) is in a file listed above for that package', () => {
    const deep: string[] = [];
    for (const file of tsFiles(['apps', 'libs', 'scripts'])) {
      for (const { spec } of moduleSpecifiers(file)) {
        const name = packageName(spec);
        if (name === null || spec === name) continue;
        if (!(INTERNALS[name]?.files.includes(relative(root, file)) ?? false))
          deep.push(`${relative(root, file)}: ${spec}`);
      }
    }
    expect(deep, 'deep imports reach into internals: pin the package and list the file in INTERNALS').toEqual([]);
  });
});

/** Entry points of what the image runs (package.json scripts and the parse threads' file). */
const RUNTIME_ENTRIES = [
  'scripts/start-all.ts',
  'scripts/apikey.ts',
  'apps/api/src/main.ts',
  'apps/worker/src/main.ts',
  'apps/cli/src/main.ts',
  'libs/db/src/migrate-cli.ts',
  'libs/jobs/src/pipeline/parse-thread.ts',
];

describe('a production install (devDependencies omitted)', () => {
  it('has every package the API, worker and CLI import at run time', () => {
    const missing: string[] = [];
    const seen = new Set<string>();
    const queue = RUNTIME_ENTRIES.map((f) => join(root, f));
    while (queue.length > 0) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      for (const { spec, typeOnly } of moduleSpecifiers(file)) {
        if (typeOnly) continue;
        const local = resolveLocal(file, spec);
        if (local !== null) {
          queue.push(local);
          continue;
        }
        const name = packageName(spec);
        if (name === null || name in pkg.dependencies) continue;
        missing.push(
          `${relative(root, file)} imports ${spec}${name in pkg.devDependencies ? ' (a devDependency)' : ''}`,
        );
      }
    }
    expect(seen.size).toBeGreaterThan(100); // the walk followed @gw/* and relative imports
    expect([...seen].some((f) => f.includes('/bench/') || f.includes('/test/'))).toBe(false);
    expect(missing).toEqual([]);
  });

  it('keeps bench-only and unused packages out of dependencies', () => {
    for (const name of ['csv-parse', '@streamparser/json']) expect(pkg.devDependencies).toHaveProperty([name]);
    for (const name of ['csv-parse', '@streamparser/json', 'parquet-wasm', 's3rver', '@nestjs/bullmq'])
      expect(pkg.dependencies).not.toHaveProperty([name]);
  });
});

function tsFiles(dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) {
        if (e.name !== 'node_modules' && e.name !== 'generated') walk(p);
      } else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') && !e.name.endsWith('.d.ts')) out.push(p);
    }
  };
  for (const d of dirs) walk(join(root, d));
  return out;
}

/** Module specifiers of a file; `typeOnly` when the compiled JavaScript does not load it. */
function moduleSpecifiers(file: string): { spec: string; typeOnly: boolean }[] {
  const src = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const out: { spec: string; typeOnly: boolean }[] = [];
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const c = node.importClause;
      const named = c?.namedBindings;
      const typeOnly =
        c !== undefined &&
        (c.phaseModifier === ts.SyntaxKind.TypeKeyword ||
          (c.name === undefined &&
            named !== undefined &&
            ts.isNamedImports(named) &&
            named.elements.length > 0 &&
            named.elements.every((e) => e.isTypeOnly)));
      out.push({ spec: node.moduleSpecifier.text, typeOnly });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      const named = node.exportClause;
      const typeOnly =
        node.isTypeOnly ||
        (named !== undefined &&
          ts.isNamedExports(named) &&
          named.elements.length > 0 &&
          named.elements.every((e) => e.isTypeOnly));
      out.push({ spec: node.moduleSpecifier.text, typeOnly });
    } else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require')) &&
      node.arguments[0] !== undefined &&
      ts.isStringLiteral(node.arguments[0])
    ) {
      out.push({ spec: node.arguments[0].text, typeOnly: false });
    } else if (ts.isImportTypeNode(node)) {
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(src);
  return out;
}

const tsconfig = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8')) as {
  compilerOptions: { paths: Record<string, string[]> };
};

/** A relative or @gw/* import as a source file; null for a package. */
function resolveLocal(from: string, spec: string): string | null {
  let base: string;
  if (spec.startsWith('.')) base = resolve(dirname(from), spec);
  else if (spec.startsWith('@gw/')) {
    const target = tsconfig.compilerOptions.paths[spec]?.[0];
    if (target === undefined) throw new Error(`${spec} has no tsconfig path`);
    base = join(root, target);
  } else return null;
  for (const c of [base, `${base}.ts`, join(base, 'index.ts'), base.replace(/\.js$/, '.ts')]) {
    if (existsSync(c) && c.endsWith('.ts')) return c;
  }
  if (spec.startsWith('.') && /\.(json|js|cjs)$/.test(spec) && existsSync(base)) return null;
  throw new Error(`${relative(root, from)}: cannot resolve ${spec}`);
}

/** The npm package a bare specifier names; null for Node's own modules and local paths. */
function packageName(spec: string): string | null {
  if (spec.startsWith('.') || spec.startsWith('/') || spec.startsWith('@gw/')) return null;
  if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) return null;
  const parts = spec.split('/');
  return spec.startsWith('@') ? `${parts[0]}/${parts[1]}` : parts[0]!;
}
