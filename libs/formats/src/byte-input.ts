import { open } from 'node:fs/promises';
import { basename } from 'node:path';

/**
 * What a reader reads from: hyparquet's AsyncBuffer (`byteLength` + ranged `slice`) plus a
 * sequential `stream`. libs/jobs adapts an object-storage key to it; formats never does I/O itself.
 */
export interface ByteInput {
  /** File name (URL or path as given) used in error messages and for matching NumPy files. */
  readonly name: string;
  readonly byteLength: number;
  /** Bytes [start, end) — end exclusive, clamped to byteLength. */
  slice(start: number, end?: number): Promise<Uint8Array>;
  /** Sequential chunks from `from` to the end. */
  stream(from?: number): AsyncIterable<Uint8Array>;
}

/** An in-memory ByteInput (tests, small payloads). `chunkSize` lets tests split the stream anywhere. */
export function byteInputFromBuffer(name: string, buf: Uint8Array, chunkSize = 1 << 20): ByteInput {
  return {
    name,
    byteLength: buf.length,
    slice: async (start, end) => buf.subarray(start, Math.min(end ?? buf.length, buf.length)),
    async *stream(from = 0) {
      for (let i = from; i < buf.length; i += chunkSize) yield buf.subarray(i, Math.min(i + chunkSize, buf.length));
    },
  };
}

/**
 * A ByteInput over a local file (tests, benches, local imports). Each slice opens its own read so
 * concurrent ranged reads do not share a file position.
 */
export async function byteInputFromFile(path: string, name: string = path): Promise<ByteInput> {
  const fh = await open(path, 'r');
  const { size } = await fh.stat();
  await fh.close();
  return {
    name,
    byteLength: size,
    async slice(start, end) {
      const stop = Math.min(end ?? size, size);
      const len = Math.max(0, stop - start);
      const out = new Uint8Array(len);
      if (len === 0) return out;
      const h = await open(path, 'r');
      try {
        let got = 0;
        while (got < len) {
          const { bytesRead } = await h.read(out, got, len - got, start + got);
          if (bytesRead === 0) break;
          got += bytesRead;
        }
        return got === len ? out : out.subarray(0, got);
      } finally {
        await h.close();
      }
    },
    async *stream(from = 0) {
      const h = await open(path, 'r');
      try {
        let pos = from;
        const chunk = 1 << 20;
        while (pos < size) {
          const out = new Uint8Array(Math.min(chunk, size - pos));
          const { bytesRead } = await h.read(out, 0, out.length, pos);
          if (bytesRead === 0) break;
          pos += bytesRead;
          yield bytesRead === out.length ? out : out.subarray(0, bytesRead);
        }
      } finally {
        await h.close();
      }
    },
  };
}

/** Base name of an input (directory part dropped), for NumPy file matching. */
export function baseNameOf(name: string): string {
  const noQuery = name.replace(/[?#].*$/, '');
  return basename(noQuery);
}
