import { createHash } from 'node:crypto';
import type { ObjectSourceDeps, StorageConfig, StorageError } from '@gw/storage';

/** Storage config as tests run it (spec §6): loopback and http allowed, no defaults. */
export function testStorageConfig(over: Partial<StorageConfig> = {}): StorageConfig {
  return {
    s3: { forcePathStyle: true },
    gcs: {},
    azure: {},
    allowPrivateNetworks: { all: true, cidrs: [] },
    allowHttp: true,
    allowedHosts: [],
    deniedHosts: [],
    allowedBuckets: [],
    requestTimeoutMs: 2_000,
    readTimeoutMs: 60_000,
    readMinBytesPerSec: 32_768,
    ambientCredentials: false,
    ...over,
  };
}

/** Small backoff so fault tests stay fast; never ambient credentials (they query metadata services). */
export const fastDeps: ObjectSourceDeps = {
  retry: { retries: 5, baseDelayMs: 5, maxDelayMs: 40 },
  ambientCredentials: false,
};

export async function collect(it: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of it) parts.push(Buffer.from(c));
  return Buffer.concat(parts);
}

export function sha256(b: Uint8Array): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Deterministic pseudo-random bytes (xorshift), so failures reproduce. */
export function bytes(n: number, seed = 1): Buffer {
  const b = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** The StorageError `p` rejects with; a test fails if it resolves. */
export async function storageFailure(p: Promise<unknown>): Promise<StorageError> {
  try {
    await p;
  } catch (e) {
    return e as StorageError;
  }
  throw new Error('expected a failure');
}
