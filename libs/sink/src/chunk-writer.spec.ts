import { describe, expect, it } from 'vitest';
import { ChunkWriter, releaseChunkParts } from './chunk-writer';

const fill = (w: ChunkWriter, n: number, byte: number) => w.bytes(new Uint8Array(n).fill(byte));

describe('ChunkWriter buffer recycling', () => {
  it('reuses a buffer only once the writer left it and every part of it came back', () => {
    const w = new ChunkWriter(64, { recycle: true });
    fill(w, 40, 1);
    const [a] = w.takeAll(); // a part of the first buffer; the writer still writes into it
    fill(w, 40, 2); // does not fit: the writer moves to a second buffer
    const parts = w.takeAll();
    expect(parts.map((p) => p.length)).toEqual([40]); // 40 of buffer two (buffer one's tail was empty)
    const first = a!.buffer;
    releaseChunkParts([a!]);
    // Buffer one is free now; buffer two is in use (its part is out and the writer is in it).
    fill(w, 40, 3); // moves to a third buffer: the recycled first one
    const [b] = w.takeAll();
    expect(b!.buffer).toBe(first);
    expect([...b!]).toEqual(new Array(40).fill(3));
    // A part still out keeps its buffer from reuse: buffer two's part was never released.
    fill(w, 40, 4);
    const [c] = w.takeAll();
    expect(c!.buffer).not.toBe(parts[0]!.buffer);
    expect(c!.buffer).not.toBe(first);
    expect([...parts[0]!]).toEqual(new Array(40).fill(2));
  });

  it('does not reuse without recycling, and ignores parts of other origin', () => {
    const w = new ChunkWriter(16);
    fill(w, 10, 1);
    const [a] = w.takeAll();
    releaseChunkParts([a!, new Uint8Array(8)]);
    fill(w, 10, 2);
    const [b] = w.takeAll();
    expect([...b!]).toEqual(new Array(10).fill(2));
    expect([...a!]).toEqual(new Array(10).fill(1)); // not written over
  });

  it('gives values larger than a chunk a buffer of their own, never recycled', () => {
    const w = new ChunkWriter(16, { recycle: true });
    fill(w, 40, 7);
    const parts = w.takeAll();
    expect(parts.map((p) => p.length)).toEqual([40]);
    releaseChunkParts(parts);
    fill(w, 40, 8);
    const [b] = w.takeAll();
    expect([...b!]).toEqual(new Array(40).fill(8));
    expect([...parts[0]!]).toEqual(new Array(40).fill(7)); // not written over
  });
});
