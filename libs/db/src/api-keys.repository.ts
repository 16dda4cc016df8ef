import { createHash, randomBytes } from 'node:crypto';
import type { Pool } from 'pg';

export const SCOPES = [
  'admin',
  'import:write',
  'import:read',
  'collections:write',
  'collections:read',
  'volumes:write',
  'volumes:read',
] as const;
export type Scope = (typeof SCOPES)[number];

/** What a scope also grants (import-api.md §3). */
const IMPLIES: Readonly<Record<Scope, readonly Scope[]>> = {
  admin: SCOPES,
  'import:write': ['import:write', 'import:read'],
  'import:read': ['import:read'],
  'collections:write': ['collections:write', 'collections:read'],
  'collections:read': ['collections:read'],
  'volumes:write': ['volumes:write', 'volumes:read'],
  'volumes:read': ['volumes:read'],
};

export function grants(held: readonly string[], needed: Scope): boolean {
  return held.some((s) => (IMPLIES[s as Scope] ?? []).includes(needed));
}

export interface ApiKeyRecord {
  id: string;
  name: string;
  keyPrefix: string;
  scopes: string[];
  /** Empty: every database. */
  databases: string[];
  /** Empty: every collection; entries are `collection` (any database) or `database.collection`. */
  collections: string[];
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

const KEY_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `igw_` + 40 base62 characters (~238 bits): high entropy, so a plain SHA-256 is a safe stored form. */
export function generateApiKey(): string {
  let out = 'igw_';
  while (out.length < 44) {
    for (const b of randomBytes(64)) {
      if (b < 248) out += KEY_ALPHABET.charAt(b % 62);
      if (out.length === 44) break;
    }
  }
  return out;
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

const COLUMNS = `id::text AS id, name, key_prefix AS "keyPrefix", scopes, databases, collections,
  created_at AS "createdAt", revoked_at AS "revokedAt", last_used_at AS "lastUsedAt"`;

export class ApiKeysRepository {
  constructor(private readonly pool: Pool) {}

  /** Stores a new key (hashed) and returns it once, in clear, with its record. */
  async create(input: {
    name: string;
    scopes: readonly Scope[];
    databases?: readonly string[];
    collections?: readonly string[];
  }): Promise<{ key: string; record: ApiKeyRecord }> {
    const key = generateApiKey();
    const r = await this.pool.query<ApiKeyRecord>(
      `INSERT INTO api_keys (name, key_prefix, key_hash, scopes, databases, collections)
       VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [input.name, key.slice(0, 12), hashApiKey(key), input.scopes, input.databases ?? [], input.collections ?? []],
    );
    return { key, record: r.rows[0]! };
  }

  /** An active (not revoked) key, or null. */
  async verify(key: string): Promise<ApiKeyRecord | null> {
    const r = await this.pool.query<ApiKeyRecord>(
      `SELECT ${COLUMNS} FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL`,
      [hashApiKey(key)],
    );
    const rec = r.rows[0] ?? null;
    if (rec !== null && (rec.lastUsedAt === null || Date.now() - rec.lastUsedAt.getTime() > 60_000)) {
      // At most one write a minute per key: last use is for operators, not an audit log.
      await this.pool.query('UPDATE api_keys SET last_used_at = now() WHERE id = $1', [rec.id]);
    }
    return rec;
  }

  async revoke(idOrPrefix: string): Promise<number> {
    const r = await this.pool.query(
      `UPDATE api_keys SET revoked_at = now()
        WHERE revoked_at IS NULL AND (id::text = $1 OR key_prefix = $1 OR name = $1)`,
      [idOrPrefix],
    );
    return r.rowCount ?? 0;
  }

  async list(): Promise<ApiKeyRecord[]> {
    const r = await this.pool.query<ApiKeyRecord>(`SELECT ${COLUMNS} FROM api_keys ORDER BY id`);
    return r.rows;
  }
}
