import { CollectionsError, CollectionsErrorCode, COLLECTIONS_TO_MILVUS } from '@gw/collections';
import { JobsError, JobsErrorCode } from '@gw/jobs';
import { VolumesError, VolumesErrorCode } from '@gw/volumes';
import { HttpError, HttpErrorCode } from './http.errors';

export interface Envelope {
  status: number;
  body: { code: number; message: string };
}

type Mapping = { http: number; code: number };

/**
 * The one table from error codes to the Milvus envelope (import-api.md §4). `Record<>` makes it
 * exhaustive: a new code does not compile until it is mapped here.
 */
export const JOBS_TO_MILVUS: Record<JobsErrorCode, Mapping> = {
  [JobsErrorCode.InvalidParameter]: { http: 200, code: 1100 },
  [JobsErrorCode.MissingParameter]: { http: 200, code: 1802 },
  [JobsErrorCode.DatabaseNotFound]: { http: 200, code: 800 },
  [JobsErrorCode.CollectionNotFound]: { http: 200, code: 100 },
  [JobsErrorCode.PartitionNotFound]: { http: 200, code: 200 },
  [JobsErrorCode.ImportRequestRefused]: { http: 200, code: 2100 },
  [JobsErrorCode.JobNotFound]: { http: 200, code: 2100 },
  [JobsErrorCode.ActiveJobLimit]: { http: 200, code: 2101 },
  [JobsErrorCode.ServiceUnavailable]: { http: 200, code: 2 },
};

export const HTTP_TO_MILVUS: Record<HttpErrorCode, Mapping> = {
  [HttpErrorCode.Unauthenticated]: { http: 401, code: 1800 },
  [HttpErrorCode.Forbidden]: { http: 403, code: 1401 },
  [HttpErrorCode.NotJson]: { http: 200, code: 1801 },
  [HttpErrorCode.BodyTooLarge]: { http: 413, code: 1102 },
  [HttpErrorCode.RequestTimeout]: { http: 408, code: 10001 },
  [HttpErrorCode.RouteNotFound]: { http: 404, code: 404 },
  [HttpErrorCode.InvalidParameter]: { http: 200, code: 1100 },
};

export const VOLUMES_TO_MILVUS: Record<VolumesErrorCode, Mapping> = {
  [VolumesErrorCode.InvalidParameter]: { http: 200, code: 1100 },
  [VolumesErrorCode.MissingParameter]: { http: 200, code: 1802 },
  [VolumesErrorCode.VolumeNotFound]: { http: 200, code: 1100 },
  [VolumesErrorCode.VolumeExists]: { http: 200, code: 1100 },
  [VolumesErrorCode.VolumeInUse]: { http: 200, code: 2100 },
  [VolumesErrorCode.FileNotFound]: { http: 200, code: 1100 },
  [VolumesErrorCode.FileTooLarge]: { http: 413, code: 1102 },
  [VolumesErrorCode.BackendFailed]: { http: 200, code: 65535 },
};

const COLLECTIONS_HTTP: Record<CollectionsErrorCode, Mapping> = Object.fromEntries(
  Object.entries(COLLECTIONS_TO_MILVUS).map(([k, code]) => [k, { http: 200, code }]),
) as Record<CollectionsErrorCode, Mapping>;

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '53300',
  // lock_timeout and statement_timeout (decision 0902): a lock held by a stuck import, or a
  // statement cancelled by its timeout; the client retries once the holder is gone.
  '55P03',
  '57014',
]);

/** PostgreSQL (or the network to it) is down: Milvus code 2, the client should retry. */
export function isServiceUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && (UNAVAILABLE_CODES.has(code) || /^(08|57P0)/.test(code))) return true;
  if (err instanceof AggregateError) return err.errors.some(isServiceUnavailable);
  // pg-pool's own messages when it cannot get a connection in time.
  return /timeout exceeded when trying to connect|Connection terminated/i.test(err.message);
}

/** Pure: typed errors keep their code; anything else is 65535 with an errorId that is also logged. */
export function toEnvelope(err: unknown, errorId: string): Envelope {
  if (isServiceUnavailable(err)) return { status: 200, body: { code: 2, message: 'service unavailable' } };
  let m: Mapping | undefined;
  if (err instanceof JobsError) m = JOBS_TO_MILVUS[err.code];
  else if (err instanceof HttpError) m = HTTP_TO_MILVUS[err.code];
  else if (err instanceof CollectionsError) m = COLLECTIONS_HTTP[err.code];
  else if (err instanceof VolumesError) m = VOLUMES_TO_MILVUS[err.code];
  if (m !== undefined && err instanceof Error) return { status: m.http, body: { code: m.code, message: err.message } };
  return { status: 200, body: { code: 65535, message: `unexpected error, errorId=${errorId}` } };
}

export interface ErrorCatalogEntry {
  /** The envelope's `code`. */
  code: number;
  /** The HTTP status it is answered with. */
  http: number;
  /** The typed error codes (`LIB.NAME`) that produce it. */
  sources: string[];
}

/**
 * Every error code the envelope can answer, from the tables above (plus 2 for an unreachable
 * database and 65535 for anything untyped), sorted by code: the OpenAPI document lists exactly these.
 */
export function errorCatalog(): ErrorCatalogEntry[] {
  const byCode = new Map<string, ErrorCatalogEntry>();
  const add = (source: string, m: Mapping) => {
    const k = `${m.code}/${m.http}`;
    const e = byCode.get(k) ?? { code: m.code, http: m.http, sources: [] };
    e.sources.push(source);
    byCode.set(k, e);
  };
  const tables: [string, Record<string, Mapping>][] = [
    ['JOBS', JOBS_TO_MILVUS],
    ['HTTP', HTTP_TO_MILVUS],
    ['VOLUMES', VOLUMES_TO_MILVUS],
    ['COLLECTIONS', COLLECTIONS_HTTP],
  ];
  for (const [lib, table] of tables) for (const [name, m] of Object.entries(table)) add(`${lib}.${name}`, m);
  add('UNAVAILABLE', { http: 200, code: 2 });
  add('UNEXPECTED', { http: 200, code: 65535 });
  return [...byCode.values()].sort((a, b) => a.code - b.code || a.http - b.http);
}
