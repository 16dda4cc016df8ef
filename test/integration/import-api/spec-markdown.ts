import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REPO_ROOT } from '@gw/testing';

/**
 * The examples of the contract (`shared/spec/*.md`), read from the markdown at test time so that
 * a changed or added example reaches the test that runs them (decision 1702).
 */
export interface SpecExample {
  /** Stable name: `<file> §<section> request|response`, numbered from the second one on. */
  id: string;
  file: string;
  /** The section heading without its `## ` marker. */
  section: string;
  kind: 'request' | 'response';
  /** Method and path the example is sent to (requests); from the curl line or the section's route. */
  route?: { method: string; path: string };
  /** The body exactly as the spec prints it (newlines kept). */
  text: string;
  /** The answer the spec gives a request (`# {…}` after a curl line, `→ \`{…}\`` after a block). */
  answer?: string;
}

/** The copy of the contract kept in the repository, for machines without `shared/spec` beside it. */
export const VENDORED_SPEC_DIR = resolve(REPO_ROOT, 'test', 'fixtures', 'spec');

/** The contract beside the checkout (README links it as `../shared/spec`), when there is one. */
export function sharedSpecDir(): string | undefined {
  return [resolve(REPO_ROOT, '..', 'shared', 'spec'), resolve(REPO_ROOT, '..', '..', 'shared', 'spec')].find((d) =>
    existsSync(resolve(d, 'import-api.md')),
  );
}

/**
 * `IGW_SPEC_DIR`, else the `shared/spec` beside the checkout, else the copy in test/fixtures/spec
 * (a clean clone on a CI machine has no `shared/` beside it; spec-examples.spec.ts checks the
 * copy equals the shared spec wherever both exist).
 */
export function specDir(): string {
  const dir = process.env.IGW_SPEC_DIR ?? sharedSpecDir() ?? VENDORED_SPEC_DIR;
  if (!existsSync(resolve(dir, 'import-api.md'))) throw new Error(`the spec is not at ${dir}: set IGW_SPEC_DIR`);
  return dir;
}

/** The route a section documents: its heading's first backticked `a/b` path, under /v2/vectordb/. */
function sectionRoute(file: string, section: string): { method: string; path: string } | undefined {
  const m = /`(\/?[A-Za-z_]+\/[A-Za-z_/]+)`/.exec(section);
  if (m === null) return undefined;
  const p = m[1]!;
  if (p.startsWith('/v1/') || p.startsWith('/v2/')) return { method: 'POST', path: p };
  return file === 'collections-api.md' ? { method: 'POST', path: `/v2/vectordb/${p.replace(/^\//, '')}` } : undefined;
}

/** Every fenced example of every spec file: JSON blocks and curl commands (grammar blocks are not examples). */
export function specExamples(dir = specDir()): SpecExample[] {
  const out: SpecExample[] = [];
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith('.md'))
    .sort()) {
    const lines = readFileSync(resolve(dir, file), 'utf8').split('\n');
    let section = '';
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.startsWith('## ')) section = line.slice(3).trim();
      const fence = /^```(\w*)\s*$/.exec(line);
      if (fence === null) continue;
      const lang = fence[1]!;
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) body.push(lines[i]!);
      const sectionNo = /^(\d+)\./.exec(section)?.[1] ?? section;
      const base = { file, section };
      if (lang === 'bash') {
        const cmd = body.join('\n');
        const url = /curl\s+(?:-X\s+(\w+)\s+)?"\$GW(\/[^"?]*)/.exec(cmd);
        const data = /-d\s+'([^']*)'/.exec(cmd);
        if (url === null || data === null) continue;
        const answer = body.find((l) => l.startsWith('# {'))?.slice(2);
        out.push({
          ...base,
          id: `${file} §${sectionNo} request`,
          kind: 'request',
          route: { method: url[1] ?? 'POST', path: url[2]! },
          text: data[1]!,
          ...(answer === undefined ? {} : { answer }),
        });
      } else if (lang === 'json') {
        const text = body.join('\n');
        const isResponse = /^\{"code":/.test(text.trim());
        const after = lines.slice(i + 1).find((l) => l.trim() !== '');
        const answer = after === undefined ? undefined : /^→ `(.*)`$/.exec(after.trim())?.[1];
        const route = sectionRoute(file, section);
        out.push({
          ...base,
          id: `${file} §${sectionNo} ${isResponse ? 'response' : 'request'}`,
          kind: isResponse ? 'response' : 'request',
          ...(route === undefined || isResponse ? {} : { route }),
          text,
          ...(answer === undefined || isResponse ? {} : { answer }),
        });
      }
    }
  }
  // Two examples of one kind in one section: number the later ones.
  const seen = new Map<string, number>();
  return out.map((e) => {
    const n = (seen.get(e.id) ?? 0) + 1;
    seen.set(e.id, n);
    return n === 1 ? e : { ...e, id: `${e.id} ${n}` };
  });
}

/**
 * A body whose array the spec abbreviates (`[0.1,0.2,…]`) with the array completed to `length`
 * values by repeating the ones shown: what a reader fills in before sending it.
 */
export function completeEllipsis(text: string, length: number): string {
  return text.replace(/\[([^[\]]*?),\s*…\s*\]/g, (_m, shown: string) => {
    const values = shown.split(',').map((v) => v.trim());
    return `[${Array.from({ length }, (_, k) => values[k % values.length]).join(',')}]`;
  });
}
