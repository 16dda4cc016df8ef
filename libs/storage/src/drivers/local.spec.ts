import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { StorageErrorCode, type StorageError } from '../storage.errors';
import { openLocalWriter } from '../object-writer';
import { openLocalSource } from './local';

let root: string;
let outside: string;
const display = (k: string) => `volume://v/${k}`;

async function failure(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (e) {
    return e as StorageError;
  }
  throw new Error('expected a failure');
}

async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'igw-local-'));
  outside = mkdtempSync(join(tmpdir(), 'igw-local-out-'));
  writeFileSync(join(outside, 'secret.json'), '{"secret":1}');
  mkdirSync(join(root, 'b/c'), { recursive: true });
  writeFileSync(join(root, 'a.json'), '0123456789');
  writeFileSync(join(root, 'a-b.json'), 'x');
  writeFileSync(join(root, 'b/c/d.parquet'), 'pq');
  writeFileSync(join(root, 'b/x.jsonl'), 'j');
  writeFileSync(join(root, 'b/.igw-upload-0000000000000000'), 'partial');
  symlinkSync(join(outside, 'secret.json'), join(root, 'link.json'));
  symlinkSync(outside, join(root, 'linkdir'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('local-file ObjectSource', () => {
  it('lists recursively in key order, skipping hidden names and symlinks', async () => {
    const src = openLocalSource(root, display);
    const keys: string[] = [];
    for await (const s of src.list('')) keys.push(s.key);
    expect(keys).toEqual(['a-b.json', 'a.json', 'b/c/d.parquet', 'b/x.jsonl']);
    const under: string[] = [];
    for await (const s of src.list('b/')) under.push(s.key);
    expect(under).toEqual(['b/c/d.parquet', 'b/x.jsonl']);
  });

  it('reads exact ranges and streams from an offset', async () => {
    const src = openLocalSource(root, display);
    expect((await src.stat('a.json')).size).toBe(10);
    expect(Buffer.from(await src.readRange('a.json', 2, 5)).toString()).toBe('234');
    expect((await collect(src.stream('a.json', 7))).toString()).toBe('789');
  });

  it('refuses symlinks to files and directories outside the root', async () => {
    const src = openLocalSource(root, display);
    expect((await failure(src.stat('link.json'))).message).toBe('access denied: volume://v/link.json');
    expect((await failure(src.stat('linkdir/secret.json'))).message).toBe(
      'access denied: volume://v/linkdir/secret.json',
    );
    expect((await failure(src.stat('../x.json'))).code).toBe(StorageErrorCode.InvalidUrl);
    const listing = async () => {
      for await (const s of src.list('linkdir/')) expect.fail(`listed ${s.key}`);
    };
    expect((await failure(listing())).message).toBe('access denied: volume://v/linkdir/');
  });

  it('fails a read once the file was replaced after its first stat', async () => {
    writeFileSync(join(root, 'swap.json'), 'first');
    const src = openLocalSource(root, display);
    await src.stat('swap.json');
    writeFileSync(join(root, 'swap.tmp'), 'second');
    renameSync(join(root, 'swap.tmp'), join(root, 'swap.json'));
    expect((await failure(src.readRange('swap.json', 0, 3))).code).toBe(StorageErrorCode.ObjectChanged);
  });
});

describe('local ObjectWriter', () => {
  it('writes under a hidden temporary name and renames when complete; a failing body leaves nothing', async () => {
    const w = openLocalWriter(root, display);
    async function* body(): AsyncIterable<Uint8Array> {
      yield Buffer.from('abc');
      yield Buffer.from('def');
    }
    expect(await w.put('new/dir/file.json', body())).toEqual({ size: 6 });
    const src = openLocalSource(root, display);
    expect((await collect(src.stream('new/dir/file.json'))).toString()).toBe('abcdef');
    async function* broken(): AsyncIterable<Uint8Array> {
      yield Buffer.from('abc');
      throw new Error('client went away');
    }
    await expect(w.put('new/dir/broken.json', broken())).rejects.toThrow('client went away');
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(join(root, 'new/dir'))).toEqual(['file.json']);
  });

  it('refuses to write through a symlinked directory', async () => {
    const w = openLocalWriter(root, display);
    async function* body(): AsyncIterable<Uint8Array> {
      yield Buffer.from('x');
    }
    expect((await failure(w.put('linkdir/planted.json', body()))).code).toBe(StorageErrorCode.AccessDenied);
    const { readdirSync } = await import('node:fs');
    expect(readdirSync(outside)).toEqual(['secret.json']);
  });
});
