import { constants, type Dirent } from 'node:fs';
import { type FileHandle, open, readdir, realpath } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { ClosableObjectSource, ObjectStat } from '../object-source';
import { relativeKeyProblem } from '../relative-key';
import { storageErrors } from '../storage.errors';

const CHUNK_BYTES = 1 << 20;

/**
 * Files under one local directory as an ObjectSource (a volume of the local backend). Keys are
 * relative `/` paths checked by relativeKeyProblem; a key is opened with O_NOFOLLOW and its
 * directory's real path must stay under the root's, so a symlink placed inside the directory
 * cannot lead a read outside it. Listing never follows symlinks and skips hidden names (uploads in
 * progress). The version of a file is inode + size + mtime: uploads replace files by rename, so a
 * replaced file has a new inode and a read after that fails as "object changed during import".
 */
export function openLocalSource(root: string, display: (key: string) => string): ClosableObjectSource {
  const pins = new Map<string, string>();
  let realRoot: Promise<string> | undefined;
  const rootReal = () => (realRoot ??= realpath(root));

  async function openKey(key: string): Promise<FileHandle> {
    if (relativeKeyProblem(key, { folder: 'refused' }) !== null) throw storageErrors.invalidUrl(display(key));
    const path = join(root, ...key.split('/'));
    const base = await rootReal().catch((e: unknown) => {
      throw storageErrors.notFound(display(key), e);
    });
    let dir: string;
    try {
      dir = await realpath(dirname(path));
    } catch (e) {
      throw storageErrors.notFound(display(key), e);
    }
    if (dir !== base && !dir.startsWith(base + sep)) throw storageErrors.accessDenied(display(key));
    try {
      return await open(join(dir, key.slice(key.lastIndexOf('/') + 1)), constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      // ELOOP: the last component is a symlink, which O_NOFOLLOW refuses.
      if (code === 'ELOOP') throw storageErrors.accessDenied(display(key), e);
      throw storageErrors.notFound(display(key), e);
    }
  }

  async function statOf(fh: FileHandle, key: string): Promise<ObjectStat> {
    const st = await fh.stat({ bigint: true });
    if (!st.isFile()) throw storageErrors.notFound(display(key));
    return {
      key,
      size: Number(st.size),
      version: `${st.ino}-${st.size}-${st.mtimeNs}`,
      lastModified: new Date(Number(st.mtimeMs)),
    };
  }

  /** Opens the key and checks it is still the version first seen (pinned at the first stat). */
  async function openPinned(key: string): Promise<{ fh: FileHandle; stat: ObjectStat }> {
    const fh = await openKey(key);
    try {
      const stat = await statOf(fh, key);
      const pinned = pins.get(key);
      if (pinned === undefined) pins.set(key, stat.version);
      else if (pinned !== stat.version) throw storageErrors.changed(display(key));
      return { fh, stat };
    } catch (e) {
      await fh.close();
      throw e;
    }
  }

  return {
    close(): void {
      pins.clear();
    },
    async stat(key: string): Promise<ObjectStat> {
      const { fh, stat } = await openPinned(key);
      await fh.close();
      return stat;
    },
    async *list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectStat> {
      const cut = prefix.lastIndexOf('/');
      const dirKey = prefix.slice(0, cut + 1);
      if (dirKey !== '' && relativeKeyProblem(dirKey, { folder: 'required' }) !== null) {
        throw storageErrors.invalidUrl(display(prefix));
      }
      const base = await rootReal().catch((e: unknown) => {
        throw storageErrors.notFound(display(prefix), e);
      });
      let start: string;
      try {
        start = await realpath(join(base, ...dirKey.split('/').filter((s) => s !== '')));
      } catch {
        return; // no such folder: nothing under the prefix
      }
      if (start !== base && !start.startsWith(base + sep)) throw storageErrors.accessDenied(display(prefix));
      yield* walk(start, dirKey, prefix, signal);
    },
    async readRange(key: string, start: number, end: number, signal?: AbortSignal): Promise<Uint8Array> {
      if (signal?.aborted === true) throw storageErrors.aborted(display(key));
      const { fh, stat } = await openPinned(key);
      try {
        const stop = Math.min(end, stat.size);
        const out = Buffer.allocUnsafe(Math.max(0, stop - start));
        let filled = 0;
        while (filled < out.length) {
          const { bytesRead } = await fh.read(out, filled, out.length - filled, start + filled);
          if (bytesRead === 0) throw storageErrors.changed(display(key)); // truncated under us
          filled += bytesRead;
        }
        return out;
      } finally {
        await fh.close();
      }
    },
    async *stream(key: string, from = 0, signal?: AbortSignal): AsyncIterable<Uint8Array> {
      const { fh, stat } = await openPinned(key);
      try {
        let pos = from;
        while (pos < stat.size) {
          if (signal?.aborted === true) throw storageErrors.aborted(display(key));
          const buf = Buffer.allocUnsafe(Math.min(CHUNK_BYTES, stat.size - pos));
          const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
          if (bytesRead === 0) throw storageErrors.changed(display(key));
          pos += bytesRead;
          yield bytesRead === buf.length ? buf : buf.subarray(0, bytesRead);
        }
      } finally {
        await fh.close();
      }
    },
  };
}

/**
 * Regular files under `dir` whose key starts with `prefix`, in key order: a directory sorts as
 * `name/`, which is where every key under it falls among its siblings. Symlinks and hidden names
 * are skipped, never followed.
 */
async function* walk(dir: string, dirKey: string, prefix: string, signal?: AbortSignal): AsyncIterable<ObjectStat> {
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return; // removed while listing
  }
  const named = entries
    .filter((e) => !e.name.startsWith('.') && (e.isFile() || e.isDirectory()))
    .map((e) => ({ e, key: dirKey + e.name + (e.isDirectory() ? '/' : '') }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const { e, key } of named) {
    if (signal?.aborted === true) return;
    if (e.isDirectory()) {
      if (key.startsWith(prefix) || prefix.startsWith(key)) yield* walk(join(dir, e.name), key, prefix, signal);
      continue;
    }
    if (!key.startsWith(prefix)) continue;
    let stat: ObjectStat | undefined;
    try {
      const fh = await open(join(dir, e.name), constants.O_RDONLY | constants.O_NOFOLLOW);
      try {
        const st = await fh.stat({ bigint: true });
        if (st.isFile()) {
          const version = `${st.ino}-${st.size}-${st.mtimeNs}`;
          stat = { key, size: Number(st.size), version, lastModified: new Date(Number(st.mtimeMs)) };
        }
      } finally {
        await fh.close();
      }
    } catch {
      continue; // removed or replaced by a symlink since readdir
    }
    if (stat !== undefined) yield stat;
  }
}
