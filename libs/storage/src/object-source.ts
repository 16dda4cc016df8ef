/** One object as seen by stat or list. `version` is the ETag (S3, Azure, HTTP) or generation (GCS). */
export interface ObjectStat {
  key: string;
  size: number;
  version: string;
  lastModified?: Date;
  /**
   * Plain HTTPS only: false when the server ignored `Range`. Every ranged read then re-downloads
   * from byte 0, so a caller needing random access (Parquet) should spool the object first (§2).
   */
  rangeReads?: boolean;
}

/** One interface for every driver (conventions sketch 1). Keys are those of the source's bucket. */
export interface ObjectSource {
  /** Size and version; also pins the version every later read of this key must match. */
  stat(key: string, signal?: AbortSignal): Promise<ObjectStat>;
  /** Every object under the prefix, recursively, in key order, past any page size. */
  list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectStat>;
  /** Bytes [start, end) — explicit `bytes=a-b`, never suffix ranges. */
  readRange(key: string, start: number, end: number, signal?: AbortSignal): Promise<Uint8Array>;
  /** The object from `from` to its end, resuming transparently after broken connections. */
  stream(key: string, from?: number, signal?: AbortSignal): AsyncIterable<Uint8Array>;
}

/** What openObjectSource returns: close() when the job ends drops sockets, pins and credentials. */
export interface ClosableObjectSource extends ObjectSource {
  close(): void;
}

/** The version and size a key was first seen with; later reads must match it. */
export interface ReadPin {
  size: number;
  version: string;
  lastModified?: Date;
}

/** Backoff of one request: `retries` more attempts, full jitter between base·2ⁿ and cap. */
export interface RetryOptions {
  retries: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { retries: 5, baseDelayMs: 200, maxDelayMs: 10_000 };
