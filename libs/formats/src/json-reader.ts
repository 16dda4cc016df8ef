import {
  JsonSyntaxError,
  parseJsonExact,
  RowBatchBuilder,
  type CollectionSchema,
  type JsonValue,
  type RowBatch,
} from '@gw/schema';
import type { ByteInput } from './byte-input';
import { FastRowParser } from './fast-json';
import { FormatError, FormatErrorCode, type FormatErrorLocation } from './formats.errors';
import type { FileGroupReader, ReadOptions } from './reader';
import { asBuffer, concatParts, decodeUtf8, MAX_ROW_BYTES, openJsonKey, rejectOrThrow } from './text';

/** A row past MAX_ROW_BYTES (a string or line that never ends), naming the member it is stuck in. */
function tooLargeRow(loc: FormatErrorLocation, parts: readonly Uint8Array[]): FormatError {
  const field = openJsonKey(parts);
  return new FormatError(
    FormatErrorCode.Syntax,
    field === undefined ? loc : { ...loc, field },
    `row is larger than ${MAX_ROW_BYTES} bytes`,
  );
}
/**
 * One row cut out of the stream: its bytes are buf[from, to) (a chunk, or a copy when the row spans
 * chunks — no view per row), `start` is its file offset, `row` its 1-based number.
 */
export interface RawRow {
  readonly buf: Uint8Array;
  readonly from: number;
  readonly to: number;
  readonly start: number;
  readonly row: number;
}

/** The row's bytes as their own view. */
export function rowBytes(raw: RawRow): Uint8Array {
  return raw.from === 0 && raw.to === raw.buf.length ? raw.buf : raw.buf.subarray(raw.from, raw.to);
}

const WS = new Uint8Array(256);
WS[0x20] = WS[0x09] = WS[0x0a] = WS[0x0d] = 1;
const QUOTE = 0x22;
const BOM = [0xef, 0xbb, 0xbf];
const BACKSLASH = 0x5c;

/** True when [from, to) holds no quote, '[' or '{' (so skipping it cannot miss structure). */
function noneBefore(chunk: Uint8Array, from: number, to: number): boolean {
  for (const b of [QUOTE, 0x5b, 0x7b]) {
    const at = chunk.indexOf(b, from);
    if (at >= 0 && at < to) return false;
  }
  return true;
}

type Phase = 'start' | 'prelude' | 'between' | 'element' | 'after' | 'done';

/**
 * Push-based splitter for `.json`: finds the rows array of `{"rows":[…]}` or `[…]` and cuts it into
 * elements without parsing them (depth and string tracking only), so a multi-GB document is never
 * held; each element is then parsed exactly on its own. Byte-level, so offsets are file offsets.
 */
export class JsonRowSplitter {
  private phase: Phase = 'start';
  private prelude = '';
  private wrapped = false;
  private expectComma = false;
  private afterComma = false;
  private depth = 0;
  private inStr = false;
  private esc = false;
  private parts: Uint8Array[] = [];
  private partsLen = 0;
  private elemStart = 0;
  private pos = 0;
  private rows = 0;
  private bom = 0;
  private readonly out: RawRow[] = [];

  constructor(private readonly file: string) {}

  /** Rows completed so far (and not yet taken). */
  take(): RawRow[] {
    return this.out.splice(0, this.out.length);
  }

  private structure(at: number, problem: string, row?: number): FormatError {
    return new FormatError(
      FormatErrorCode.InvalidStructure,
      row === undefined ? { file: this.file, byte: at } : { file: this.file, row, byte: at },
      problem,
    );
  }

  private syntax(at: number, problem: string): FormatError {
    return new FormatError(
      FormatErrorCode.Syntax,
      { file: this.file, row: this.rows + (this.phase === 'element' ? 0 : 1), byte: at },
      problem,
    );
  }

  push(bytes: Uint8Array): void {
    const chunk = asBuffer(bytes);
    const base = this.pos;
    const n = chunk.length;
    let i = 0;
    // A leading UTF-8 BOM is skipped, even when split across chunks.
    while (this.bom < 3 && i < n && base + i === this.bom && chunk[i] === BOM[this.bom]) {
      this.bom++;
      i++;
    }
    if (i < n) this.bom = 3;
    while (i < n) {
      switch (this.phase) {
        case 'start': {
          while (i < n && WS[chunk[i]!] === 1) i++;
          if (i >= n) break;
          const c = chunk[i]!;
          if (c === 0x5b) {
            this.phase = 'between';
            i++;
          } else if (c === 0x7b) {
            this.phase = 'prelude';
            this.wrapped = true;
            i++;
          } else throw this.structure(base + i, 'invalid JSON format: expected {"rows":[…]} or [ … ]');
          break;
        }
        case 'prelude': {
          // `{ "rows" :` up to the '[' — short by definition, so collecting it as text is cheap.
          const j = chunk.indexOf(0x5b, i);
          const end = j < 0 ? n : j;
          this.prelude += Buffer.from(chunk.buffer, chunk.byteOffset + i, end - i).toString('latin1');
          if (this.prelude.length > 1024 || /[{}\]]/.test(this.prelude))
            throw this.structure(base + i, 'invalid JSON format: expected {"rows":[…]} or [ … ]');
          if (j < 0) {
            i = n;
            break;
          }
          if (!/^\s*"rows"\s*:\s*$/i.test(this.prelude))
            throw this.structure(base + j, 'invalid JSON format: expected {"rows":[…]} or [ … ]');
          this.phase = 'between';
          i = j + 1;
          break;
        }
        case 'between': {
          while (i < n && WS[chunk[i]!] === 1) i++;
          if (i >= n) break;
          const c = chunk[i]!;
          if (c === 0x7b) {
            if (this.expectComma) throw this.syntax(base + i, "expected ',' or ']' between rows");
            this.phase = 'element';
            this.rows++;
            this.depth = 1;
            this.inStr = false;
            this.esc = false;
            this.elemStart = base + i;
            this.parts = [];
            this.partsLen = 0;
            i = this.scanElement(chunk, i + 1, i);
          } else if (c === 0x2c && this.expectComma) {
            this.expectComma = false;
            this.afterComma = true;
            i++;
          } else if (c === 0x5d && !this.afterComma) {
            this.phase = this.wrapped ? 'after' : 'done';
            i++;
          } else if (c === 0x2c || c === 0x5d) {
            throw this.syntax(base + i, `unexpected character '${String.fromCharCode(c)}'`);
          } else if (this.expectComma) {
            throw this.syntax(base + i, "expected ',' or ']' between rows");
          } else {
            throw this.structure(base + i, 'each row must be a JSON object', this.rows + 1);
          }
          break;
        }
        case 'element':
          i = this.scanElement(chunk, i, i);
          break;
        case 'after':
          while (i < n && WS[chunk[i]!] === 1) i++;
          if (i >= n) break;
          if (chunk[i] !== 0x7d) throw this.structure(base + i, 'invalid JSON format: expected {"rows":[…]} or [ … ]');
          this.phase = 'done';
          i++;
          break;
        case 'done':
          while (i < n && WS[chunk[i]!] === 1) i++;
          if (i < n) throw this.structure(base + i, 'unexpected data after the rows array');
          break;
      }
    }
    this.pos += n;
  }

  /** Scans element bytes from `i`; returns the index after the element or `chunk.length`. */
  private scanElement(chunk: Uint8Array, i: number, segStart: number): number {
    const n = chunk.length;
    let depth = this.depth;
    let inStr = this.inStr;
    let esc = this.esc;
    for (; i < n; i++) {
      const c = chunk[i]!;
      if (inStr) {
        if (esc) esc = false;
        else if (c === BACKSLASH) esc = true;
        else if (c === QUOTE) inStr = false;
        continue;
      }
      if (c === QUOTE) inStr = true;
      else if (c === 0x5b) {
        depth++;
        // A number array (a vector: most of the bytes) holds no quote or bracket before its ']':
        // jump there with native searches instead of looking at every digit.
        const d = chunk[i + 1];
        if (d !== undefined && (d === 0x2d || (d >= 0x30 && d <= 0x39))) {
          const close = chunk.indexOf(0x5d, i + 1);
          if (close > 0 && noneBefore(chunk, i + 1, close)) i = close - 1;
        }
      } else if (c === 0x7b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) {
          if (this.parts.length === 0)
            this.out.push({ buf: chunk, from: segStart, to: i + 1, start: this.elemStart, row: this.rows });
          else {
            this.parts.push(chunk.subarray(segStart, i + 1));
            const bytes = concatParts(this.parts, this.partsLen + i + 1 - segStart);
            this.out.push({ buf: bytes, from: 0, to: bytes.length, start: this.elemStart, row: this.rows });
          }
          this.parts = [];
          this.partsLen = 0;
          this.depth = 0;
          this.inStr = false;
          this.phase = 'between';
          this.expectComma = true;
          this.afterComma = false;
          return i + 1;
        }
      }
    }
    this.depth = depth;
    this.inStr = inStr;
    this.esc = esc;
    const seg = chunk.subarray(segStart, n);
    this.parts.push(seg);
    this.partsLen += seg.length;
    if (this.partsLen > MAX_ROW_BYTES)
      throw tooLargeRow({ file: this.file, row: this.rows, byte: this.elemStart }, this.parts);
    return n;
  }

  /** End of input: returns the truncated element (to be parsed for a precise error) or throws. */
  end(): RawRow | null {
    switch (this.phase) {
      case 'start':
      case 'done':
        return null;
      case 'element': {
        const bytes = concatParts(this.parts, this.partsLen);
        return { buf: bytes, from: 0, to: bytes.length, start: this.elemStart, row: this.rows };
      }
      case 'prelude':
        throw this.structure(this.pos, 'invalid JSON format: expected {"rows":[…]} or [ … ]');
      case 'between':
      case 'after':
        throw this.syntax(this.pos, 'unexpected end of input');
    }
  }
}

/**
 * Push-based splitter for JSON Lines: one row per `\n`-terminated line (`\r\n` accepted), blank
 * lines skipped but counted, so row numbers are line numbers (formats.md §2.6).
 */
export class JsonLinesSplitter {
  private parts: Uint8Array[] = [];
  private partsLen = 0;
  private lineStart = 0;
  private line = 0;
  private pos = 0;
  private readonly out: RawRow[] = [];

  constructor(private readonly file: string) {}

  take(): RawRow[] {
    return this.out.splice(0, this.out.length);
  }

  /** A line: bytes[from, to). */
  private emit(bytes: Uint8Array, from: number, to: number): void {
    this.line++;
    let s = from;
    let e = to;
    if (this.line === 1 && e - s >= 3 && bytes[s] === 0xef && bytes[s + 1] === 0xbb && bytes[s + 2] === 0xbf) s += 3;
    while (s < e && WS[bytes[s]!] === 1) s++;
    while (e > s && WS[bytes[e - 1]!] === 1) e--;
    if (s < e) this.out.push({ buf: bytes, from: s, to: e, start: this.lineStart + s - from, row: this.line });
  }

  push(bytes: Uint8Array): void {
    const chunk = asBuffer(bytes);
    const base = this.pos;
    let i = 0;
    for (;;) {
      const j = chunk.indexOf(0x0a, i);
      if (j < 0) break;
      if (this.parts.length === 0) this.emit(chunk, i, j);
      else {
        this.parts.push(chunk.subarray(i, j));
        const line = concatParts(this.parts, this.partsLen + j - i);
        this.emit(line, 0, line.length);
        this.parts = [];
        this.partsLen = 0;
      }
      i = j + 1;
      this.lineStart = base + i;
    }
    if (i < chunk.length) {
      const seg = chunk.subarray(i);
      this.parts.push(seg);
      this.partsLen += seg.length;
      if (this.partsLen > MAX_ROW_BYTES)
        throw tooLargeRow({ file: this.file, row: this.line + 1, byte: this.lineStart }, this.parts);
    }
    this.pos += chunk.length;
  }

  end(): RawRow | null {
    if (this.partsLen > 0) {
      const line = concatParts(this.parts, this.partsLen);
      this.emit(line, 0, line.length);
    }
    this.parts = [];
    this.partsLen = 0;
    return null;
  }
}

function parseRow(file: string, raw: RawRow): JsonValue {
  const text = decodeUtf8(rowBytes(raw), { file, row: raw.row }, raw.start);
  try {
    return parseJsonExact(text);
  } catch (e) {
    if (e instanceof JsonSyntaxError) {
      const byte = raw.start + Buffer.byteLength(text.slice(0, e.offset), 'utf8');
      throw new FormatError(FormatErrorCode.Syntax, { file, row: raw.row, byte }, e.problem, e);
    }
    throw e;
  }
}

/** Reader for `.json` (lines = false) and `.jsonl` / `.ndjson` (lines = true). */
export function openJsonReader(
  input: ByteInput,
  schema: CollectionSchema,
  opts: ReadOptions,
  lines: boolean,
): FileGroupReader {
  let consumed = 0;
  const file = input.name;
  return {
    totalBytes: input.byteLength,
    totalRows: async () => null,
    bytesConsumed: () => consumed,
    async *batches(): AsyncIterable<RowBatch> {
      const splitter = lines ? new JsonLinesSplitter(file) : new JsonRowSplitter(file);
      const builder = new RowBatchBuilder(schema, opts.batchRows, opts);
      const fast = FastRowParser.forSchema(schema, builder);
      let emitted = 0;
      const addRaw = (raw: RawRow): void => {
        // Schema-directed path first; anything it does not take goes the general way below.
        if (fast !== null && fast.tryJsonRow(raw.buf, raw.from, raw.to)) return;
        const value = parseRow(file, raw);
        if (value === null || typeof value !== 'object' || Array.isArray(value))
          throw new FormatError(
            FormatErrorCode.InvalidStructure,
            { file, row: raw.row, byte: raw.start },
            'each row must be a JSON object',
          );
        try {
          builder.addRow(value as Record<string, unknown>);
        } catch (e) {
          rejectOrThrow(
            e,
            { file, row: raw.row, byte: raw.start },
            opts.onRejectedRow,
            (f) => (value as Record<string, unknown>)[f],
            () => value,
          );
        }
      };
      for await (const chunk of input.stream(0)) {
        splitter.push(chunk);
        consumed += chunk.length;
        for (const raw of splitter.take()) {
          addRaw(raw);
          if (builder.isFull) {
            const n = builder.rowCount;
            yield builder.flush(file, emitted + 1);
            emitted += n;
          }
        }
      }
      const tail = splitter.end();
      const rest = splitter.take();
      for (const raw of rest) {
        addRaw(raw);
        if (builder.isFull) {
          const n = builder.rowCount;
          yield builder.flush(file, emitted + 1);
          emitted += n;
        }
      }
      if (tail !== null) {
        // A truncated last row: parsing it yields the precise syntax error (unterminated string…).
        parseRow(file, tail);
        throw new FormatError(
          FormatErrorCode.Syntax,
          { file, row: tail.row, byte: tail.start + tail.to - tail.from },
          'unexpected end of input',
        );
      }
      if (builder.rowCount > 0) yield builder.flush(file, emitted + 1);
    },
  };
}
