import { isUtf8 } from 'node:buffer';
import { FormatError, FormatErrorCode } from './formats.errors';
import { asBuffer, concatParts, MAX_ROW_BYTES } from './text';

/** A CSV record cut from the bytes: cells as UTF-8 bytes (quotes removed, doubled quotes undone). */
export interface CsvByteRecord {
  readonly cells: Uint8Array[];
  /** File line (1-based) where the record starts. */
  readonly line: number;
}

const QUOTE = 34;
const CR = 13;
const LF = 10;
const BOM = [0xef, 0xbb, 0xbf];
const EMPTY = new Uint8Array(0);

/**
 * RFC 4180 record splitter over the file's **bytes** — the same state machine as
 * CsvRecordSplitter (which runs over decoded text), for an ASCII separator: every byte it looks at
 * (separator, quote, CR, LF) is ASCII, and bytes of multi-byte UTF-8 characters are all ≥ 0x80, so
 * records, cells, line numbers and errors are the same, without decoding the chunk to a string
 * first. Vector cells then go to the number scanner as bytes. A leading UTF-8 BOM is dropped (as
 * the TextDecoder did). The row-size limit counts bytes.
 */
export class CsvByteSplitter {
  private cells: Uint8Array[] = [];
  private parts: Uint8Array[] = [];
  private partsLen = 0;
  private inQuotes = false;
  private quoteClosed = false;
  private fieldQuoted = false;
  private lastWasQuoted = false;
  private pendingCr = false;
  private line = 1;
  private recordLine = 1;
  private recordBytes = 0;
  /** Leading bytes held back until it is known whether they are a BOM (null once known). */
  private head: number[] | null = [];
  private readonly out: CsvByteRecord[] = [];

  constructor(
    private readonly file: string,
    private readonly sep: number,
    private readonly rowOf: () => number,
  ) {
    if (sep > 0x7f) throw new RangeError('CsvByteSplitter needs an ASCII separator');
  }

  take(): CsvByteRecord[] {
    return this.out.splice(0, this.out.length);
  }

  private fail(problem: string, field?: string): never {
    const loc = { file: this.file, row: this.rowOf() + 1, line: this.recordLine };
    throw new FormatError(FormatErrorCode.Syntax, field === undefined ? loc : { ...loc, field }, problem);
  }

  /** Header cells (the first record), to name the cell a too-large row is stuck in. */
  private header: readonly Uint8Array[] | null = null;

  private append(chunk: Uint8Array, from: number, to: number): void {
    if (to <= from) return;
    this.parts.push(chunk.subarray(from, to));
    this.partsLen += to - from;
  }

  private grow(bytes: number): void {
    this.recordBytes += bytes;
    if (this.recordBytes > MAX_ROW_BYTES) {
      const name = this.header?.[this.cells.length];
      this.fail(
        `row is larger than ${MAX_ROW_BYTES} bytes`,
        name === undefined ? undefined : Buffer.from(name).toString(),
      );
    }
  }

  private endField(): void {
    this.cells.push(this.partsLen === 0 ? EMPTY : concatParts(this.parts, this.partsLen));
    this.parts = [];
    this.partsLen = 0;
    this.quoteClosed = false;
    this.fieldQuoted = false;
  }

  private endRecord(): void {
    this.endField();
    const blank = this.cells.length === 1 && this.cells[0]!.length === 0 && !this.lastWasQuoted;
    if (!blank) {
      this.out.push({ cells: this.cells, line: this.recordLine });
      this.header ??= this.cells;
    }
    this.cells = [];
    this.recordBytes = 0;
    this.recordLine = this.line;
  }

  push(bytes: Uint8Array): void {
    const chunk = asBuffer(bytes);
    let i = 0;
    const head = this.head;
    if (head !== null) {
      while (head.length < 3 && i < chunk.length && chunk[i] === BOM[head.length]) head.push(chunk[i++]!);
      if (head.length < 3 && i === chunk.length) return;
      this.head = null;
      // Not a BOM: the held-back bytes are data.
      if (head.length < 3 && head.length > 0) this.scan(Uint8Array.from(head), 0);
    }
    this.scan(chunk, i);
  }

  private scan(chunk: Uint8Array, i: number): void {
    const sep = this.sep;
    const n = chunk.length;
    while (i < n) {
      const c = chunk[i]!;
      if (this.pendingCr) {
        this.pendingCr = false;
        if (c === LF) {
          i++;
          continue;
        }
      }
      if (this.inQuotes) {
        // The run up to the next quote in one piece: quoted JSON vectors are long.
        const q = chunk.indexOf(QUOTE, i);
        const stop = q < 0 ? n : q;
        for (let k = chunk.indexOf(LF, i); k >= 0 && k < stop; k = chunk.indexOf(LF, k + 1)) this.line++;
        this.append(chunk, i, stop);
        this.grow(stop - i);
        if (q < 0) return;
        this.inQuotes = false;
        this.quoteClosed = true;
        i = q + 1;
        continue;
      }
      if (this.quoteClosed) {
        if (c === QUOTE) {
          // A doubled quote inside a quoted field: keep one.
          this.append(chunk, i, i + 1);
          this.inQuotes = true;
          this.quoteClosed = false;
          i++;
          continue;
        }
        if (c !== sep && c !== LF && c !== CR) this.fail('unexpected character after a closing quote');
      }
      if (c === sep) {
        this.lastWasQuoted = this.fieldQuoted;
        this.endField();
        i++;
      } else if (c === LF || c === CR) {
        this.lastWasQuoted = this.fieldQuoted;
        this.line++;
        this.pendingCr = c === CR;
        i++;
        this.endRecord();
      } else if (c === QUOTE) {
        if (this.partsLen !== 0) this.fail('unexpected quote inside an unquoted field');
        this.inQuotes = true;
        this.fieldQuoted = true;
        i++;
      } else {
        let j = i + 1;
        while (j < n) {
          const d = chunk[j]!;
          if (d === sep || d === LF || d === CR || d === QUOTE) break;
          j++;
        }
        this.append(chunk, i, j);
        this.grow(j - i);
        i = j;
      }
    }
  }

  end(): void {
    const head = this.head;
    if (head !== null) {
      // Fewer than three bytes in the whole file, all a BOM prefix: data after all.
      this.head = null;
      if (head.length > 0) this.scan(Uint8Array.from(head), 0);
    }
    if (this.inQuotes) this.fail('unterminated quoted field');
    if (this.partsLen !== 0 || this.cells.length > 0 || this.fieldQuoted) {
      this.lastWasQuoted = this.fieldQuoted;
      this.endRecord();
    }
  }
}

/** Bytes a UTF-8 sequence with this lead byte takes (0 for a byte that cannot lead). */
function sequenceLength(lead: number): number {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

/** True when `b` (shorter than its sequence) can still become a valid UTF-8 character. */
function isValidPrefix(b: Uint8Array): boolean {
  const lead = b[0]!;
  for (let k = 1; k < b.length; k++) {
    const c = b[k]!;
    let lo = 0x80;
    let hi = 0xbf;
    if (k === 1) {
      if (lead === 0xe0) lo = 0xa0;
      else if (lead === 0xed) hi = 0x9f;
      else if (lead === 0xf0) lo = 0x90;
      else if (lead === 0xf4) hi = 0x8f;
    }
    if (c < lo || c > hi) return false;
  }
  return true;
}

/**
 * Strict UTF-8 validation of a stream of chunks with Node's native validator, without decoding:
 * `push` is false exactly when a streaming fatal TextDecoder would throw on that chunk, `end`
 * false when the input ends inside a character.
 */
export class Utf8StreamValidator {
  /** An incomplete character at the end of the previous chunk (a valid prefix). */
  private carry: Uint8Array = EMPTY;

  push(chunk: Uint8Array): boolean {
    let from = 0;
    if (this.carry.length > 0) {
      const need = sequenceLength(this.carry[0]!) - this.carry.length;
      const joined = new Uint8Array(this.carry.length + Math.min(need, chunk.length));
      joined.set(this.carry);
      joined.set(chunk.subarray(0, joined.length - this.carry.length), this.carry.length);
      if (joined.length < this.carry.length + need) {
        if (!isValidPrefix(joined)) return false;
        this.carry = joined;
        return true;
      }
      if (!isUtf8(joined)) return false;
      this.carry = EMPTY;
      from = need;
    }
    // An incomplete character at the end waits for the next chunk, if it can still become valid.
    let cut = chunk.length;
    for (let k = chunk.length - 1; k >= Math.max(from, chunk.length - 3); k--) {
      const c = chunk[k]!;
      if ((c & 0xc0) === 0x80) continue;
      const len = sequenceLength(c);
      if (len > chunk.length - k) {
        const tail = chunk.subarray(k);
        if (!isValidPrefix(tail)) return false;
        cut = k;
      }
      break;
    }
    if (!isUtf8(chunk.subarray(from, cut))) return false;
    if (cut < chunk.length) this.carry = chunk.slice(cut);
    return true;
  }

  end(): boolean {
    return this.carry.length === 0;
  }
}
