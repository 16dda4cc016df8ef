import { jobsErrors, type ListJobsQuery } from '@gw/jobs';
import { stringField } from '../http/body';

/** RFC 3339 with a time zone (`Z` or `±hh:mm`); fractions of a second allowed. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?([Zz]|[+-]\d{2}:\d{2})$/;

function timeField(fields: Record<string, unknown>, name: string): Date | undefined {
  const v = stringField(fields, name);
  if (v === undefined) return undefined;
  const ms = RFC3339.test(v.trim()) ? Date.parse(v.trim()) : Number.NaN;
  if (Number.isNaN(ms)) throw jobsErrors.invalid(`${name} must be an RFC 3339 time such as 2026-12-07T14:00:00Z`);
  return new Date(ms);
}

/**
 * The list extension `createdAfter` / `createdBefore` (docs/api-extensions.md, Time range): jobs
 * created at or after / strictly before the given instants. The dashboard's time filter uses it.
 */
export function timeRangeOf(fields: Record<string, unknown>): Pick<ListJobsQuery, 'createdAfter' | 'createdBefore'> {
  const createdAfter = timeField(fields, 'createdAfter');
  const createdBefore = timeField(fields, 'createdBefore');
  return {
    ...(createdAfter === undefined ? {} : { createdAfter }),
    ...(createdBefore === undefined ? {} : { createdBefore }),
  };
}
