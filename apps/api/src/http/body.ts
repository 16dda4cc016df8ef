import { type JsonValue, parseJsonExact } from '@gw/schema';
import { httpErrors } from './http.errors';

/** A value that counts as absent (import-api.md §2: pymilvus sends every key). */
export function isEmptyValue(v: unknown): boolean {
  if (v === null || v === undefined || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object' && Object.getPrototypeOf(v) === null) return Object.keys(v).length === 0;
  if (typeof v === 'object' && v.constructor === Object) return Object.keys(v).length === 0;
  return false;
}

/**
 * The body as JSON whatever the Content-Type: BOM skipped, trailing commas tolerated, last of
 * duplicate keys wins, integers exact (bigint beyond 2^53). Empty → {}. Not an object → 1801.
 */
export function parseRequestBody(raw: Buffer | undefined): Record<string, unknown> {
  if (raw === undefined || raw.length === 0) return {};
  let text = raw.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  if (text.trim() === '') return {};
  let v: JsonValue;
  try {
    v = parseJsonExact(text, { lenient: true });
  } catch {
    throw httpErrors.notJson();
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v) || !isPlainJsonObject(v)) throw httpErrors.notJson();
  return v as Record<string, unknown>;
}

function isPlainJsonObject(v: object): boolean {
  const proto: unknown = Object.getPrototypeOf(v);
  return proto === null || proto === Object.prototype;
}

/** Body fields win over query-string fields; empty values are dropped. */
export function mergeFields(body: Record<string, unknown>, query: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(query)) if (typeof v === 'string' && !isEmptyValue(v)) out[k] = v;
  // An empty body value counts as absent, so a query-string value of the same name stands.
  for (const [k, v] of Object.entries(body)) if (!isEmptyValue(v)) out[k] = v;
  return out;
}

/** An integer field given as a JSON number or a decimal string (pageSize, currentPage). */
export function intField(fields: Record<string, unknown>, name: string): number | undefined {
  const v = fields[name];
  if (v === undefined) return undefined;
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string' && /^\s*-?\d+\s*$/.test(v)) return Number(v);
  throw httpErrors.invalid(`${name} must be an integer`);
}

export function stringField(fields: Record<string, unknown>, name: string): string | undefined {
  const v = fields[name];
  if (v === undefined) return undefined;
  // PostgreSQL text cannot hold NUL: it would fail the query as an unexpected error (found by
  // test/security/fuzz.spec.ts with {"jobId":"\u0000"}); it is the caller's mistake, a 1100.
  if (typeof v === 'string' && v.includes('\u0000'))
    throw httpErrors.invalid(`${name} must not contain NUL characters`);
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint') return String(v);
  throw httpErrors.invalid(`${name} must be a string`);
}
