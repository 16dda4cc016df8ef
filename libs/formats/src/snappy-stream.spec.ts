import { describe, expect, it } from 'vitest';
import { snappyUncompress } from 'hyparquet';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import { SnappyStreamDecoder } from './snappy-stream';

/** Text with long and short repeats (copies with 1-, 2- and overlapping offsets) and long literals. */
function sample(): Uint8Array {
  const parts: string[] = [];
  let x = 12345;
  for (let i = 0; i < 4000; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    parts.push(
      i % 5 === 0
        ? 'aaaaaaaaaaaaaaaa'
        : i % 7 === 0
          ? `row-${i % 13}-`
          : String.fromCharCode(33 + (x % 90)).repeat(1 + (x % 3)),
    );
    if (i % 500 === 0)
      parts.push(Array.from({ length: 300 }, (_, k) => String.fromCharCode(33 + ((x >> (k % 24)) % 90))).join(''));
  }
  return new TextEncoder().encode(parts.join(''));
}

function decodeInChunks(compressed: Uint8Array, size: number, chunk: (i: number) => number): Uint8Array {
  const out = new Uint8Array(size);
  const d = new SnappyStreamDecoder(out);
  let at = 0;
  for (let i = 0; at < compressed.length; i++) {
    const end = Math.min(compressed.length, at + chunk(i));
    d.push(compressed.subarray(at, end), end >= compressed.length);
    at = end;
  }
  return out;
}

describe('SnappyStreamDecoder', () => {
  const input = sample();
  const compressed = snappyCompress(input);

  it('decodes what a real snappy writer wrote, whatever the chunk boundaries', () => {
    const reference = new Uint8Array(input.length);
    snappyUncompress(compressed, reference);
    expect(reference).toEqual(input); // the writer and hyparquet's decoder agree
    for (const sizes of [
      (): number => 1,
      (i: number): number => 1 + (i % 7),
      (): number => 4096,
      (): number => compressed.length,
    ]) {
      expect(decodeInChunks(compressed, input.length, sizes)).toEqual(input);
    }
  });

  it('refuses a stream cut short, a size other than the page header says, and a copy before the start', () => {
    expect(() => decodeInChunks(compressed.subarray(0, compressed.length - 3), input.length, () => 100)).toThrow(
      /snappy: (stream ends inside an element|decompressed \d+ bytes, expected \d+)/,
    );
    expect(() => decodeInChunks(compressed, input.length + 1, () => 100)).toThrow(
      `snappy: stream says ${input.length} bytes, the page header says ${input.length + 1}`,
    );
    // preamble 8, then a 2-byte-offset copy of 4 bytes from offset 9 with nothing written yet
    expect(() => decodeInChunks(Uint8Array.of(8, 0b00001110, 9, 0), 8, () => 4)).toThrow(
      'snappy: copy offset 9 out of range',
    );
  });
});
