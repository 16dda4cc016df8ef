import type { ApiKeyRecord } from '@gw/db';

/**
 * Verified keys reused for `ttlMs` (API_KEY_CACHE_MS, decision 1103): a create or list then costs
 * no key lookup, and a revoked key is refused at most `ttlMs` after the revocation commits. Only
 * valid keys are kept (a flood of wrong keys cannot fill it); entries are keyed by the key's
 * SHA-256 (never the key) and the oldest are dropped beyond `maxEntries`.
 */
export class KeyCache {
  private readonly entries = new Map<string, { record: ApiKeyRecord; until: number }>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  async get(hash: string, load: () => Promise<ApiKeyRecord | null>): Promise<ApiKeyRecord | null> {
    if (this.ttlMs <= 0) return load();
    const now = Date.now();
    const hit = this.entries.get(hash);
    if (hit !== undefined && hit.until > now) return hit.record;
    this.entries.delete(hash);
    const record = await load();
    if (record !== null) {
      if (this.entries.size >= this.maxEntries) {
        const oldest = this.entries.keys().next();
        if (oldest.done !== true) this.entries.delete(oldest.value);
      }
      this.entries.set(hash, { record, until: now + this.ttlMs });
    }
    return record;
  }
}
