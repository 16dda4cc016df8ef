import type { ConflictMode } from '@gw/sink';
import { jobsErrors } from '../jobs.errors';

export type { ConflictMode };

/**
 * The gateway's own `options` keys (import-api.md §5 "Gateway extensions"), parsed once into types so
 * the API (1100 on an invalid value) and the worker (behaviour) read the same meaning. Absent keys give
 * today's behaviour; keys are case-sensitive like every Milvus option, values are compared without case.
 * Documented in docs/api-extensions.md.
 */
export type ErrorMode = 'abort' | 'continue';

/** `max_bad_rows`: a count of rejected rows, or a share of rows read (`"0.1%"`). */
export type BadRowLimit = { kind: 'count'; count: number } | { kind: 'percent'; percent: number };

export interface ImportExtensions {
  dryRun: boolean;
  errorMode: ErrorMode;
  /** Only with `errorMode: 'continue'`; absent = no limit. */
  maxBadRows?: BadRowLimit;
  skipImported: boolean;
  onConflict: ConflictMode;
  /** Syntax checked here; where it may point is checked when it is called (same rules as storage). */
  webhookUrl?: string;
}

export const MAX_WEBHOOK_URL_CHARS = 2_048;

function flag(options: Readonly<Record<string, string>>, key: string): boolean {
  const v = options[key];
  if (v === undefined) return false;
  const lower = v.toLowerCase();
  if (lower === 'true') return true;
  if (lower === 'false') return false;
  throw jobsErrors.invalid(`options.${key} must be "true" or "false", got ${JSON.stringify(v)}`);
}

function oneOf<T extends string>(
  options: Readonly<Record<string, string>>,
  key: string,
  allowed: readonly T[],
  fallback: T,
): T {
  const v = options[key];
  if (v === undefined) return fallback;
  const found = allowed.find((a) => a === v.toLowerCase());
  if (found === undefined) {
    throw jobsErrors.invalid(`options.${key} must be one of ${allowed.join(', ')}, got ${JSON.stringify(v)}`);
  }
  return found;
}

/** `"250"` → 250 rows; `"0.1%"` → 0.1 % of rows read. */
export function parseBadRowLimit(text: string): BadRowLimit {
  const t = text.trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(t);
  if (pct !== null) {
    const percent = Number(pct[1]);
    if (percent <= 100) return { kind: 'percent', percent };
  } else if (/^\d{1,15}$/.test(t)) {
    return { kind: 'count', count: Number(t) };
  }
  throw jobsErrors.invalid(
    `options.max_bad_rows must be a whole number of rows or a percentage up to 100% such as "0.1%", got ${JSON.stringify(text)}`,
  );
}

/** Whether `rejected` rows out of `read` exceed the limit (no limit: never). */
export function exceedsBadRowLimit(limit: BadRowLimit | undefined, rejected: number, read: number): boolean {
  if (limit === undefined) return false;
  if (limit.kind === 'count') return rejected > limit.count;
  return read > 0 && (rejected * 100) / read > limit.percent;
}

function webhookUrlOf(options: Readonly<Record<string, string>>): string | undefined {
  const v = options.webhook_url;
  if (v === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw jobsErrors.invalid(`options.webhook_url is not a URL: ${JSON.stringify(v.slice(0, 200))}`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    throw jobsErrors.invalid('options.webhook_url must be an http or https URL');
  }
  if (url.username !== '' || url.password !== '') {
    // A password in the URL would be stored and shown in describe; signing uses WEBHOOK_SECRET instead.
    throw jobsErrors.invalid('options.webhook_url must not carry a user name or password');
  }
  if (v.length > MAX_WEBHOOK_URL_CHARS) {
    throw jobsErrors.invalid(`options.webhook_url is longer than ${MAX_WEBHOOK_URL_CHARS} characters`);
  }
  return v;
}

/** Parses and checks the extension keys of a create request's `options` (invalid → 1100). */
export function parseImportExtensions(options: Readonly<Record<string, string>>): ImportExtensions {
  const dryRun = flag(options, 'dry_run');
  const explicitMode = options.error_mode;
  let errorMode = oneOf<ErrorMode>(options, 'error_mode', ['abort', 'continue'], 'abort');
  let maxBadRows: BadRowLimit | undefined;
  if (options.max_bad_rows !== undefined) {
    maxBadRows = parseBadRowLimit(options.max_bad_rows);
    if (explicitMode === undefined) errorMode = 'continue';
    else if (errorMode === 'abort') {
      throw jobsErrors.invalid('options.max_bad_rows needs error_mode=continue (abort stops at the first bad row)');
    }
  }
  const webhookUrl = webhookUrlOf(options);
  return {
    dryRun,
    errorMode,
    ...(maxBadRows === undefined ? {} : { maxBadRows }),
    skipImported: flag(options, 'skip_imported'),
    onConflict: oneOf<ConflictMode>(options, 'on_conflict', ['error', 'skip', 'upsert'], 'error'),
    ...(webhookUrl === undefined ? {} : { webhookUrl }),
  };
}
