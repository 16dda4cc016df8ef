/**
 * Job deadlines (`options.timeout`, `IMPORT_DEFAULT_TIMEOUT`): Go duration syntax (`300s`, `1.5h`,
 * `1h45m`) plus Milvus's shorthand where a final unit-less term takes the unit just below the
 * previous one (`1h45` = 1h45m, `2m30` = 2m30s) and a bare number means seconds.
 */
const UNIT_MS: Readonly<Record<string, number>> = {
  h: 3_600_000,
  m: 60_000,
  s: 1_000,
  ms: 1,
  us: 0.001,
  ns: 0.000001,
};
const NEXT_UNIT: Readonly<Record<string, string>> = { h: 'm', m: 's', s: 'ms', ms: 'us', us: 'ns' };

export const MAX_JOB_TIMEOUT_MS = 30 * 24 * 3_600_000;

/** Returns milliseconds, or null when the text is not a valid duration. */
export function parseDuration(text: string): number | null {
  const s = text.trim();
  if (s === '') return null;
  if (/^\d+(\.\d+)?$/.test(s)) return Number(s) * 1000;
  const term = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|h|m|s)?/y;
  let pos = 0;
  let total = 0;
  let prevUnit: string | null = null;
  while (pos < s.length) {
    term.lastIndex = pos;
    const m = term.exec(s);
    if (!m) return null;
    const value = Number(m[1]);
    let unit = m[2] === 'µs' ? 'us' : m[2];
    if (unit === undefined) {
      // A unit-less term is allowed only last, after a term with a unit.
      if (term.lastIndex !== s.length || prevUnit === null) return null;
      unit = NEXT_UNIT[prevUnit];
      if (unit === undefined) return null;
    }
    const ms = UNIT_MS[unit];
    if (ms === undefined) return null;
    total += value * ms;
    prevUnit = unit;
    pos = term.lastIndex;
  }
  return total;
}

/** A valid job timeout: > 0 and ≤ 30 days. */
export function parseJobTimeout(text: string): number | null {
  const ms = parseDuration(text);
  if (ms === null || !(ms > 0) || ms > MAX_JOB_TIMEOUT_MS) return null;
  return ms;
}

/** The shortest job retention: the idempotency window (import-api.md §5) must outlive it. */
export const MIN_JOB_RETENTION_MS = 24 * 3_600_000;

/**
 * IMPORT_JOB_RETENTION: whole days (`30d`) or a duration as for timeouts (`720h`), at least 24 h —
 * a shorter one would let a retried create with the same Idempotency-Key start a second job.
 */
export function parseJobRetention(text: string): number | null {
  const days = /^\s*(\d+)d\s*$/.exec(text);
  const ms = days ? Number(days[1]) * 24 * 3_600_000 : parseDuration(text);
  if (ms === null || !Number.isFinite(ms) || ms < MIN_JOB_RETENTION_MS) return null;
  return ms;
}

/** `64mb`, `1gb`, `512kb`, `1048576` → bytes. */
export function parseByteSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|kb|mb|gb)?\s*$/i.exec(text);
  if (!m) return null;
  const mult: Record<string, number> = { b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
  return Math.floor(Number(m[1]) * (mult[(m[2] ?? 'b').toLowerCase()] ?? 1));
}
