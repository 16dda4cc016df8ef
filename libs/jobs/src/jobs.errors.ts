import { CodedError } from '@gw/errors';

/** Errors of the import use-cases. Each is mapped to a Milvus envelope code in apps/api (one table). */
export enum JobsErrorCode {
  /** a field is present but wrong (1100) */
  InvalidParameter = 'INVALID_PARAMETER',
  /** a required field is missing (1802) */
  MissingParameter = 'MISSING_PARAMETER',
  DatabaseNotFound = 'DATABASE_NOT_FOUND',
  CollectionNotFound = 'COLLECTION_NOT_FOUND',
  PartitionNotFound = 'PARTITION_NOT_FOUND',
  /** the files cannot be imported as asked (limits, file types) — 2100 */
  ImportRequestRefused = 'IMPORT_REQUEST_REFUSED',
  JobNotFound = 'JOB_NOT_FOUND',
  /** the collection already has the maximum number of active jobs — 2101 */
  ActiveJobLimit = 'ACTIVE_JOB_LIMIT',
  /** PostgreSQL or the queue cannot be reached — 2 */
  ServiceUnavailable = 'SERVICE_UNAVAILABLE',
}

export class JobsError extends CodedError<JobsErrorCode> {}

export const ACTIVE_JOB_LIMIT_MESSAGE = 'The number of jobs has reached the limit, please try again later';

export const jobsErrors = {
  invalid: (detail: string) => new JobsError(JobsErrorCode.InvalidParameter, `invalid parameter: ${detail}`),
  missing: (names: readonly string[]) =>
    new JobsError(JobsErrorCode.MissingParameter, `missing required parameters: ${names.join(', ')}`),
  databaseNotFound: (db: string) => new JobsError(JobsErrorCode.DatabaseNotFound, `database not found[database=${db}]`),
  collectionNotFound: (c: string) =>
    new JobsError(JobsErrorCode.CollectionNotFound, `collection not found[collection=${c}]`),
  partitionNotFound: (p: string) =>
    new JobsError(JobsErrorCode.PartitionNotFound, `partition not found[partition=${p}]`),
  /** import-api.md §5: 1100 with exactly this text. */
  volumeNotFound: (name: string) => new JobsError(JobsErrorCode.InvalidParameter, `volume not found: ${name}`),
  refused: (detail: string) => new JobsError(JobsErrorCode.ImportRequestRefused, `importing data failed: ${detail}`),
  jobNotFound: (id: string) =>
    new JobsError(JobsErrorCode.JobNotFound, `importing data failed: import job not found, jobId=${id}`),
  activeJobLimit: () => new JobsError(JobsErrorCode.ActiveJobLimit, ACTIVE_JOB_LIMIT_MESSAGE),
  unavailable: (cause?: unknown) =>
    new JobsError(JobsErrorCode.ServiceUnavailable, 'service unavailable', { retryable: true, cause }),
};

/** The reason of a job failed by its deadline, naming the timeout as the request gave it. */
export function timeoutReason(optionsTimeout: string | null | undefined, timeoutMs: string | number | null): string {
  return `import timeout of ${optionsTimeout ?? `${Number(timeoutMs ?? 0) / 1000}s`} exceeded`;
}
