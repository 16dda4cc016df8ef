import { CodedError } from '@gw/errors';

/**
 * Every failure the storage lib reports. The API maps the request-time codes (URL, credentials,
 * host policy) to Milvus 1100; the worker decides retries from `retryable` alone.
 */
export enum StorageErrorCode {
  /** URL/path form not accepted, bad bucket name, http:// without STORAGE_ALLOW_HTTP (1100 at create). */
  InvalidUrl = 'STORAGE_INVALID_URL',
  /** Credential combination not allowed by spec §4 (1100 at create). */
  InvalidCredentials = 'STORAGE_INVALID_CREDENTIALS',
  /** SSRF / allow-deny policy refused the host, an address or a redirect. */
  HostNotAllowed = 'STORAGE_HOST_NOT_ALLOWED',
  /** 401/403 from the store. */
  AccessDenied = 'STORAGE_ACCESS_DENIED',
  /** 404, missing object, missing bucket. */
  NotFound = 'STORAGE_NOT_FOUND',
  /** ETag/generation differs from the one pinned at stat (412 or a different version). */
  ObjectChanged = 'STORAGE_OBJECT_CHANGED',
  /** Object larger than IMPORT_MAX_FILE_BYTES. */
  FileTooLarge = 'STORAGE_FILE_TOO_LARGE',
  /** A folder with no json/jsonl/ndjson/parquet/csv/npy object (spec §3). */
  NoImportableFiles = 'STORAGE_NO_IMPORTABLE_FILES',
  /** A folder expanding to more groups than IMPORT_MAX_FILE_GROUPS. */
  TooManyGroups = 'STORAGE_TOO_MANY_GROUPS',
  /** 400/416 and other answers that will not get better by retrying. */
  BadRequest = 'STORAGE_BAD_REQUEST',
  /** Plain HTTPS folder, or an operation the server cannot support (e.g. listing). */
  Unsupported = 'STORAGE_UNSUPPORTED',
  /** 5xx, 429, timeouts, resets, short bodies — still failing after the retries of one request. */
  Transient = 'STORAGE_TRANSIENT',
  /** A body kept arriving below STORAGE_READ_MIN_BYTES_PER_SEC through every retry (slow drip). */
  TooSlow = 'STORAGE_TOO_SLOW',
  /** The caller's AbortSignal fired. */
  Aborted = 'STORAGE_ABORTED',
}

export class StorageError extends CodedError<StorageErrorCode> {}

export function isStorageError(e: unknown): e is StorageError {
  return e instanceof StorageError;
}

export const storageErrors = {
  invalidUrl: (display: string, why?: string) =>
    new StorageError(
      StorageErrorCode.InvalidUrl,
      why === undefined ? `unsupported object URL: ${display}` : `unsupported object URL: ${display} (${why})`,
    ),
  hostNotAllowed: (host: string) =>
    new StorageError(StorageErrorCode.HostNotAllowed, `object URL host is not allowed: ${host}`),
  /** `fix` tells the operator what makes the CA trusted; it differs for the GCS SDK (decision 0104). */
  tlsRejected: (display: string, code: string, fix = 'set STORAGE_CA_FILE for a private CA') =>
    new StorageError(StorageErrorCode.AccessDenied, `TLS certificate rejected: ${display} (${code}; ${fix})`),
  accessDenied: (display: string, cause?: unknown) =>
    new StorageError(StorageErrorCode.AccessDenied, `access denied: ${display}`, { cause: safeCause(cause) }),
  notFound: (display: string, cause?: unknown) =>
    new StorageError(StorageErrorCode.NotFound, `object not found: ${display}`, { cause: safeCause(cause) }),
  changed: (display: string) =>
    new StorageError(StorageErrorCode.ObjectChanged, `object changed during import: ${display}`),
  tooLarge: (display: string, size: number) =>
    new StorageError(StorageErrorCode.FileTooLarge, `file too large: ${display} (${size} bytes)`, {
      details: { size },
    }),
  noImportableFiles: (display: string) =>
    new StorageError(StorageErrorCode.NoImportableFiles, `no importable files under ${display}`),
  tooManyGroups: (display: string, max: number) =>
    new StorageError(StorageErrorCode.TooManyGroups, `more than ${max} file groups under ${display}`, {
      details: { max },
    }),
  badRequest: (display: string, status: number | string) =>
    new StorageError(StorageErrorCode.BadRequest, `storage request rejected (${status}): ${display}`, {
      details: { status },
    }),
  transient: (display: string, what: string) =>
    new StorageError(StorageErrorCode.Transient, `storage unavailable (${what}): ${display}`, { retryable: true }),
  tooSlow: (display: string, minBytesPerSec: number, attempts: number) =>
    new StorageError(
      StorageErrorCode.TooSlow,
      minBytesPerSec > 0
        ? `storage read too slow: ${display} (under ${minBytesPerSec} bytes/s in ${attempts} attempts)`
        : `storage read too slow: ${display} (over the read deadline in ${attempts} attempts)`,
      { details: { minBytesPerSec, attempts } },
    ),
  aborted: (display: string) => new StorageError(StorageErrorCode.Aborted, `storage read aborted: ${display}`),
};

/**
 * SDK errors can carry request headers (Authorization) or signed URLs; keep only the name and a
 * status so a logged `cause` can never leak a secret.
 */
function safeCause(cause: unknown): { name: string; status?: number } | undefined {
  if (cause === undefined) return undefined;
  if (cause instanceof Error) {
    const status = (cause as { status?: unknown; statusCode?: unknown }).status;
    const statusCode = (cause as { statusCode?: unknown }).statusCode;
    const s = typeof status === 'number' ? status : typeof statusCode === 'number' ? statusCode : undefined;
    return s === undefined ? { name: cause.name } : { name: cause.name, status: s };
  }
  return { name: typeof cause };
}
