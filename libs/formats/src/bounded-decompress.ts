import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import type { Compressors } from 'hyparquet';
import { compressors as hyparquetCompressors } from 'hyparquet-compressors';
import { decompress as zstdDecompress, Decompress as ZstdDecompress } from 'fzstd';

/**
 * Decompressors that never produce, or allocate for, more than the size a page declares
 * (docs/decisions/0801-declared-sizes.md). hyparquet-compressors' gzip grows its output past the
 * declared size, fzstd without an output buffer allocates whatever a frame declares (or grows
 * block by block), and hysnappy grows its WebAssembly memory to the declared size for good.
 */

/** A page whose data decompresses to more (or less) than its header says. */
export class DecompressedSizeError extends Error {}

const ZSTD_MAGIC = 0xfd2fb528;
const BLOCK_MAX = 128 * 1024;

/**
 * Walks zstd frames and block headers as bytes arrive, without decompressing, refusing what would
 * make fzstd allocate or write past `limit`: a window or declared content size past it, or raw
 * and RLE blocks (whose output size is exact) adding up to more. A 70 KB frame of RLE blocks can
 * otherwise expand to 2 GiB.
 */
export class ZstdFrameWalker {
  /** Sum of declared content sizes; null once a frame declares none. */
  declared: number | null = 0;
  private exact = 0;
  private skip = 0;
  private readonly head = new Uint8Array(18);
  private have = 0;
  private want = 4;
  private state: 'magic' | 'skippable' | 'descriptor' | 'header' | 'block' = 'magic';
  private descriptor = 0;
  private window = 0;
  private checksum = false;

  constructor(
    private readonly limit: number,
    private readonly windowLimit: number,
  ) {}

  push(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const k = Math.min(this.skip, chunk.length - i);
        this.skip -= k;
        i += k;
        continue;
      }
      const k = Math.min(this.want - this.have, chunk.length - i);
      this.head.set(chunk.subarray(i, i + k), this.have);
      this.have += k;
      i += k;
      if (this.have === this.want) this.step();
    }
  }

  private next(state: ZstdFrameWalker['state'], want: number, skip = 0): void {
    this.state = state;
    this.want = want;
    this.have = 0;
    this.skip = skip;
  }

  private step(): void {
    const h = this.head;
    switch (this.state) {
      case 'magic': {
        const m = (h[0]! | (h[1]! << 8) | (h[2]! << 16) | (h[3]! << 24)) >>> 0;
        if (m === ZSTD_MAGIC) this.next('descriptor', 1);
        else if (m >>> 4 === 0x184d2a5) this.next('skippable', 4);
        else throw new DecompressedSizeError('zstd: not a zstd frame');
        return;
      }
      case 'skippable':
        this.next('magic', 4, (h[0]! | (h[1]! << 8) | (h[2]! << 16)) + h[3]! * 2 ** 24);
        return;
      case 'descriptor': {
        const d = h[0]!;
        this.descriptor = d;
        const single = (d >> 5) & 1;
        const dict = [0, 1, 2, 4][d & 3]!;
        const fcs = [single, 2, 4, 8][d >> 6]!;
        this.next('header', (single ? 0 : 1) + dict + fcs);
        if (this.want === 0) this.step();
        return;
      }
      case 'header': {
        const d = this.descriptor;
        const single = (d >> 5) & 1;
        const dict = [0, 1, 2, 4][d & 3]!;
        const fcs = [single, 2, 4, 8][d >> 6]!;
        let at = 0;
        let window = 0;
        if (!single) {
          const wd = h[at++]!;
          const base = 2 ** (10 + (wd >> 3));
          window = base + (base / 8) * (wd & 7);
        }
        at += dict;
        let content: number | null = null;
        if (fcs > 0) {
          content = 0;
          for (let k = 0; k < fcs; k++) content += h[at + k]! * 2 ** (8 * k);
          if (fcs === 2) content += 256;
        }
        if (single) window = content ?? 0;
        if (window > this.windowLimit)
          throw new DecompressedSizeError(`zstd frame declares a ${window}-byte window, more than its page can need`);
        if (content === null) this.declared = null;
        else if (this.declared !== null) this.declared += content;
        if (content !== null && content > this.limit)
          throw new DecompressedSizeError(`zstd frame declares ${content} bytes, more than its page's ${this.limit}`);
        this.window = window;
        this.checksum = ((d >> 2) & 1) === 1;
        this.next('block', 3);
        return;
      }
      case 'block': {
        const b = h[0]! | (h[1]! << 8) | (h[2]! << 16);
        const last = b & 1;
        const type = (b >> 1) & 3;
        const size = b >>> 3;
        if (type === 3) throw new DecompressedSizeError('zstd: reserved block type');
        if (type === 2 && size > Math.min(this.window || BLOCK_MAX, BLOCK_MAX))
          throw new DecompressedSizeError('zstd: block larger than its maximum');
        if (type !== 2) {
          this.exact += size;
          if (this.exact > this.limit)
            throw new DecompressedSizeError(`zstd data expands to more than its page's ${this.limit} bytes`);
        }
        const input = type === 1 ? 1 : size;
        if (last) this.next('magic', 4, input + (this.checksum ? 4 : 0));
        else this.next('block', 3, input);
        return;
      }
    }
  }
}

/** Zstd decompression writing into `out` through fzstd's stream decoder, refusing any byte past it. */
function zstdInto(input: Uint8Array, out: Uint8Array): Uint8Array {
  let written = 0;
  const z = new ZstdDecompress((chunk) => {
    if (written + chunk.length > out.length)
      throw new DecompressedSizeError(`page decompresses to more than its ${out.length} bytes`);
    out.set(chunk, written);
    written += chunk.length;
  });
  z.push(input, true);
  return written === out.length ? out : out.subarray(0, written);
}

/** Largest window a zstd page of `length` bytes is allowed to declare (writers size it to the input). */
export function zstdWindowLimit(length: number): number {
  return Math.max(2 * length, 8 << 20);
}

function boundedZstd(input: Uint8Array, length: number): Uint8Array {
  const walk = new ZstdFrameWalker(length, zstdWindowLimit(length));
  walk.push(input);
  // Every frame declaring its size (what writers do for pages) and the sizes adding up: fzstd
  // allocates each frame's declared size and cannot write past it.
  if (walk.declared === length) return zstdDecompress(input);
  return zstdInto(input, new Uint8Array(length));
}

const snappy = hyparquetCompressors.SNAPPY!;

/** The uncompressed length a raw snappy block starts with (-1 when unreadable). */
function snappyPreamble(input: Uint8Array): number {
  let length = 0;
  for (let i = 0, shift = 0; i < Math.min(5, input.length); i++, shift += 7) {
    const b = input[i]!;
    length += (b & 0x7f) * 2 ** shift;
    if ((b & 0x80) === 0) return length;
  }
  return -1;
}

function boundedSnappy(input: Uint8Array, length: number): Uint8Array {
  // The WebAssembly decoder writes the preamble's length whatever room it was given.
  const says = snappyPreamble(input);
  if (says !== length)
    throw new DecompressedSizeError(`snappy data says ${says} bytes, the page header says ${length}`);
  return snappy(input, length);
}

/** zlib's own bound: past `length` bytes it stops with ERR_BUFFER_TOO_LARGE instead of growing. */
function zlibBounded(inflate: (b: Uint8Array, o: { maxOutputLength: number }) => Buffer) {
  return (input: Uint8Array, length: number): Uint8Array => {
    try {
      return inflate(input, { maxOutputLength: Math.max(1, length) });
    } catch (e) {
      if ((e as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE')
        throw new DecompressedSizeError(`page decompresses to more than its ${length} bytes`);
      throw e;
    }
  };
}

/** hyparquet's `Compressors`, each bounded by the page's declared size. */
export const boundedCompressors: Compressors = {
  SNAPPY: boundedSnappy,
  GZIP: zlibBounded(gunzipSync),
  BROTLI: zlibBounded(brotliDecompressSync),
  ZSTD: boundedZstd,
  // LZ4 decoders write into an array of the declared length; writes past it are dropped.
  LZ4: hyparquetCompressors.LZ4!,
  LZ4_RAW: hyparquetCompressors.LZ4_RAW!,
};
