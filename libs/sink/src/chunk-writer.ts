/**
 * Whole chunk buffers to reuse. A 1 MiB chunk is an ArrayBuffer of its own, outside V8's heap:
 * allocating one per MiB of COPY data made V8 collect for "external memory pressure" every few
 * megabytes (a fifth of a NumPy worker's CPU went to GC). A writer with a recycler takes buffers
 * from it; the COPY writer hands its parts back (releaseChunkParts) once the socket has sent them.
 */
class ChunkRecycler {
  private readonly free: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {}

  take(): Buffer | undefined {
    return this.free.pop();
  }

  give(b: Buffer): void {
    if (this.free.length < this.keep) this.free.push(b);
  }
}

/** A recycled buffer's parts still out (handed out, not released) and whether the writer left it. */
interface Lent {
  readonly buffer: Buffer;
  readonly recycler: ChunkRecycler;
  out: number;
  retired: boolean;
}

const lent = new WeakMap<ArrayBufferLike, Lent>();

/** Buffers made elsewhere (a parse thread) with what to do once their one part is released. */
const returnable = new WeakMap<ArrayBufferLike, () => void>();

/**
 * Calls `onRelease` once, when releaseChunkParts is given the (single) part viewing `buffer`: a
 * parse thread's chunk goes back to the thread for reuse instead of waiting for a full GC here.
 */
export function returnOnRelease(buffer: ArrayBufferLike, onRelease: () => void): void {
  returnable.set(buffer, onRelease);
}

/**
 * Hands back parts a recycling ChunkWriter gave out, once nothing reads them any more (for a COPY:
 * the socket has sent them). Each part exactly once; parts of other origin are ignored. A part
 * never released is simply collected with its buffer.
 */
export function releaseChunkParts(parts: readonly Uint8Array[]): void {
  for (const p of parts) {
    const l = lent.get(p.buffer);
    if (l === undefined) {
      const back = returnable.get(p.buffer);
      if (back !== undefined) {
        returnable.delete(p.buffer);
        back();
      }
      continue;
    }
    l.out--;
    if (l.out === 0 && l.retired) {
      lent.delete(p.buffer);
      l.recycler.give(l.buffer);
    }
  }
}

/** Buffers a recycling writer keeps for reuse at most (beyond them, released buffers go to GC). */
const RECYCLE_KEEP = 32;

/**
 * Append-only byte buffer that hands out full chunks. Values are written big-endian (COPY binary
 * is network order) straight into a preallocated Buffer; when a value does not fit, the bytes
 * so far become a chunk and a fresh buffer is allocated (never copied). A COPY stream is a plain
 * byte stream, so a chunk may end in the middle of a row.
 */
export class ChunkWriter {
  buf: Buffer;
  dv: DataView;
  pos = 0;
  /** Start of the bytes not yet handed out (earlier ones belong to the consumer now). */
  private start = 0;
  private full: Buffer[] = [];
  private readonly recycler: ChunkRecycler | null;

  /** `recycle`: take buffers back through releaseChunkParts (see ChunkRecycler). */
  constructor(
    readonly chunkSize: number,
    opts: { recycle?: boolean } = {},
  ) {
    this.recycler = opts.recycle === true ? new ChunkRecycler(chunkSize, RECYCLE_KEEP) : null;
    this.buf = this.fresh(chunkSize);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  private fresh(n: number): Buffer {
    const r = this.recycler;
    if (r === null || n > r.size) return Buffer.allocUnsafe(Math.max(this.chunkSize, n));
    // allocUnsafeSlow: a buffer of its own (small allocUnsafe ones share Node's pool), since its
    // ArrayBuffer is what releaseChunkParts finds it by.
    const b = r.take() ?? Buffer.allocUnsafeSlow(r.size);
    lent.set(b.buffer, { buffer: b, recycler: r, out: 0, retired: false });
    return b;
  }

  /** A part of the current buffer goes out. */
  private handOut(from: number, to: number): void {
    this.full.push(this.buf.subarray(from, to));
    const l = this.recycler === null ? undefined : lent.get(this.buf.buffer);
    if (l !== undefined) l.out++;
  }

  /** The writer moves on from the current buffer: it is reusable once its parts come back. */
  private retire(): void {
    const l = this.recycler === null ? undefined : lent.get(this.buf.buffer);
    if (l === undefined) return;
    l.retired = true;
    if (l.out === 0) {
      lent.delete(this.buf.buffer);
      l.recycler.give(l.buffer);
    }
  }

  /** Makes room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.rotate(n);
  }

  private rotate(n: number): void {
    if (this.pos > this.start) this.handOut(this.start, this.pos);
    this.retire();
    this.buf = this.fresh(n);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
    this.pos = 0;
    this.start = 0;
  }

  /** Whether full chunks are waiting to be taken. */
  get hasFull(): boolean {
    return this.full.length > 0;
  }

  /** The full chunks (the partly filled buffer stays). */
  takeFull(): Buffer[] {
    const out = this.full;
    this.full = [];
    return out;
  }

  /**
   * Every byte written so far, as chunks. The rest of the current buffer stays in use for what
   * follows (the bytes handed out are never written again), so small flushes allocate nothing.
   */
  takeAll(): Buffer[] {
    if (this.pos > this.start) {
      this.handOut(this.start, this.pos);
      this.start = this.pos;
    }
    return this.takeFull();
  }

  int16(v: number): void {
    this.ensure(2);
    this.dv.setInt16(this.pos, v);
    this.pos += 2;
  }

  int32(v: number): void {
    this.ensure(4);
    this.dv.setInt32(this.pos, v);
    this.pos += 4;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
}
