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

  constructor(readonly chunkSize: number) {
    this.buf = Buffer.allocUnsafe(chunkSize);
    this.dv = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Makes room for n more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.rotate(n);
  }

  private rotate(n: number): void {
    if (this.pos > this.start) this.full.push(this.buf.subarray(this.start, this.pos));
    this.buf = Buffer.allocUnsafe(Math.max(this.chunkSize, n));
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
      this.full.push(this.buf.subarray(this.start, this.pos));
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
