import type { ByteInput } from '@gw/formats';
import type { ObjectSource, ObjectStat } from '@gw/storage';

/**
 * Adapts one stat-ed object of a source to the readers' ByteInput, so storage and formats never
 * import each other (conventions §2). Reads are pinned to the version seen at stat by the source.
 */
export function objectInput(
  source: ObjectSource,
  stat: ObjectStat,
  name: string,
  signal: AbortSignal,
  onBytes: (n: number) => void,
): ByteInput {
  return {
    name,
    byteLength: stat.size,
    slice: async (start, end) => {
      const stop = Math.min(end ?? stat.size, stat.size);
      if (stop <= start) return new Uint8Array(0);
      const bytes = await source.readRange(stat.key, start, stop, signal);
      onBytes(bytes.length);
      return bytes;
    },
    async *stream(from = 0) {
      for await (const chunk of source.stream(stat.key, from, signal)) {
        onBytes(chunk.length);
        yield chunk;
      }
    },
  };
}
