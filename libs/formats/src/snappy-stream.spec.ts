import { describe, expect, it } from 'vitest';
import { snappyUncompress } from 'hyparquet';
import { snappyCompress } from 'hyparquet-writer/src/snappy.js';
import { HISTORY, PageSink } from './page-sink';
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

  it('decodes into a sliding PageSink, keeping HISTORY behind the write position; a copy reaching further fails', async () => {
    // 12 MB of the sample with a byte varied per copy; a reader that consumes at once: the window
    // holds HISTORY and a few MB, not the page.
    const one = sample();
    const data = new Uint8Array(one.length * 480);
    for (let k = 0; k < 480; k++) {
      data.set(one, k * one.length);
      data[k * one.length] = k & 255;
    }
    const compressed = snappyCompress(data);
    const sink = new PageSink(data.length, new Uint8Array(64 << 10));
    sink.slide();
    const got: Uint8Array[] = [];
    let taken = 0;
    const d = new SnappyStreamDecoder(sink, data.length);
    for (let at = 0; at < compressed.length; at += 100_000) {
      d.push(compressed.subarray(at, at + 100_000), at + 100_000 >= compressed.length);
      got.push(sink.buf.slice(taken - sink.base, sink.written - sink.base));
      taken = sink.written;
      sink.keepFrom = taken;
    }
    expect(Buffer.concat(got).equals(Buffer.from(data))).toBe(true);
    expect(sink.buf.length).toBeLessThan(data.length / 2);

    // A literal of HISTORY + 64 KiB bytes, then a copy from its first byte (4-byte offset).
    const lit = HISTORY + (64 << 10);
    const total = lit + 4;
    const head = [];
    for (let v = total; ; v = Math.floor(v / 128)) {
      head.push(v < 128 ? v : (v & 127) | 128);
      if (v < 128) break;
    }
    const stream = Buffer.concat([
      Buffer.from(head),
      Buffer.from([62 << 2, (lit - 1) & 255, ((lit - 1) >> 8) & 255, ((lit - 1) >> 16) & 255]),
      Buffer.alloc(lit, 7),
      Buffer.from([(3 << 2) | 3, lit & 255, (lit >> 8) & 255, (lit >> 16) & 255, 0]),
    ]);
    const far = new PageSink(total, new Uint8Array(lit)); // full after the literal: the copy makes it slide
    far.slide();
    const dec = new SnappyStreamDecoder(far, total);
    dec.push(stream.subarray(0, stream.length - 5), false);
    far.keepFrom = far.written;
    expect(() => dec.push(stream.subarray(stream.length - 5), true)).toThrow(
      /a copy reaches back \d+ bytes, more than the \d+ kept/,
    );
    // The same stream into a whole buffer decodes.
    const whole = new Uint8Array(total);
    new SnappyStreamDecoder(whole).push(stream, true);
    expect(whole.subarray(lit)).toEqual(Uint8Array.of(7, 7, 7, 7));
  });
});
