import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * Every relative link in the repository's Markdown (README.md, docs/, bench/, examples/, libs/)
 * names a file or directory of the repository, and a `#fragment` names a heading of the Markdown
 * file it points to: a newcomer following the README from a fresh clone never lands on nothing.
 * Links that leave the repository (`../shared/…`) are broken in a clone, so they count as broken.
 */
const root = resolve(__dirname, '..', '..');
const SKIP_DIRS = new Set(['node_modules', '.git', 'dist', '.gateway', 'generated', 'screenshots']);

function markdownFiles(dir = root): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (SKIP_DIRS.has(e.name) || e.name.startsWith('.dist')) continue;
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...markdownFiles(p));
    else if (e.name.endsWith('.md')) out.push(p);
  }
  return out.sort();
}

/** The text outside fenced code blocks and inline code spans, line by line (line numbers kept). */
function proseLines(text: string): string[] {
  let fence: string | null = null;
  return text.split('\n').map((line) => {
    const m = /^\s*(`{3,}|~{3,})/.exec(line);
    if (m !== null) {
      if (fence === null) fence = m[1]!;
      else if (m[1]!.startsWith(fence)) fence = null;
      return '';
    }
    if (fence !== null) return '';
    return line.replace(/(`+)(?:(?!\1).)+\1/g, '');
  });
}

/** Link targets of a Markdown text: inline `[t](target)`, `![a](target)`, references `[x]: target`. */
function links(text: string): { line: number; target: string }[] {
  const out: { line: number; target: string }[] = [];
  proseLines(text).forEach((line, i) => {
    for (const m of line.matchAll(/\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+"[^"]*")?\s*\)/g)) {
      out.push({ line: i + 1, target: m[1]!.replace(/^<|>$/g, '') });
    }
    const ref = /^\s{0,3}\[[^\]]+\]:\s*(\S+)/.exec(line);
    if (ref !== null) out.push({ line: i + 1, target: ref[1]! });
  });
  return out;
}

/** GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function headingIds(text: string): Set<string> {
  const ids = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of proseLines(text.replace(/`/g, ''))) {
    const m = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (m === null) continue;
    const plain = m[1]!.replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1').replace(/<[^>]+>/g, '');
    const base = plain
      .toLowerCase()
      .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    ids.add(n === 0 ? base : `${base}-${n}`);
  }
  return ids;
}

/** What is wrong with one link of `file`, or null when it resolves. */
function brokenLink(file: string, target: string, repoRoot = root): string | null {
  if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('//')) return null; // https:, mailto:
  const hash = target.indexOf('#');
  const pathPart = decodeURIComponent((hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, ''));
  const fragment = hash < 0 ? null : decodeURIComponent(target.slice(hash + 1));
  const dest =
    pathPart === '' ? file : pathPart.startsWith('/') ? join(repoRoot, pathPart) : resolve(dirname(file), pathPart);
  const rel = relative(repoRoot, dest);
  if (rel.startsWith('..') || rel.startsWith(sep)) return `${target} leaves the repository`;
  if (!existsSync(dest)) return `${target} does not exist`;
  if (fragment !== null && fragment !== '' && statSync(dest).isFile() && dest.endsWith('.md')) {
    if (!headingIds(readFileSync(dest, 'utf8')).has(fragment)) return `${target}: no heading #${fragment}`;
  }
  return null;
}

describe('Markdown links', () => {
  it('finds the Markdown a newcomer reads', () => {
    const files = markdownFiles().map((f) => relative(root, f));
    for (const f of ['README.md', 'docs/cli.md', 'bench/RESULTS.md', 'examples/README.md']) expect(files).toContain(f);
    expect(files.some((f) => f.startsWith('docs/decisions/'))).toBe(true);
  });

  it('every relative link names a file of the repository, and a #fragment a heading there', () => {
    const broken: string[] = [];
    let checked = 0;
    for (const file of markdownFiles()) {
      for (const { line, target } of links(readFileSync(file, 'utf8'))) {
        checked++;
        const why = brokenLink(file, target);
        if (why !== null) broken.push(`${relative(root, file)}:${line}: ${why}`);
      }
    }
    expect(checked).toBeGreaterThan(40);
    expect(broken).toEqual([]);
  });

  it('knows a broken link, a link out of the repository and a missing heading when it sees one', () => {
    const readme = join(root, 'README.md');
    expect(brokenLink(readme, 'docs/cli.md')).toBeNull();
    expect(brokenLink(readme, '#set-up')).toBeNull();
    expect(brokenLink(readme, 'docs/api-extensions.md#webhooks')).toBeNull();
    expect(brokenLink(readme, 'https://example.com/x')).toBeNull();
    expect(brokenLink(readme, 'docs/no-such-file.md')).toMatch(/does not exist/);
    expect(brokenLink(readme, '../shared/spec/import-api.md')).toMatch(/leaves the repository/);
    expect(brokenLink(readme, 'docs/cli.md#no-such-heading')).toMatch(/no heading/);
    expect(links('see [a](x.md) and `[b](y.md)`\n```\n[c](z.md)\n```\n[d]: w.md').map((l) => l.target)).toEqual([
      'x.md',
      'w.md',
    ]);
    expect([...headingIds('# Set up\n## `npm start` & more\n## Set up')]).toEqual([
      'set-up',
      'npm-start--more',
      'set-up-1',
    ]);
  });
});
