import { invalidParameter } from './collections.errors';

const NAME_RE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Byte limits of spec §2 (volumes follow the collection rules, storage.md §7): PostgreSQL identifiers are ≤ 63 bytes and "milvus_" takes 7 of a schema name. */
export const NAME_LIMITS = { database: 56, collection: 63, field: 63, partition: 255, volume: 63 } as const;

export type NameKind = keyof typeof NAME_LIMITS;

export function checkName(kind: NameKind, name: string): string {
  if (!NAME_RE.test(name)) {
    throw invalidParameter(`${kind} name ${JSON.stringify(name)} must match ^[A-Za-z_][A-Za-z0-9_]*$`);
  }
  // The regex admits ASCII only, so length in bytes is the string length.
  if (name.length > NAME_LIMITS[kind]) {
    throw invalidParameter(`${kind} name ${JSON.stringify(name)} exceeds ${NAME_LIMITS[kind]} bytes`);
  }
  return name;
}
