import { SchemaError } from '@gw/schema';
import { FormatError, FormatErrorCode, type FormatErrorLocation } from './formats.errors';
import type { RejectedRow } from './reader';

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

/** Bytes of a rejected row's raw value kept at most (issue 16 point 3). */
export const MAX_RAW_BYTES = 1024;

function jsonish(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'bigint') return v.toString();
  if (v === undefined) return '';
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
    // A typed array (Parquet/NumPy vectors): only as many values as can show in 1 KiB.
    const arr = v as unknown as ArrayLike<number | bigint>;
    const shown = Array.from({ length: Math.min(arr.length, MAX_RAW_BYTES) }, (_, i) => String(arr[i]));
    return `[${shown.join(',')}]`;
  }
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? x.toString() : x)) ?? '';
  } catch {
    return ''; // not JSON-representable (a cycle cannot come from a reader): no raw value
  }
}

/** A value as text cut to MAX_RAW_BYTES of UTF-8 (never inside a character). */
export function rawText(v: unknown): string {
  const text = jsonish(v);
  if (text.length <= MAX_RAW_BYTES / 4) return text;
  const b = Buffer.from(text, 'utf8');
  if (b.length <= MAX_RAW_BYTES) return text;
  let end = MAX_RAW_BYTES;
  while (end > 0 && (b[end]! & 0xc0) === 0x80) end--; // back to a character start
  return b.subarray(0, end).toString('utf8');
}

/**
 * Under error_mode=continue (`onRejectedRow` set) a SchemaError of row `loc.row` is reported and
 * the row skipped (returns); otherwise, or for any other error, as rethrowLocated. `valueOf` gives
 * the input value of a field (undefined when absent: the whole row is shown instead).
 */
export function rejectOrThrow(
  e: unknown,
  loc: FormatErrorLocation & { readonly row: number },
  onRejectedRow: ((r: RejectedRow) => void) | undefined,
  valueOf: (field: string) => unknown,
  wholeRow: () => unknown,
): void {
  if (onRejectedRow === undefined || !(e instanceof SchemaError)) rethrowLocated(e, loc);
  const v = valueOf(e.field);
  onRejectedRow({
    file: loc.file,
    row: loc.row,
    field: e.field,
    reason: e.problem,
    raw: rawText(v === undefined ? wholeRow() : v),
  });
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
