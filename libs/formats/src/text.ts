import { SchemaError } from '@gw/schema';
import { FormatError, FormatErrorCode, type FormatErrorLocation } from './formats.errors';

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** Offset of the first byte that is not valid UTF-8 (only called on the error path). */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    let need: number;
    let min: number;
    if (c < 0x80) {
      i++;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      need = 1;
      min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      min = 0x10000;
    } else return i;
    let cp = c & (0x3f >> need);
    for (let k = 1; k <= need; k++) {
      const d = b[i + k];
      if (d === undefined || (d & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (d & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += need + 1;
  }
  return -1;
}

/** Strict UTF-8 decode; invalid bytes fail with the file byte offset (`base` = offset of b[0]). */
export function decodeUtf8(b: Uint8Array, loc: FormatErrorLocation, base: number): string {
  try {
    return decoder.decode(b);
  } catch {
    const at = firstInvalidUtf8(b);
    throw new FormatError(FormatErrorCode.Syntax, { ...loc, byte: base + Math.max(at, 0) }, 'invalid UTF-8');
  }
}

/** Re-throws a SchemaError as FormatError located at `loc`; anything else unchanged. */
export function rethrowLocated(e: unknown, loc: FormatErrorLocation): never {
  if (e instanceof SchemaError)
    throw new FormatError(FormatErrorCode.InvalidValue, { ...loc, field: e.field }, e.problem, e);
  throw e;
}

/**
 * The chunk as a Buffer over the same memory (no copy). Splitters search chunks with `indexOf`:
 * Buffer's is a native memchr, a plain Uint8Array's (what byteInputFromFile yields) a generic
 * element loop several times slower.
 */
export function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
}

/** Concatenates chunk parts (a row split across stream chunks). */
export function concatParts(parts: readonly Uint8Array[], total: number): Uint8Array {
  if (parts.length === 1) return parts[0]!;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Largest single row (JSON element, JSONL line, CSV record) a text reader buffers. */
export const MAX_ROW_BYTES = 16 * 1024 * 1024;

/**
 * The key of the row object's member that a row cut short (`parts`: its bytes so far) is inside,
 * so a row too large to buffer names its field. One pass over the held bytes, on that error path
 * only; undefined when the cut falls outside any member.
 */
export function openJsonKey(parts: readonly Uint8Array[]): string | undefined {
  const b = concatParts(
    parts,
    parts.reduce((a, p) => a + p.length, 0),
  );
  let depth = 0;
  let key: [number, number] | null = null;
  let last: [number, number] | null = null;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0x22) {
      const start = i + 1;
      for (i = start; i < b.length && b[i] !== 0x22; i++) if (b[i] === 0x5c) i++;
      if (i >= b.length) break; // cut inside this string
      last = depth === 1 ? [start, i] : null;
    } else if (c === 0x3a) {
      if (last !== null) key = last;
    } else if (c === 0x7b || c === 0x5b) depth++;
    else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c && depth === 1) key = null;
    if (c !== 0x22 && WS_JSON[c] !== 1 && c !== 0x3a) last = null;
  }
  if (key === null) return undefined;
  try {
    return JSON.parse(`"${Buffer.from(b.subarray(key[0], key[1])).toString()}"`) as string;
  } catch {
    return undefined;
  }
}

const WS_JSON = new Uint8Array(256);
WS_JSON[0x20] = WS_JSON[0x09] = WS_JSON[0x0a] = WS_JSON[0x0d] = 1;
