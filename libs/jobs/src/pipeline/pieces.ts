import { MAX_ROW_BYTES, type ByteInput, type FileFormat } from '@gw/formats';
import type { PieceShift, TaskInput } from './protocol';

/**
 * Cutting a file group into pieces a parse thread reads on its own, with the shift that maps the
 * piece's rows, bytes and lines back to the file's. Cuts are made only where the reader itself
 * would start a row (JSONL/CSV line starts, JSON elements of the rows array), so each piece read
 * alone gives the same rows and the same errors as the whole file. Anything unusual (a CSV BOM
 * or lone CR, an odd JSON prelude, garbage between elements, a huge row) ends the cutting: the rest
 * of the file becomes one "tail" piece that the thread streams from the main thread's ByteInput.
 * NumPy groups are cut by row range. A Parquet file is one such piece from the start: cutting it
 * by row group needs the reader to read a subset of row groups (see docs/decisions/0402).
 */
export interface Piece {
  readonly inputs: readonly TaskInput[];
  readonly shift: PieceShift;
  /** Bytes shipped with the piece (0 for remote inputs), for the in-flight budget. */
  readonly bytes: number;
  /** The group's row count, on the first piece of a group cut by rows (NumPy). */
  readonly groupRows?: number;
}

/** Beyond this much pending data without a cut, the rest of the file is read as a tail. */
const slack = (pieceBytes: number): number => pieceBytes + MAX_ROW_BYTES + (1 << 20);

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const WS = new Uint8Array(256);
WS[0x20] = WS[0x09] = WS[0x0a] = WS[0x0d] = 1;
const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));

/** Chunks read but not yet shipped; `start` is the file offset of the first pending byte. */
class Pending {
  private chunks: Uint8Array[] = [];
  length = 0;
  start = 0;

  push(c: Uint8Array): void {
    if (c.length === 0) return;
    this.chunks.push(c);
    this.length += c.length;
  }

  /** A copy of pending bytes [from, to) (offsets from `start`), leaving them pending. */
  copy(from: number, to: number): Uint8Array {
    const out = new Uint8Array(to - from);
    let at = 0; // offset of the current chunk
    for (const c of this.chunks) {
      const s = Math.max(from, at);
      const e = Math.min(to, at + c.length);
      if (s < e) out.set(c.subarray(s - at, e - at), s - from);
      at += c.length;
      if (at >= to) break;
    }
    return out;
  }

  /** The first n pending bytes between prefix and suffix, in a fresh (transferable) buffer. */
  take(n: number, prefix: Uint8Array, suffix: Uint8Array): Uint8Array {
    const out = new Uint8Array(prefix.length + n + suffix.length);
    out.set(prefix, 0);
    let at = prefix.length;
    let need = n;
    while (need > 0) {
      const c = this.chunks[0]!;
      if (c.length <= need) {
        out.set(c, at);
        at += c.length;
        need -= c.length;
        this.chunks.shift();
      } else {
        out.set(c.subarray(0, need), at);
        at += need;
        this.chunks[0] = c.subarray(need);
        need = 0;
      }
    }
    out.set(suffix, at);
    this.length -= n;
    this.start += n;
    return out;
  }
}

const bytesPiece = (name: string, bytes: Uint8Array, shift: PieceShift): Piece => ({
  inputs: [{ kind: 'bytes', name, bytes }],
  shift,
  bytes: bytes.length,
});

const tailPiece = (input: ByteInput, from: number, prefix: Uint8Array, shift: PieceShift): Piece => ({
  inputs: [
    {
      kind: 'remote',
      name: input.name,
      byteLength: input.byteLength,
      index: 0,
      ...(from > 0 ? { from } : {}),
      ...(prefix.length > 0 ? { prefix } : {}),
    },
  ],
  shift,
  bytes: 0,
});

/** The whole group as one piece read through the main thread (Parquet, NumPy). */
export function wholeGroupPiece(inputs: readonly ByteInput[]): Piece {
  return {
    inputs: inputs.map((input, index) => ({ kind: 'remote', name: input.name, byteLength: input.byteLength, index })),
    shift: { row: 0, byte: 0, prefix: 0, line: 0 },
    bytes: 0,
  };
}

export function planPieces(format: FileFormat, inputs: readonly ByteInput[], pieceBytes: number): AsyncIterable<Piece> {
  const input = inputs[0];
  if (format === 'numpy') return numpyPieces(inputs, pieceBytes);
  if (inputs.length !== 1 || input === undefined) return single(wholeGroupPiece(inputs));
  switch (format) {
    case 'jsonl':
      return jsonlPieces(input, pieceBytes);
    case 'csv':
      return csvPieces(input, pieceBytes);
    case 'json':
      return jsonPieces(input, pieceBytes);
    case 'parquet':
      return single(wholeGroupPiece(inputs));
  }
}

async function* single(p: Piece): AsyncGenerator<Piece> {
  yield await Promise.resolve(p);
}

function countByte(b: Uint8Array, c: number): number {
  let n = 0;
  for (let i = b.indexOf(c); i >= 0; i = b.indexOf(c, i + 1)) n++;
  return n;
}

/** JSONL: every LF ends a row (blank lines count), so a piece starting after one is row lines+1. */
async function* jsonlPieces(input: ByteInput, pieceBytes: number): AsyncGenerator<Piece> {
  const p = new Pending();
  let linesBefore = 0;
  let cut = -1; // file offset just after the last LF seen
  const none = new Uint8Array(0);
  for await (const chunk of input.stream(0)) {
    const base = p.start + p.length;
    p.push(chunk);
    const j = chunk.lastIndexOf(LF);
    if (j >= 0) cut = base + j + 1;
    if (p.length >= pieceBytes && cut > p.start) {
      const shift = { row: linesBefore, byte: p.start, prefix: 0, line: 0 };
      const bytes = p.take(cut - p.start, none, none);
      linesBefore += countByte(bytes, LF);
      yield bytesPiece(input.name, bytes, shift);
    } else if (p.length > slack(pieceBytes)) {
      yield tailPiece(input, p.start, none, { row: linesBefore, byte: p.start, prefix: 0, line: 0 });
      return;
    }
  }
  if (p.length > 0) {
    const shift = { row: linesBefore, byte: p.start, prefix: 0, line: 0 };
    yield bytesPiece(input.name, p.take(p.length, none, none), shift);
  }
}

/** Whether every CR in chunk is followed by LF (`prevCr`: the previous chunk ended in CR). */
function onlyCrLf(chunk: Uint8Array, prevCr: boolean): boolean {
  if (prevCr && chunk.length > 0 && chunk[0] !== LF) return false;
  for (let i = chunk.indexOf(CR); i >= 0 && i < chunk.length - 1; i = chunk.indexOf(CR, i + 1))
    if (chunk[i + 1] !== LF) return false;
  return true;
}

/**
 * CSV: records end at an LF (or CRLF) outside quotes. A quote toggles the quoted state; that is
 * exact for every file the reader accepts (quotes only open a field, and "" inside one toggles
 * twice), and up to the first error of any other file, which the piece holding it reports as the
 * serial reader does. Blank records are skipped and not counted, as the reader does; LFs inside
 * quotes count as lines, as the reader counts them. Every piece after the first gets the header
 * record in front, so its line 2 is the piece's first line. A BOM or a lone CR (which also ends a
 * record) stops the cutting.
 */
async function* csvPieces(input: ByteInput, pieceBytes: number): AsyncGenerator<Piece> {
  const p = new Pending();
  const none = new Uint8Array(0);
  let header: Uint8Array | null = null;
  let rowsBefore = 0;
  let linesBefore = 0;
  // Since the piece start: records (not blank, not the header) and LFs; at the last record end.
  let rows = 0;
  let lines = 0;
  let cut = -1;
  let cutRows = 0;
  let cutLines = 0;
  let recStart = 0;
  let inQuotes = false;
  let prevCr = false;
  const shiftHere = (): PieceShift =>
    header === null || p.start === 0
      ? { row: 0, byte: 0, prefix: 0, line: 0 }
      : { row: rowsBefore, byte: p.start, prefix: header.length, line: linesBefore - 1 };
  const prefixHere = (): Uint8Array => (header === null || p.start === 0 ? none : header);
  for await (const chunk of input.stream(0)) {
    const base = p.start + p.length;
    p.push(chunk);
    if ((base === 0 && chunk[0] === 0xef) || !onlyCrLf(chunk, prevCr)) {
      yield tailPiece(input, p.start, prefixHere(), shiftHere());
      return;
    }
    const n = chunk.length;
    let i = 0;
    // The next quote at or after i (n: none), looked up again only once i has passed it: searching
    // afresh for every record would rescan the rest of the chunk per row when there are no quotes.
    let q = -1;
    const nextQuote = (): number => {
      if (q < i) {
        q = chunk.indexOf(QUOTE, i);
        if (q < 0) q = n;
      }
      return q;
    };
    while (i < n) {
      if (inQuotes) {
        const stop = nextQuote();
        for (let l = chunk.indexOf(LF, i); l >= 0 && l < stop; l = chunk.indexOf(LF, l + 1)) lines++;
        if (stop === n) break;
        inQuotes = false;
        i = stop + 1;
        continue;
      }
      const qAt = nextQuote();
      const l = chunk.indexOf(LF, i);
      if (l >= 0 && l < qAt) {
        const end = base + l;
        lines++;
        const lenNoCr = end - recStart - ((l > 0 ? chunk[l - 1] === CR : prevCr) ? 1 : 0);
        if (lenNoCr > 0) {
          if (header === null) header = p.copy(recStart - p.start, end + 1 - p.start);
          else rows++;
        }
        recStart = end + 1;
        if (header !== null) {
          cut = end + 1;
          cutRows = rows;
          cutLines = lines;
        }
        i = l + 1;
      } else if (qAt < n) {
        inQuotes = true;
        i = qAt + 1;
      } else i = n;
    }
    prevCr = n > 0 && chunk[n - 1] === CR;
    if (header !== null && p.length >= pieceBytes && cut > p.start) {
      const shift = shiftHere();
      const bytes = p.take(cut - p.start, prefixHere(), none);
      rowsBefore += cutRows;
      linesBefore += cutLines;
      rows -= cutRows;
      lines -= cutLines;
      cutRows = 0;
      cutLines = 0;
      yield bytesPiece(input.name, bytes, shift);
    } else if (p.length > slack(pieceBytes)) {
      yield tailPiece(input, header === null ? 0 : p.start, header === null ? none : prefixHere(), shiftHere());
      return;
    }
  }
  if (header === null) yield tailPiece(input, 0, none, shiftHere());
  else if (p.length > 0) {
    const shift = shiftHere();
    yield bytesPiece(input.name, p.take(p.length, prefixHere(), none), shift);
  }
}

const PRELUDE = /^\s*"rows"\s*:\s*$/i;

/**
 * `.json`: cuts between elements of the rows array, tracking strings, escapes and depth exactly as
 * the reader's JsonRowSplitter does, and only where a `{` follows a top-level comma. A piece is
 * `[` (or `{"rows":[`) + its elements + `]` (`]}`), the first piece keeps the file's own start
 * and the last its own end, so the thread's reader checks the document's frame itself.
 */
async function* jsonPieces(input: ByteInput, pieceBytes: number): AsyncGenerator<Piece> {
  const p = new Pending();
  const none = new Uint8Array(0);
  let phase: 'start' | 'prelude' | 'array' | 'element' | 'end' = 'start';
  let prelude = '';
  let wrapped = false;
  let depth = 0;
  let inStr = false;
  let esc = false;
  let expectComma = false;
  let afterComma = false;
  let comma = -1; // file offset of the last top-level comma
  let rowsBefore = 0;
  let rowsInPiece = 0;
  let pos = 0; // file offset of chunk[0]
  const prefix = (): Uint8Array => (p.start === 0 ? none : ascii(wrapped ? '{"rows":[' : '['));
  const shift = (): PieceShift => ({ row: rowsBefore, byte: p.start, prefix: prefix().length, line: 0 });
  const tail = (): Piece => tailPiece(input, p.start, prefix(), shift());
  for await (const chunk of input.stream(0)) {
    p.push(chunk);
    const n = chunk.length;
    let i = 0;
    if (pos === 0 && n >= 3 && chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf) i = 3;
    while (i < n) {
      const c = chunk[i]!;
      switch (phase) {
        case 'start':
          if (WS[c] === 1) break;
          if (c === 0x5b) phase = 'array';
          else if (c === 0x7b) {
            phase = 'prelude';
            wrapped = true;
          } else {
            yield tail();
            return;
          }
          break;
        case 'prelude':
          if (c === 0x5b) {
            if (!PRELUDE.test(prelude)) {
              yield tail();
              return;
            }
            phase = 'array';
          } else {
            prelude += String.fromCharCode(c);
            if (prelude.length > 1024 || c === 0x7b || c === 0x7d || c === 0x5d) {
              yield tail();
              return;
            }
          }
          break;
        case 'array':
          if (WS[c] === 1) break;
          if (c === 0x7b && !expectComma) {
            const at = pos + i;
            if (afterComma && at - p.start >= pieceBytes) {
              const pre = prefix();
              const sh = shift();
              const bytes = p.take(comma - p.start, pre, ascii(wrapped ? ']}' : ']'));
              // Drop the comma and the blanks up to this element.
              p.take(at - p.start, none, none);
              rowsBefore += rowsInPiece;
              rowsInPiece = 0;
              yield bytesPiece(input.name, bytes, sh);
            }
            phase = 'element';
            depth = 1;
            inStr = false;
            esc = false;
          } else if (c === 0x2c && expectComma) {
            expectComma = false;
            afterComma = true;
            comma = pos + i;
          } else if (c === 0x5d && !afterComma) phase = 'end';
          else {
            // Not a row boundary the reader accepts: it reports the error itself.
            yield tail();
            return;
          }
          break;
        case 'element': {
          if (inStr) {
            // Runs of plain string bytes need no per-byte look.
            if (esc) esc = false;
            else if (c === BACKSLASH) esc = true;
            else if (c === QUOTE) inStr = false;
            break;
          }
          if (c === QUOTE) inStr = true;
          else if (c === 0x5b) {
            depth++;
            // Number arrays (vectors) hold no quote or bracket before their ']': skip to it natively.
            const d = chunk[i + 1];
            if (d !== undefined && (d === 0x2d || (d >= 0x30 && d <= 0x39))) {
              const close = chunk.indexOf(0x5d, i + 1);
              if (close > 0 && noStructure(chunk, i + 1, close)) i = close - 1;
            }
          } else if (c === 0x7b) depth++;
          else if (c === 0x7d || c === 0x5d) {
            depth--;
            if (depth === 0) {
              phase = 'array';
              expectComma = true;
              afterComma = false;
              rowsInPiece++;
            }
          }
          break;
        }
        case 'end':
          break;
      }
      i++;
    }
    pos += n;
    if (p.length > slack(pieceBytes)) {
      yield tail();
      return;
    }
  }
  if (p.length > 0 || p.start === 0) {
    const sh = shift();
    yield bytesPiece(input.name, p.take(p.length, prefix(), none), sh);
  }
}

/** True when [from, to) holds no quote, '[' or '{'. */
function noStructure(chunk: Uint8Array, from: number, to: number): boolean {
  for (const b of [QUOTE, 0x5b, 0x7b]) {
    const at = chunk.indexOf(b, from);
    if (at >= 0 && at < to) return false;
  }
  return true;
}

interface NpyLayout {
  /** The header text (magic, version, length and dict) up to the data. */
  readonly head: Uint8Array;
  readonly dataOffset: number;
  readonly rows: number;
  readonly rowBytes: number;
}

/**
 * The few header facts needed to cut a `.npy` by rows, or null for anything the reader should look
 * at itself (odd version, dtype, Fortran order, size not matching the shape exactly).
 */
async function npyLayout(input: ByteInput, maxRowBytes: number): Promise<NpyLayout | null> {
  const pre = await input.slice(0, 12);
  if (pre.length < 10 || pre[0] !== 0x93 || ascii('NUMPY').some((b, k) => pre[k + 1] !== b)) return null;
  const major = pre[6];
  const start = major === 1 ? 10 : 12;
  const len =
    major === 1
      ? pre[8]! | (pre[9]! << 8)
      : major === 2 || major === 3
        ? new DataView(pre.buffer, pre.byteOffset).getUint32(8, true)
        : -1;
  if (len < 0 || len > 1 << 20 || pre.length < start) return null;
  const head = await input.slice(0, start + len);
  if (head.length !== start + len) return null;
  const text = Buffer.from(head.subarray(start)).toString('latin1');
  const descr = /'descr'\s*:\s*'([<>|=])([biufUS])(\d*)'/.exec(text);
  const shape = /'shape'\s*:\s*\((\d+)\s*(?:,((?:\s*\d+\s*,?)*))?\)/.exec(text);
  if (descr === null || shape === null || !/'fortran_order'\s*:\s*False/.test(text)) return null;
  const n = Number(descr[3] === '' ? '1' : descr[3]);
  const item = descr[2] === 'U' ? 4 * n : n;
  const rest = (shape[2] ?? '').split(',').filter((s) => s.trim() !== '');
  const rowBytes = rest.reduce((a, d) => a * Number(d), item);
  const rows = Number(shape[1]);
  const dataOffset = start + len;
  if (!Number.isSafeInteger(rows) || rowBytes <= 0 || input.byteLength !== dataOffset + rows * rowBytes) return null;
  // A row wider than a piece is left to the reader, which checks it against IMPORT_MAX_PAGE_BYTES
  // before reading it (a piece holds at least one row of every file).
  if (rowBytes > maxRowBytes) return null;
  return { head, dataOffset, rows, rowBytes };
}

/** The header with its row count replaced, padded with spaces to the same length (same data offset). */
function npyHeadFor(l: NpyLayout, rows: number): Uint8Array {
  const text = Buffer.from(l.head).toString('latin1');
  const at = text.search(/'shape'\s*:\s*\(/);
  const open = text.indexOf('(', at) + 1;
  const digits = /^\d+/.exec(text.slice(open))![0];
  const body = text.slice(0, open) + String(rows) + text.slice(open + digits.length);
  const nl = body.lastIndexOf('\n');
  const padded = body.slice(0, nl) + ' '.repeat(text.length - body.length) + body.slice(nl);
  return Buffer.from(padded, 'latin1');
}

/**
 * NumPy group: row ranges, each member file becoming a small `.npy` of its own (the header with
 * the range's row count, then the range's data), so the reader checks dtypes and decodes as usual.
 */
async function* numpyPieces(inputs: readonly ByteInput[], pieceBytes: number): AsyncGenerator<Piece> {
  const layouts = await Promise.all(inputs.map((input) => npyLayout(input, pieceBytes)));
  const rows = layouts[0]?.rows ?? -1;
  if (rows <= 0 || layouts.some((l) => l === null || l.rows !== rows)) {
    yield wholeGroupPiece(inputs);
    return;
  }
  const ls = layouts as NpyLayout[];
  const perRow = ls.reduce((a, l) => a + l.rowBytes, 0);
  const step = Math.max(1, Math.floor(pieceBytes / perRow));
  for (let r0 = 0; r0 < rows; r0 += step) {
    const r1 = Math.min(rows, r0 + step);
    const files = await Promise.all(
      inputs.map(async (input, k) => {
        const l = ls[k]!;
        const head = npyHeadFor(l, r1 - r0);
        const data = await input.slice(l.dataOffset + r0 * l.rowBytes, l.dataOffset + r1 * l.rowBytes);
        const bytes = new Uint8Array(head.length + data.length);
        bytes.set(head, 0);
        bytes.set(data, head.length);
        return { kind: 'bytes' as const, name: input.name, bytes };
      }),
    );
    const fileBytes = Object.fromEntries(inputs.map((input, k) => [input.name, r0 * ls[k]!.rowBytes]));
    yield {
      inputs: files,
      shift: { row: r0, byte: 0, prefix: 0, line: 0, fileBytes },
      bytes: files.reduce((a, f) => a + f.bytes.length, 0),
      ...(r0 === 0 ? { groupRows: rows } : {}),
    };
  }
}
