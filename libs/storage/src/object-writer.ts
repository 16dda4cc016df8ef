import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath, rename, rm, unlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import { relativeKeyProblem } from './relative-key';
import { storageErrors } from './storage.errors';

/** Writes and removes objects of one place the gateway owns (a volume's directory or bucket prefix). */
export interface ObjectWriter {
  /**
   * Streams `body` to `key`. The object appears only once complete (temporary name + rename, or
   * a multipart upload completed at the end); if `body` throws, nothing is left behind.
   */
  put(key: string, body: AsyncIterable<Uint8Array>): Promise<{ size: number }>;
  /** False when there was nothing to remove. */
  delete(key: string): Promise<boolean>;
  /** Everything under a `/`-terminated prefix ('' = all). */
  deletePrefix(prefix: string): Promise<void>;
  close(): void;
}

const WRITE_BATCH_BYTES = 1 << 20;

/** What is left of `bufs` after a short writev wrote its first `n` bytes. */
function dropWritten(bufs: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  let left = n;
  while (i < bufs.length && left >= bufs[i]!.length) left -= bufs[i++]!.length;
  const rest = bufs.slice(i);
  if (rest.length > 0 && left > 0) rest[0] = rest[0]!.subarray(left);
  return rest;
}

/** Prefix of uploads in progress: hidden names, which listing, import and client paths all refuse. */
export const UPLOAD_TEMP_PREFIX = '.igw-upload-';

/**
 * The local backend's writer under `root` (created on demand). Parent directories are created
 * and then resolved: a symlinked directory leading out of the root is refused before any byte is
 * written. The temporary file is in the target's own directory, so the rename is atomic.
 */
export function openLocalWriter(root: string, display: (key: string) => string): ObjectWriter {
  async function inside(path: string, key: string): Promise<string> {
    await mkdir(root, { recursive: true });
    const base = await realpath(root);
    const real = await realpath(path);
    if (real !== base && !real.startsWith(base + sep)) throw storageErrors.accessDenied(display(key));
    return real;
  }
  function checkKey(key: string, folder: 'refused' | 'required'): void {
    const why = relativeKeyProblem(key, { folder });
    if (why !== null) throw storageErrors.invalidUrl(display(key), why);
  }
  return {
    async put(key, body) {
      checkKey(key, 'refused');
      const target = join(root, ...key.split('/'));
      await mkdir(root, { recursive: true });
      await inside(root, key);
      try {
        await mkdir(dirname(target), { recursive: true });
      } catch (e) {
        // A file where a directory of the path should be (upload `a` then `a/b`).
        if ((e as NodeJS.ErrnoException).code === 'EEXIST' || (e as NodeJS.ErrnoException).code === 'ENOTDIR') {
          throw storageErrors.badRequest(display(key), 'a parent of this path is a file');
        }
        throw e;
      }
      const dir = await inside(dirname(target), key);
      const name = key.slice(key.lastIndexOf('/') + 1);
      const existing = await lstat(join(dir, name)).catch(() => null);
      if (existing !== null && !existing.isFile()) {
        throw storageErrors.badRequest(display(key), 'the path names a directory or a link');
      }
      const temp = join(dir, `${UPLOAD_TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
      const fh = await open(
        temp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o644,
      );
      let size = 0;
      // Socket chunks are ~64 KiB: gathered into ~1 MiB writev calls, one syscall each.
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        let bufs = pending;
        pending = [];
        pendingBytes = 0;
        while (bufs.length > 0) {
          const { bytesWritten } = await fh.writev(bufs);
          bufs = dropWritten(bufs, bytesWritten);
        }
      };
      try {
        for await (const chunk of body) {
          pending.push(chunk);
          pendingBytes += chunk.length;
          size += chunk.length;
          if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
        }
        await flush();
        await fh.sync();
        await fh.close();
        await rename(temp, join(dir, name));
        return { size };
      } catch (e) {
        await fh.close().catch(() => undefined);
        await rm(temp, { force: true });
        throw e;
      }
    },
    async delete(key) {
      checkKey(key, 'refused');
      const target = join(root, ...key.split('/'));
      let dir: string;
      try {
        dir = await inside(dirname(target), key);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw e;
      }
      const path = join(dir, key.slice(key.lastIndexOf('/') + 1));
      const st = await lstat(path).catch(() => null);
      if (st === null || !st.isFile()) return false;
      await unlink(path);
      return true;
    },
    async deletePrefix(prefix) {
      if (prefix !== '') checkKey(prefix, 'required');
      const path = join(root, ...prefix.split('/').filter((s) => s !== ''));
      // rm does not follow symlinks: a link inside is removed, never its target.
      await rm(path, { recursive: true, force: true });
    },
    close() {},
  };
}
