import { describe, expect, it } from 'vitest';
import type { ObjectStat, ReadPin } from './object-source';
import { ResilientSource, type RawDriver, type RawRead } from './resilient';
import { StorageErrorCode, storageErrors, type StorageError } from './storage.errors';

const DATA = Uint8Array.from({ length: 10_000 }, (_, i) => (i * 7) % 251);

type Behaviour = (call: number, start: number) => 'ok' | 'stall-half' | 'fail-503' | 'fail-403' | 'reset-half';

/** A driver over an in-memory object whose reads misbehave as told, recording every call. */
function fakeDriver(behave: Behaviour, version = 'v1') {
  const calls: { start: number; end: number; pin?: ReadPin }[] = [];
  let stats = 0;
  const raw: RawDriver = {
    display: (k) => `mem://b/${k}`,
    stat: async (key): Promise<ObjectStat> => {
      stats++;
      return { key, size: DATA.length, version };
    },
    listPage: async () => ({ items: [] }),
    get: async (_key, start, end, pin): Promise<RawRead> => {
      calls.push({ start, end, ...(pin === undefined ? {} : { pin }) });
      const mode = behave(calls.length, start);
      if (mode === 'fail-503') throw storageErrors.transient('mem://b/k', 'HTTP 503');
      if (mode === 'fail-403') throw storageErrors.accessDenied('mem://b/k');
      const half = start + Math.floor((end - start) / 2);
      let cancelled = false;
      async function* body() {
        for (let p = start; p < end; p += 1000) {
          if (cancelled) return;
          if (p >= half && mode === 'stall-half') await new Promise((r) => setTimeout(r, 10_000));
          if (p >= half && mode === 'reset-half')
            throw Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
          yield DATA.subarray(p, Math.min(p + 1000, end));
        }
      }
      return { body: body(), version, total: DATA.length, cancel: () => (cancelled = true) };
    },
  };
  return { raw, calls, stats: () => stats };
}

const opts = {
  retry: { retries: 5, baseDelayMs: 1, maxDelayMs: 5 },
  requestTimeoutMs: 100,
  read: { timeoutMs: 60_000, minBytesPerSec: 32_768 },
};

async function all(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of it) parts.push(c);
  return Uint8Array.from(parts.flatMap((p) => [...p]));
}

async function failure(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (e) {
    return e as StorageError;
  }
  throw new Error('expected a failure');
}

describe('ResilientSource', () => {
  it('resumes a body that stalls half-way after the idle timeout, from the last byte received', async () => {
    const d = fakeDriver((call) => (call === 1 ? 'stall-half' : 'ok'));
    const src = new ResilientSource(d.raw, opts);
    expect(await all(src.stream('k'))).toEqual(DATA);
    expect(d.calls.map((c) => c.start)).toEqual([0, 5000]);
  });

  it('pins every read to the version seen at the first stat', async () => {
    const d = fakeDriver(() => 'ok');
    const src = new ResilientSource(d.raw, opts);
    await src.readRange('k', 0, 10);
    await src.readRange('k', 10, 20);
    expect(d.stats()).toBe(1);
    expect(d.calls.every((c) => c.pin?.version === 'v1')).toBe(true);
  });

  it('stops after five retries of one request and reports a retryable transient error', async () => {
    const d = fakeDriver(() => 'fail-503');
    const src = new ResilientSource(d.raw, opts);
    const err = await failure(src.readRange('k', 0, 10));
    expect(err.code).toBe(StorageErrorCode.Transient);
    expect(err.retryable).toBe(true);
    expect(d.calls).toHaveLength(6);
  });

  it('keeps resuming while each attempt makes progress (resets every half)', async () => {
    const d = fakeDriver((call) => (call <= 8 ? 'reset-half' : 'ok'));
    const src = new ResilientSource(d.raw, opts);
    expect(await all(src.stream('k'))).toEqual(DATA);
  });

  it('does not retry a 403', async () => {
    const d = fakeDriver(() => 'fail-403');
    const src = new ResilientSource(d.raw, opts);
    const err = await failure(src.readRange('k', 0, 10));
    expect(err.code).toBe(StorageErrorCode.AccessDenied);
    expect(d.calls).toHaveLength(1);
  });

  it('fails as aborted, without retrying, when the caller aborts mid-stream', async () => {
    const d = fakeDriver(() => 'stall-half');
    const src = new ResilientSource(d.raw, { ...opts, requestTimeoutMs: 5_000 });
    const ctrl = new AbortController();
    setTimeout(() => ctrl.abort(), 50);
    const err = await failure(all(src.stream('k', 0, ctrl.signal)));
    expect(err.code).toBe(StorageErrorCode.Aborted);
    expect(d.calls).toHaveLength(1);
  });

  it('fails "object changed" when a later stat sees another version', async () => {
    let version = 'v1';
    const d = fakeDriver(() => 'ok');
    const raw: RawDriver = { ...d.raw, stat: async (key) => ({ key, size: DATA.length, version }) };
    const src = new ResilientSource(raw, opts);
    await src.stat('k');
    version = 'v2';
    expect((await failure(src.stat('k'))).message).toBe('object changed during import: mem://b/k');
  });

  it('refuses ranges outside the object without a request', async () => {
    const d = fakeDriver(() => 'ok');
    const src = new ResilientSource(d.raw, opts);
    expect((await failure(src.readRange('k', 5, DATA.length + 1))).code).toBe(StorageErrorCode.BadRequest);
    expect((await failure(src.readRange('k', 5, 4))).code).toBe(StorageErrorCode.BadRequest);
    expect(d.calls).toHaveLength(0);
    expect(await src.readRange('k', 3, 3)).toEqual(new Uint8Array(0));
  });
});
