import type { EgressGuard } from './egress';
import type { ClosableObjectSource, ObjectSource, ObjectStat } from './object-source';

/**
 * Our ValidatedStorageDriver: before the first operation of any driver, the host it will contact
 * is resolved and every address checked (fails fast on literal private IPs, denied names and
 * private resolutions). The connect-time `lookup` of each driver repeats the check for every new
 * socket, which is what stops DNS rebinding; this wrapper makes the refusal early and uniform.
 */
export function guarded(inner: ObjectSource, guard: EgressGuard, host: string): ClosableObjectSource {
  let checked: Promise<unknown> | undefined;
  const check = () =>
    (checked ??= guard.resolve(host).catch((e: unknown) => {
      checked = undefined;
      throw e;
    }));
  return {
    close(): void {
      (inner as Partial<ClosableObjectSource>).close?.();
    },
    async stat(key: string, signal?: AbortSignal): Promise<ObjectStat> {
      await check();
      return inner.stat(key, signal);
    },
    async *list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectStat> {
      await check();
      yield* inner.list(prefix, signal);
    },
    async readRange(key: string, start: number, end: number, signal?: AbortSignal): Promise<Uint8Array> {
      await check();
      return inner.readRange(key, start, end, signal);
    },
    async *stream(key: string, from?: number, signal?: AbortSignal): AsyncIterable<Uint8Array> {
      await check();
      yield* inner.stream(key, from, signal);
    },
  };
}
