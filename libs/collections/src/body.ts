import { z } from 'zod';
import { invalidParameter, missingParameter } from './collections.errors';

/**
 * Parses an already JSON-parsed request body (empty values removed by the API) with zod and turns
 * the first problem into the Milvus error: an absent required field → 1802, anything else → 1100.
 */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown): z.output<S> {
  const r = schema.safeParse(body ?? {});
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  if (issue.code === 'invalid_type' && valueAt(body, issue.path) === undefined) {
    throw missingParameter(path);
  }
  throw invalidParameter(path === '' ? issue.message : `${path}: ${issue.message}`);
}

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let v: unknown = body;
  for (const k of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** Integer given as a JSON number or a decimal string (Milvus clients send both). */
export const intLike = z.union([
  z.number().int(),
  z.bigint().transform((b) => Number(b)),
  z
    .string()
    .regex(/^\s*[+-]?\d+\s*$/, 'expected an integer')
    .transform((s) => Number(s.trim())),
]);

/** Boolean given as JSON boolean or "true"/"false" (any case). */
export const boolLike = z.union([
  z.boolean(),
  z
    .string()
    .regex(/^(true|false)$/i, 'expected a boolean')
    .transform((s) => s.toLowerCase() === 'true'),
]);

export const nameString = z.string();
