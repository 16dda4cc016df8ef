import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, FormatErrorCode } from '@gw/formats';
import { fieldOf } from '@gw/schema';
import { releaseChunkParts } from '@gw/sink';
import { ParsePool } from './parse-pool';
import { NO_SHIFT } from './protocol';

const HOG = resolve(__dirname, '../../../../test/support/threads/heap-hog.cjs');

describe('ParsePool', () => {
  it('fails only the task of a thread that ran out of heap, naming its file, and keeps the process alive', async () => {
    const pool = new ParsePool(1, HOG);
    try {
      const { done } = pool.run(
        {
          format: 'jsonl',
          schema: { fields: [], enableDynamicField: true },
          readOptions: { batchRows: 10 },
          layout: { fields: [], dynamicField: true } as never,
          inputs: [{ kind: 'remote', name: 'http://127.0.0.1/huge.jsonl', byteLength: 10, index: 0 }],
          shift: NO_SHIFT,
          chunkBytes: 1 << 20,
        },
        { onChunk: () => undefined, onKnownRows: () => undefined, onRead: async () => null },
      );
      const e = await done.then(
        () => null,
        (err: unknown) => err,
      );
      expect(e).toBeInstanceOf(FormatError);
      expect((e as FormatError).code).toBe(FormatErrorCode.TooLarge);
      expect((e as FormatError).message).toBe(
        "http://127.0.0.1/huge.jsonl: reading it took more than a parse thread's 256 MB heap",
      );
    } finally {
      await pool.close();
    }
  }, 60_000);

  it('sends a chunk buffer back to its thread once released (sent by the COPY), and the next chunks stay exact', async () => {
    const pool = new ParsePool(1);
    try {
      const fields = [fieldOf('id', 'Int64', { isPrimary: true }), fieldOf('v', 'FloatVector', { dim: 4 })];
      const rows = 3000;
      const text = Array.from({ length: rows }, (_, i) => JSON.stringify({ id: i, v: [i, 1, 2, 3] })).join('\n');
      const run = async (): Promise<Uint8Array[]> => {
        const chunks: Uint8Array[] = [];
        const { done } = pool.run(
          {
            format: 'jsonl',
            schema: { fields, enableDynamicField: false },
            readOptions: { batchRows: 500 },
            layout: { fields, storage: { vectorType: 'array', halfvec: false }, dynamicField: false },
            inputs: [{ kind: 'bytes', name: 'r.jsonl', bytes: new TextEncoder().encode(text) }],
            shift: NO_SHIFT,
            chunkBytes: 1 << 20,
          },
          { onChunk: (b) => chunks.push(b), onKnownRows: () => undefined, onRead: async () => null },
        );
        await done;
        return chunks;
      };
      const first = await run();
      expect(first.length).toBeGreaterThan(1); // 64 rows first, then the rest
      const copies = first.map((c) => c.slice());
      for (const c of first) {
        expect(c.buffer.byteLength).toBeGreaterThan(0);
        releaseChunkParts([c]);
        // Transferred back to the thread: detached here, so nothing on this side can read it.
        expect(c.buffer.byteLength).toBe(0);
      }
      // The thread fills the returned buffers again: the second run's bytes equal the first's.
      const second = await run();
      expect(second.map((c) => Buffer.from(c).toString('hex'))).toEqual(
        copies.map((c) => Buffer.from(c).toString('hex')),
      );
    } finally {
      await pool.close();
    }
  }, 60_000);
});
