import { PageSink } from './page-sink';

/**
 * Raw Snappy (the block format Parquet uses) decoded while its input arrives in chunks, into a
 * PageSink (or a buffer of the known uncompressed size). Copies only reach back into output
 * already written, so only the input needs to be incremental; an element cut by a chunk boundary
 * is carried over (at most 5 header bytes) or, for a literal, continued. A sliding sink keeps
 * PageSink's HISTORY behind the write position; a copy reaching further fails.
 */
export class SnappyStreamDecoder {
  private carry: Uint8Array = new Uint8Array(0);
  private literalLeft = 0;
  private preambleRead = false;
  /** Bytes this stream has produced (the sink may hold bytes before them: v2 levels). */
  written = 0;
  private readonly sink: PageSink;
  /** Bytes the stream must produce. */
  private readonly size: number;

  constructor(out: Uint8Array | PageSink, size?: number) {
    this.sink = out instanceof PageSink ? out : new PageSink(out.length, out);
    this.size = size ?? (out instanceof PageSink ? out.total - out.written : out.length);
  }

  push(chunk: Uint8Array, final: boolean): void {
    let data = chunk;
    if (this.carry.length > 0) {
      data = new Uint8Array(this.carry.length + chunk.length);
      data.set(this.carry, 0);
      data.set(chunk, this.carry.length);
      this.carry = new Uint8Array(0);
    }
    let i = 0;
    const sink = this.sink;
    if (this.literalLeft > 0) i = this.literal(data, 0, this.literalLeft);
    if (!this.preambleRead) {
      let length = 0;
      let shift = 0;
      let j = i;
      for (; j < data.length; j++) {
        const b = data[j]!;
        length += (b & 0x7f) * 2 ** shift;
        shift += 7;
        if ((b & 0x80) === 0) break;
        if (shift > 35) throw new Error('snappy: invalid length preamble');
      }
      if (j >= data.length) {
        this.keep(data, i, final);
        return;
      }
      if (length !== this.size)
        throw new Error(`snappy: stream says ${length} bytes, the page header says ${this.size}`);
      this.preambleRead = true;
      i = j + 1;
    }
    while (i < data.length) {
      const tag = data[i]!;
      const kind = tag & 3;
      const lenCode = tag >>> 2;
      const header = kind === 0 ? 1 + (lenCode >= 60 ? lenCode - 59 : 0) : kind === 1 ? 2 : kind === 2 ? 3 : 5;
      if (i + header > data.length) {
        this.keep(data, i, final);
        return;
      }
      if (kind === 0) {
        let len = lenCode + 1;
        if (lenCode >= 60) {
          len = 0;
          for (let k = 0; k < lenCode - 59; k++) len += data[i + 1 + k]! * 2 ** (8 * k);
          len += 1;
        }
        if (this.written + len > this.size) throw new Error('snappy: literal runs past the output');
        i = this.literal(data, i + header, len);
        continue;
      }
      let len: number;
      let offset: number;
      if (kind === 1) {
        len = 4 + (lenCode & 7);
        offset = ((tag >>> 5) << 8) | data[i + 1]!;
      } else if (kind === 2) {
        len = lenCode + 1;
        offset = data[i + 1]! | (data[i + 2]! << 8);
      } else {
        len = lenCode + 1;
        offset = (data[i + 1]! | (data[i + 2]! << 8) | (data[i + 3]! << 16) | (data[i + 4]! << 24)) >>> 0;
      }
      if (offset === 0 || offset > this.written) throw new Error(`snappy: copy offset ${offset} out of range`);
      if (this.written + len > this.size) throw new Error('snappy: copy runs past the output');
      sink.room(len);
      const to = sink.written - sink.base;
      const from = to - offset;
      if (from < 0)
        throw new Error(`snappy: a copy reaches back ${offset} bytes, more than the ${to} kept of a streamed page`);
      const out = sink.buf;
      // Short copies byte by byte: a native copyWithin costs more than the bytes it moves.
      if (offset >= len && len > 32) out.copyWithin(to, from, from + len);
      else for (let k = 0; k < len; k++) out[to + k] = out[from + k]!;
      this.written += len;
      sink.written += len;
      i += header;
    }
    if (final) this.end();
  }

  /** Copies up to `len` literal bytes from data[at…]; what the chunk lacks is taken from the next. */
  private literal(data: Uint8Array, at: number, len: number): number {
    const k = Math.min(len, data.length - at);
    const sink = this.sink;
    sink.room(k);
    const out = sink.buf;
    const w = sink.written - sink.base;
    if (k <= 32) {
      // Short literals byte by byte: a subarray and a native set cost more than the bytes they move.
      for (let j = 0; j < k; j++) out[w + j] = data[at + j]!;
    } else out.set(data.subarray(at, at + k), w);
    this.written += k;
    sink.written += k;
    this.literalLeft = len - k;
    return at + k;
  }

  private keep(data: Uint8Array, from: number, final: boolean): void {
    this.carry = data.slice(from);
    if (final) this.end();
  }

  private end(): void {
    if (this.carry.length > 0 || this.literalLeft > 0 || !this.preambleRead)
      throw new Error('snappy: stream ends inside an element');
    if (this.written !== this.size)
      throw new Error(`snappy: decompressed ${this.written} bytes, expected ${this.size}`);
  }
}
