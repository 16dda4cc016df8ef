import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { FormatError, FormatErrorCode } from '@gw/formats';
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
});
