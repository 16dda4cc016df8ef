import { describe, expect, it } from 'vitest';
import { readRleBitPackedHybrid } from 'hyparquet/src/encoding.js';
import { ByteWriter } from 'hyparquet-writer/src/bytewriter.js';
import { writeRleBitPackedHybrid } from 'hyparquet-writer/src/encoding.js';
import { allLevelsAre, readLevels, regularRepetition } from './parquet-levels';
import { regularRowLength } from './parquet-pages';

/** Deterministic pseudo-random numbers, so a failure can be replayed. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 4294967296;
  };
}

/** Levels of `width` bits in runs of random lengths: long runs become RLE, short ones bit-packed. */
function levelsOf(n: number, width: number, seed: number): number[] {
  const r = rng(seed);
  const max = 2 ** width - 1;
  const out: number[] = [];
  while (out.length < n) {
    const run = r() < 0.5 ? 1 + Math.floor(r() * 4) : 8 + Math.floor(r() * 300);
    const v = r() < 0.3 ? max : Math.floor(r() * (max + 1));
    for (let k = 0; k < run && out.length < n; k++) out.push(v);
  }
  return out;
}

/** The hybrid encoding of `values` as a real writer (hyparquet-writer) produces it. */
function encode(values: number[], width: number): Uint8Array {
  const w = new ByteWriter();
  writeRleBitPackedHybrid(w, values, width);
  return new Uint8Array(w.getBuffer());
}

function reader(bytes: Uint8Array): { view: DataView; offset: number } {
  return { view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 };
}

describe('readLevels decodes the RLE/bit-packed hybrid exactly as hyparquet does', () => {
  it('for every bit width from 1 to 17, RLE and bit-packed runs mixed, into Uint8Array and Uint32Array', () => {
    for (let width = 1; width <= 17; width++) {
      for (const seed of [1, 2, 3]) {
        const n = 1 + Math.floor(rng(seed * 31 + width)() * 5000);
        const values = levelsOf(n, width, seed * 100 + width);
        const bytes = encode(values, width);
        const want = new Uint32Array(n);
        readRleBitPackedHybrid(reader(bytes), width, want, bytes.length);
        const wide = new Uint32Array(n);
        const r = reader(bytes);
        const max = 2 ** width - 1;
        const count = readLevels(r, width, wide, bytes.length, max);
        expect(count, `levels equal to ${max}`).toBe(values.filter((v) => v === max).length);
        expect(Array.from(wide), `width ${width}, seed ${seed}`).toEqual(Array.from(want));
        expect(Array.from(wide)).toEqual(values);
        expect(r.offset).toBe(bytes.length);
        if (width <= 8) {
          const narrow = new Uint8Array(n);
          const zeros = readLevels(reader(bytes), width, narrow, bytes.length, 0);
          expect(Array.from(narrow), `width ${width}, seed ${seed}, Uint8Array`).toEqual(values);
          expect(zeros, 'levels equal to 0').toBe(values.filter((v) => v === 0).length);
          expect(readLevels(reader(bytes), width, narrow, bytes.length)).toBe(0);
        }
      }
    }
  });

  it('reads the 4-byte length of data page v1 and ends after it, past an empty trailing block', () => {
    const values = levelsOf(1000, 2, 9);
    const body = encode(values, 2);
    // DuckDB writes an empty block after its levels; the length prefix covers it.
    const bytes = new Uint8Array(4 + body.length + 2 + 3);
    new DataView(bytes.buffer).setUint32(0, body.length + 2, true);
    bytes.set(body, 4);
    bytes.set([0xaa, 0xbb, 0xcc], 4 + body.length + 2);
    const out = new Uint8Array(values.length);
    const r = reader(bytes);
    readLevels(r, 2, out);
    expect(Array.from(out)).toEqual(values);
    expect(r.offset).toBe(4 + body.length + 2);
  });

  it('stops at the output length when a bit-packed group is padded past it', () => {
    const values = levelsOf(13, 1, 4).map((v, i) => (i % 3 === 0 ? 1 - v : v)); // no run of 8: bit-packed
    const bytes = encode(values, 1);
    const out = new Uint8Array(13);
    const ones = readLevels(reader(bytes), 1, out, bytes.length, 1);
    expect(Array.from(out)).toEqual(values);
    expect(ones).toBe(values.filter((v) => v === 1).length); // the padding is not counted
  });

  it('refuses a bit-packed run that runs past the bytes', () => {
    const values = Array.from({ length: 64 }, (_, i) => (i * 7) % 4);
    const bytes = encode(values, 2).subarray(0, 5);
    expect(() => readLevels(reader(bytes), 2, new Uint8Array(64), bytes.length)).toThrow(
      'parquet bitpack offset 5 out of range',
    );
  });
});

describe('regularRowLength finds pages whose rows all have one length', () => {
  const rep = (rows: number[]): Uint8Array =>
    Uint8Array.from(rows.flatMap((len) => [0, ...Array<number>(len - 1).fill(1)]));
  const regular = (levels: Uint8Array): number =>
    regularRowLength(
      levels,
      levels.length,
      levels.reduce((n, v) => n + (v === 0 ? 1 : 0), 0),
    );

  it('gives the row length of rows of equal length, one row included', () => {
    expect(regular(rep([4, 4, 4]))).toBe(4);
    expect(regular(rep([128]))).toBe(128);
    expect(regular(rep([1, 1, 1, 1]))).toBe(1);
  });

  it('gives 0 for a ragged row anywhere, rows that even out, a page starting mid-row, or no levels', () => {
    expect(regular(rep([4, 4, 3, 5]))).toBe(0);
    expect(regular(rep([4, 4, 5]))).toBe(0);
    expect(regular(rep([4, 4, 4, 2]))).toBe(0);
    expect(regular(rep([2, 6, 4, 4]))).toBe(0); // 16 levels, 4 rows: lengths differ, the sum does not
    expect(regular(rep([3, 3]).subarray(1))).toBe(0);
    expect(regular(new Uint8Array(0))).toBe(0);
  });
});

describe('allLevelsAre sees levels that say nothing from their run headers', () => {
  it('answers true for RLE runs of the value alone and leaves the reader where readLevels would', () => {
    for (const [n, width] of [
      [15_000_000, 2],
      [1, 1],
      [100_000, 3],
    ] as const) {
      const max = 2 ** width - 1;
      const bytes = encode(Array<number>(n).fill(max), width);
      const r = reader(bytes);
      expect(allLevelsAre(r, width, n, max, bytes.length), `n ${n}, width ${width}`).toBe(n >= 8);
      if (n >= 8) expect(r.offset).toBe(bytes.length);
    }
    // Several RLE runs of the same value (a writer that caps runs), with the v1 length prefix.
    const run = (count: number, v: number) => [count << 1, v];
    const body = Uint8Array.from([...run(60, 3), ...run(40, 3), ...run(28, 3)]);
    const bytes = new Uint8Array(4 + body.length + 1);
    new DataView(bytes.buffer).setUint32(0, body.length, true);
    bytes.set(body, 4);
    const r = reader(bytes);
    expect(allLevelsAre(r, 2, 128, 3)).toBe(true);
    expect(r.offset).toBe(4 + body.length);
  });

  it('answers false, the reader untouched, for another value, a bit-packed group, a null, or too few levels', () => {
    const cases: [number[], number][] = [
      [Array<number>(64).fill(2), 3], // all equal, not to the value asked
      [[...Array<number>(50).fill(3), 2, ...Array<number>(50).fill(3)], 3], // one null among them
      [[3, 3, 3, 3, 3], 3], // too short for an RLE run: bit-packed
    ];
    for (const [values, value] of cases) {
      const bytes = encode(values, 2);
      const r = reader(bytes);
      expect(allLevelsAre(r, 2, values.length, value, bytes.length), JSON.stringify(values.slice(0, 3))).toBe(false);
      expect(r.offset).toBe(0);
      const out = new Uint8Array(values.length);
      readLevels(r, 2, out, bytes.length, value);
      expect(Array.from(out)).toEqual(values);
    }
    const bytes = encode(Array<number>(100).fill(3), 2);
    expect(allLevelsAre(reader(bytes), 2, 101, 3, bytes.length)).toBe(false); // 100 levels for 101 values
    expect(allLevelsAre(reader(new Uint8Array([0x80])), 2, 10, 3, 1)).toBe(false); // a cut header
  });
});

describe('regularRepetition finds regular rows from the encoding, as regularRowLength does from the array', () => {
  const repOf = (rows: number[]): number[] => rows.flatMap((len) => [0, ...Array<number>(len - 1).fill(1)]);

  it('agrees with decoding + regularRowLength on regular, ragged, cut and single-row pages', () => {
    const r = rng(7);
    const pages: number[][] = [
      repOf(Array<number>(1000).fill(128)),
      repOf(Array<number>(300).fill(1)),
      repOf(Array<number>(77).fill(3)),
      repOf([128]),
      repOf([5, 5, 5, 4]),
      repOf([4, 5, 5, 5]),
      repOf([2, 6, 4, 4]),
      repOf([3, 3]).slice(1), // starts mid-row
      repOf([8, 8, 8]).slice(0, -1), // last row cut
      [],
    ];
    for (let k = 0; k < 40; k++) {
      const len = 1 + Math.floor(r() * 20);
      const rows = Array.from({ length: 1 + Math.floor(r() * 50) }, () => (r() < 0.9 ? len : 1 + Math.floor(r() * 20)));
      pages.push(repOf(rows));
    }
    for (const levels of pages) {
      const bytes = encode(levels, 1);
      const decoded = new Uint8Array(levels.length);
      const zeros = readLevels(reader(bytes), 1, decoded, bytes.length, 0);
      const want = regularRowLength(decoded, levels.length, zeros);
      const at = reader(bytes);
      const got = regularRepetition(at, levels.length, bytes.length);
      expect(got, `${levels.length} levels: ${levels.slice(0, 12).join('')}…`).toBe(want);
      expect(at.offset).toBe(got > 0 ? bytes.length : 0);
    }
  });

  it('reads the v1 length prefix, and refuses a cut or malformed encoding without moving', () => {
    const levels = repOf(Array<number>(64).fill(16));
    const body = encode(levels, 1);
    const bytes = new Uint8Array(4 + body.length);
    new DataView(bytes.buffer).setUint32(0, body.length, true);
    bytes.set(body, 4);
    const r = reader(bytes);
    expect(regularRepetition(r, levels.length)).toBe(16);
    expect(r.offset).toBe(bytes.length);
    const cut = reader(body.subarray(0, 3));
    expect(regularRepetition(cut, levels.length, 3)).toBe(0);
    expect(cut.offset).toBe(0);
    expect(regularRepetition(reader(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])), 8, 6)).toBe(0);
  });
});
