/**
 * Repetition and definition levels: Parquet's RLE/bit-packed hybrid decoded into a typed array
 * (docs/decisions/0206-parquet-decoding-speed.md). Same results as hyparquet's
 * `readRleBitPackedHybrid`, which writes one value at a time through a generic bit reader: here an
 * RLE run is one native `fill` and bit-packed groups of width 1 and 2 (the levels of a list
 * column) are unpacked a byte at a time. Levels were ~12 % of the time to read a vector file.
 */

export type Levels = Uint8Array | Uint32Array;

interface DataReader {
  view: DataView;
  offset: number;
}

function readVarInt(reader: DataReader): number {
  const view = reader.view;
  let result = 0;
  let shift = 0;
  for (;;) {
    const byte = view.getUint8(reader.offset++);
    result |= (byte & 0x7f) << shift;
    if ((byte & 0x80) === 0) return result >>> 0;
    shift += 7;
    if (shift > 28) throw new Error('parquet levels: varint too long');
  }
}

/** Set bits of each byte. */
const ONES = Uint8Array.from({ length: 256 }, (_, x) => {
  let n = 0;
  for (let b = x; b !== 0; b >>>= 1) n += b & 1;
  return n;
});

/** For v in 0–3: how many of the four 2-bit fields of byte x equal v, at [v·256 + x]; [4·256 + x] is 0. */
const FIELDS2 = Uint8Array.from({ length: 5 * 256 }, (_, i) => {
  const v = i >>> 8;
  const x = i & 255;
  let n = 0;
  for (let k = 0; k < 8; k += 2) if (v < 4 && ((x >>> k) & 3) === v) n++;
  return n;
});

/**
 * Decodes `out.length` levels of `width` bits. `length` is the encoded byte length; when omitted it
 * is read from a 4-byte prefix (data page v1). The reader ends after the encoded bytes.
 *
 * Returns how many levels equal `countOf` (-1: none): counted per run and per byte while decoding,
 * so callers learn the rows of a page (repetition level 0) or its non-null values (definition
 * level = max) without another pass over millions of levels.
 */
export function readLevels(reader: DataReader, width: number, out: Levels, length?: number, countOf = -1): number {
  const view = reader.view;
  if (length === undefined) {
    length = view.getUint32(reader.offset, true);
    reader.offset += 4;
  }
  const start = reader.offset;
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  const n = out.length;
  const valueBytes = (width + 7) >> 3;
  let seen = 0;
  let matches = 0;
  while (seen < n) {
    const header = readVarInt(reader);
    if ((header & 1) === 0) {
      // RLE run: one value, repeated.
      const count = header >>> 1;
      let value = 0;
      for (let i = 0; i < valueBytes; i++) value |= view.getUint8(reader.offset++) << (i << 3);
      const end = Math.min(n, seen + count);
      out.fill(value, seen, end);
      if (value === countOf) matches += end - seen;
      seen += count;
      continue;
    }
    // Bit-packed: groups of 8 values, `width` bytes per group.
    const groups = header >>> 1;
    const at = reader.offset;
    const size = groups * width;
    if (at + size > bytes.length) throw new Error(`parquet bitpack offset ${bytes.length} out of range`);
    const stop = Math.min(n, seen + groups * 8);
    if (width === 1) {
      let b = at;
      let ones = 0;
      const from = seen;
      for (; seen + 8 <= stop; seen += 8) {
        const x = bytes[b++]!;
        ones += ONES[x]!;
        out[seen] = x & 1;
        out[seen + 1] = (x >>> 1) & 1;
        out[seen + 2] = (x >>> 2) & 1;
        out[seen + 3] = (x >>> 3) & 1;
        out[seen + 4] = (x >>> 4) & 1;
        out[seen + 5] = (x >>> 5) & 1;
        out[seen + 6] = (x >>> 6) & 1;
        out[seen + 7] = x >>> 7;
      }
      if (countOf === 1) matches += ones;
      else if (countOf === 0) matches += seen - from - ones;
      for (let k = 0; seen < stop; k++) {
        const v = (bytes[b]! >>> k) & 1;
        out[seen++] = v;
        if (v === countOf) matches++;
      }
    } else if (width === 2) {
      let b = at;
      const table = (countOf >= 0 && countOf <= 3 ? countOf : 4) << 8;
      for (; seen + 4 <= stop; seen += 4) {
        const x = bytes[b++]!;
        matches += FIELDS2[table + x]!;
        out[seen] = x & 3;
        out[seen + 1] = (x >>> 2) & 3;
        out[seen + 2] = (x >>> 4) & 3;
        out[seen + 3] = x >>> 6;
      }
      for (let k = 0; seen < stop; k += 2) {
        const v = (bytes[b]! >>> k) & 3;
        out[seen++] = v;
        if (v === countOf) matches++;
      }
    } else if (width <= 24) {
      // Integer bit reader (dictionary indices of up to 16M entries): at most 31 bits pending.
      const mask = (1 << width) - 1;
      let b = at;
      let data = 0;
      let bits = 0;
      for (; seen < stop; seen++) {
        while (bits < width) {
          data |= (bytes[b++] ?? 0) << bits;
          bits += 8;
        }
        const v = data & mask;
        data >>>= width;
        bits -= width;
        out[seen] = v;
        if (v === countOf) matches++;
      }
    } else {
      const range = 2 ** width;
      let bit = at * 8;
      for (; seen < stop; seen++, bit += width) {
        // Up to 32 bits from the bytes around `bit`, little-endian.
        let b = bit >>> 3;
        const shift = bit & 7;
        let acc = 0;
        let got = 0;
        for (; got < shift + width; got += 8) acc += (bytes[b++] ?? 0) * 2 ** got;
        const v = Math.floor(acc / 2 ** shift) % range;
        out[seen] = v;
        if (v === countOf) matches++;
      }
    }
    reader.offset = at + size;
  }
  // DuckDB writes an empty block after the levels; the length says where they end.
  reader.offset = start + length;
  return matches;
}

/**
 * Where encoded levels lie, without moving the reader: `length` given (data page v2) or read from
 * the 4-byte prefix (v1); `next` is where readLevels leaves the reader. null when the prefix is cut.
 */
function encodedSpan(
  reader: DataReader,
  length?: number,
): { view: DataView; start: number; end: number; next: number } | null {
  const view = reader.view;
  let start = reader.offset;
  if (length === undefined) {
    if (start + 4 > view.byteLength) return null;
    length = view.getUint32(start, true);
    start += 4;
  }
  return { view, start, end: Math.min(view.byteLength, start + length), next: start + length };
}

/**
 * Whether all `n` levels equal `value` with an encoding of nothing but RLE runs of it (a page with
 * no null: definition levels all at the maximum). Reads run headers only, so such levels need no
 * array; when true the reader is past the levels, else where it was (for readLevels). `length` as
 * in readLevels.
 */
export function allLevelsAre(reader: DataReader, width: number, n: number, value: number, length?: number): boolean {
  const span = encodedSpan(reader, length);
  if (span === null) return false;
  const { view, end } = span;
  const valueBytes = (width + 7) >> 3;
  const probe = { view, offset: span.start };
  let seen = 0;
  try {
    while (seen < n) {
      if (probe.offset >= end) return false;
      const header = readVarInt(probe);
      if ((header & 1) !== 0 || probe.offset + valueBytes > end) return false;
      let v = 0;
      for (let i = 0; i < valueBytes; i++) v |= view.getUint8(probe.offset++) << (i << 3);
      if (v !== value) return false;
      seen += header >>> 1;
    }
  } catch {
    return false; // a malformed header: readLevels reports it
  }
  reader.offset = span.next;
  return true;
}

/**
 * For repetition levels of one bit (a list column): the row length when every row of the page has
 * that many levels — 0 then 1s, the rows of a FloatVector column — read from the encoding without
 * decoding it into an array (an RLE run is checked whole, a bit-packed group value by value). On a
 * match the reader is past the levels; else 0 and the reader where it was. `length` as in readLevels.
 */
export function regularRepetition(reader: DataReader, n: number, length?: number): number {
  const span = encodedSpan(reader, length);
  if (span === null) return 0;
  const { view, end } = span;
  const probe = { view, offset: span.start };
  let stride = 0; // unknown until the second row starts
  let p = 0;
  /** Whether level `v` may stand at position `q`. */
  const fits = (q: number, v: number): boolean => {
    if (q === 0) return v === 0;
    if (v === 0) {
      if (stride === 0) stride = q;
      return q % stride === 0;
    }
    return v === 1 && (stride === 0 || q % stride !== 0);
  };
  try {
    while (p < n) {
      if (probe.offset >= end) return 0;
      const header = readVarInt(probe);
      if ((header & 1) === 0) {
        const count = Math.min(header >>> 1, n - p);
        if (probe.offset >= end || count === 0) return 0;
        const v = view.getUint8(probe.offset++);
        if (!fits(p, v)) return 0;
        if (count > 1) {
          if (v === 0 && !fits(p + 1, 0)) return 0; // a run of zeros: rows of one level
          // A run of ones must not cross a row start.
          if (v === 1 && stride !== 0 && Math.floor(p / stride) !== Math.floor((p + count - 1) / stride)) return 0;
        }
        p += count;
        continue;
      }
      const groups = header >>> 1;
      if (probe.offset + groups > end) return 0;
      for (let g = 0; g < groups && p < n; g++) {
        const x = view.getUint8(probe.offset + g);
        for (let k = 0; k < 8 && p < n; k++, p++) if (!fits(p, (x >>> k) & 1)) return 0;
      }
      probe.offset += groups;
    }
  } catch {
    return 0; // a malformed header: readLevels reports it
  }
  if (n === 0) return 0;
  if (stride === 0) stride = n; // one row
  if (n % stride !== 0) return 0; // the last row is cut (continued by the next page)
  reader.offset = span.next;
  return stride;
}
