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

/**
 * Decodes `out.length` levels of `width` bits. `length` is the encoded byte length; when omitted it
 * is read from a 4-byte prefix (data page v1). The reader ends after the encoded bytes.
 */
export function readLevels(reader: DataReader, width: number, out: Levels, length?: number): void {
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
  while (seen < n) {
    const header = readVarInt(reader);
    if ((header & 1) === 0) {
      // RLE run: one value, repeated.
      const count = header >>> 1;
      let value = 0;
      for (let i = 0; i < valueBytes; i++) value |= view.getUint8(reader.offset++) << (i << 3);
      out.fill(value, seen, Math.min(n, seen + count));
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
      for (; seen + 8 <= stop; seen += 8) {
        const x = bytes[b++]!;
        out[seen] = x & 1;
        out[seen + 1] = (x >>> 1) & 1;
        out[seen + 2] = (x >>> 2) & 1;
        out[seen + 3] = (x >>> 3) & 1;
        out[seen + 4] = (x >>> 4) & 1;
        out[seen + 5] = (x >>> 5) & 1;
        out[seen + 6] = (x >>> 6) & 1;
        out[seen + 7] = x >>> 7;
      }
      for (let k = 0; seen < stop; k++) out[seen++] = (bytes[b]! >>> k) & 1;
    } else if (width === 2) {
      let b = at;
      for (; seen + 4 <= stop; seen += 4) {
        const x = bytes[b++]!;
        out[seen] = x & 3;
        out[seen + 1] = (x >>> 2) & 3;
        out[seen + 2] = (x >>> 4) & 3;
        out[seen + 3] = x >>> 6;
      }
      for (let k = 0; seen < stop; k += 2) out[seen++] = (bytes[b]! >>> k) & 3;
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
        out[seen] = Math.floor(acc / 2 ** shift) % range;
      }
    }
    reader.offset = at + size;
  }
  // DuckDB writes an empty block after the levels; the length says where they end.
  reader.offset = start + length;
}
