import { setTimeout as delay } from 'node:timers/promises';
import type { ObjectSource, ObjectStat, ReadPin, RetryOptions } from './object-source';
import { StorageError, StorageErrorCode, storageErrors } from './storage.errors';

/** The answer to one ranged GET: a body that starts exactly at the requested offset. */
export interface RawRead {
  body: AsyncIterable<Uint8Array>;
  /** ETag/generation of the answer, when the store says. */
  version?: string;
  /** Full object size from Content-Range, when the store says. */
  total?: number;
  /** Destroys the underlying connection (timeouts, early exit). */
  cancel(): void;
}

export interface RawPage {
  items: ObjectStat[];
  next?: string;
}

/**
 * What a driver implements: single attempts, errors already mapped to StorageError where the
 * status is known. Retries, timeouts, resume and version pinning live in ResilientSource, once.
 */
export interface RawDriver {
  display(key: string): string;
  stat(key: string, signal: AbortSignal): Promise<ObjectStat>;
  listPage(prefix: string, token: string | undefined, signal: AbortSignal): Promise<RawPage>;
  /** Bytes [start, end). `pin` is set on every read after the first: send If-Match / generation. */
  get(key: string, start: number, end: number, pin: ReadPin | undefined, signal: AbortSignal): Promise<RawRead>;
  /** Releases sockets and drops the SDK client holding the credentials. */
  close?(): void;
}

export interface ResilienceOptions {
  retry: RetryOptions;
  /** Per attempt: time to the response head, and the longest silence inside a body. */
  requestTimeoutMs: number;
  /**
   * Slow-drip guard of one body (one ranged GET): the time spent waiting for its bytes may not
   * exceed `readTimeoutMs` + received / `minBytesPerSec` seconds. Time the caller spends between
   * pulls (parsing, COPY backpressure) is not counted. `minBytesPerSec` 0: a flat cap.
   */
  read: { timeoutMs: number; minBytesPerSec: number };
  /** Told of every retry (metrics); must not throw. */
  onRetry?: (err: StorageError) => void;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
]);

/**
 * A broken attempt resets the failure count only when it delivered this much, or a quarter of
 * what was left: flaky links still finish, a server cutting every body after a few bytes does not
 * get unlimited attempts.
 */
const FORGIVE_AFTER_BYTES = 1 << 20;

class AttemptTimeout extends Error {}
/** A body that keeps trickling (so the idle timeout never fires) but under the throughput floor. */
class SlowBody extends Error {}

/** Certificate verification failures: retrying cannot help, and the operator must act (CA, host name). */
const TLS_CODES = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The OpenSSL verification code anywhere in an error's cause chain, if the failure was the certificate. */
export function tlsFailureCode(e: unknown): string | undefined {
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    const code = (c as { code?: unknown }).code;
    if (typeof code === 'string' && TLS_CODES.has(code)) return code;
  }
  return undefined;
}

/** Maps anything an attempt threw to a StorageError; programming errors pass through. */
export function classifyError(e: unknown, display: string, callerSignal?: AbortSignal): Error {
  if (e instanceof StorageError) return e;
  // The guard's connect-time refusal comes back wrapped by some SDKs (Azure's RestError keeps
  // only message and code): it must stay a non-retryable refusal, not become a "connection failed".
  for (let c: unknown = e, depth = 0; c instanceof Error && depth < 5; c = c.cause, depth++) {
    if (c instanceof StorageError) return c;
    if ((c as { code?: unknown }).code === StorageErrorCode.HostNotAllowed) {
      return new StorageError(StorageErrorCode.HostNotAllowed, c.message);
    }
  }
  if (callerSignal?.aborted === true) return storageErrors.aborted(display);
  if (e instanceof AttemptTimeout) return storageErrors.transient(display, 'timeout');
  if (e instanceof SlowBody) return storageErrors.transient(display, 'too slow');
  if (e instanceof TypeError || e instanceof RangeError || e instanceof ReferenceError) {
    const code = (e as { code?: unknown }).code;
    if (typeof code !== 'string' || !TRANSIENT_CODES.has(code)) return e;
  }
  const code = (e as { code?: unknown }).code;
  if (typeof code === 'string' && TRANSIENT_CODES.has(code)) return storageErrors.transient(display, code);
  const tls = tlsFailureCode(e);
  if (tls !== undefined) return storageErrors.tlsRejected(display, tls);
  const name = e instanceof Error ? e.name : '';
  if (name === 'AbortError' || name === 'TimeoutError') return storageErrors.transient(display, 'timeout');
  // Unknown transport/parse failures (e.g. a list body cut short) are worth a bounded retry.
  return storageErrors.transient(display, 'connection failed');
}

export function statusError(status: number, display: string, cause?: unknown): StorageError {
  if (status === 401 || status === 403) return storageErrors.accessDenied(display, cause);
  if (status === 404 || status === 410) return storageErrors.notFound(display, cause);
  if (status === 412) return storageErrors.changed(display);
  if (status === 408 || status === 429 || status >= 500) return storageErrors.transient(display, `HTTP ${status}`);
  return storageErrors.badRequest(display, status);
}

export function sameVersion(a: string, b: string): boolean {
  const norm = (v: string) => v.replace(/^W\//, '').replace(/^"|"$/g, '');
  return norm(a) === norm(b);
}

function linkedController(parent: AbortSignal | undefined): { ctrl: AbortController; unlink: () => void } {
  const ctrl = new AbortController();
  if (parent === undefined) return { ctrl, unlink: () => undefined };
  if (parent.aborted) ctrl.abort(parent.reason);
  const onAbort = () => ctrl.abort(parent.reason);
  parent.addEventListener('abort', onAbort, { once: true });
  return { ctrl, unlink: () => parent.removeEventListener('abort', onAbort) };
}

/**
 * Retries, per-request timeouts, resume-from-last-byte and version pinning, for every driver.
 * Each key's first stat (or first read) pins its version and size; every later read sends the
 * pin (If-Match / generation) and a different answer fails with `object changed during import`.
 */
export class ResilientSource implements ObjectSource {
  private readonly pins = new Map<string, ReadPin>();

  constructor(
    private readonly raw: RawDriver,
    private readonly opts: ResilienceOptions,
  ) {}

  private backoff(attempt: number, signal: AbortSignal | undefined): Promise<void> {
    const { baseDelayMs, maxDelayMs } = this.opts.retry;
    const ceiling = Math.min(maxDelayMs, baseDelayMs * 2 ** attempt);
    // Full jitter: many workers hitting a throttled bucket must not retry in lock-step.
    const ms = Math.random() * ceiling;
    return delay(ms, undefined, signal === undefined ? undefined : { signal }).catch(() => undefined);
  }

  /** One request with a head timeout, retried on transient failures. */
  private async retrying<T>(
    display: string,
    signal: AbortSignal | undefined,
    op: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.attempt(op, signal);
      } catch (e) {
        const err = classifyError(e, display, signal);
        if (!(err instanceof StorageError) || !err.retryable || attempt >= this.opts.retry.retries) throw err;
        this.opts.onRetry?.(err);
        await this.backoff(attempt, signal);
        if (signal?.aborted === true) throw storageErrors.aborted(display);
      }
    }
  }

  private async attempt<T>(op: (signal: AbortSignal) => Promise<T>, parent: AbortSignal | undefined): Promise<T> {
    const { ctrl, unlink } = linkedController(parent);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctrl.abort(new AttemptTimeout());
    }, this.opts.requestTimeoutMs);
    try {
      return await op(ctrl.signal);
    } catch (e) {
      throw timedOut ? new AttemptTimeout() : e;
    } finally {
      clearTimeout(timer);
      unlink();
    }
  }

  /** Forget pins and release the driver (its sockets and the credentials in its client). */
  close(): void {
    this.pins.clear();
    this.raw.close?.();
  }

  async stat(key: string, signal?: AbortSignal): Promise<ObjectStat> {
    const display = this.raw.display(key);
    const s = await this.retrying(display, signal, (sig) => this.raw.stat(key, sig));
    const pin = this.pins.get(key);
    if (pin !== undefined && (!sameVersion(pin.version, s.version) || pin.size !== s.size)) {
      throw storageErrors.changed(display);
    }
    if (pin === undefined) this.pins.set(key, { size: s.size, version: s.version, lastModified: s.lastModified });
    return s;
  }

  async *list(prefix: string, signal?: AbortSignal): AsyncIterable<ObjectStat> {
    const display = this.raw.display(prefix);
    let token: string | undefined;
    do {
      const t = token;
      const page = await this.retrying(display, signal, (sig) => this.raw.listPage(prefix, t, sig));
      for (const item of page.items) yield item;
      token = page.next;
    } while (token !== undefined);
  }

  private async pinFor(key: string, signal: AbortSignal | undefined): Promise<ReadPin> {
    const pin = this.pins.get(key);
    if (pin !== undefined) return pin;
    await this.stat(key, signal);
    return this.pins.get(key)!;
  }

  async readRange(key: string, start: number, end: number, signal?: AbortSignal): Promise<Uint8Array> {
    const display = this.raw.display(key);
    const pin = await this.pinFor(key, signal);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start || end > pin.size) {
      throw new StorageError(StorageErrorCode.BadRequest, `range ${start}-${end} outside object: ${display}`, {
        details: { start, end, size: pin.size },
      });
    }
    const out = new Uint8Array(end - start);
    let at = 0;
    for await (const chunk of this.streamRange(key, pin, start, end, signal)) {
      out.set(chunk, at);
      at += chunk.length;
    }
    return out;
  }

  async *stream(key: string, from = 0, signal?: AbortSignal): AsyncIterable<Uint8Array> {
    const pin = await this.pinFor(key, signal);
    if (from < 0 || from > pin.size) {
      throw new StorageError(StorageErrorCode.BadRequest, `offset ${from} outside object: ${this.raw.display(key)}`);
    }
    yield* this.streamRange(key, pin, from, pin.size, signal);
  }

  /**
   * Reads [start, end) as a sequence of attempts: a broken body resumes at the last byte
   * received, pinned to the same version, so the caller sees one unbroken, identical stream.
   */
  private async *streamRange(
    key: string,
    pin: ReadPin,
    start: number,
    end: number,
    signal: AbortSignal | undefined,
  ): AsyncIterable<Uint8Array> {
    const display = this.raw.display(key);
    let pos = start;
    let failures = 0;
    while (pos < end) {
      let progressed = false;
      const from = pos;
      let read: RawRead | undefined;
      try {
        read = await this.attempt((sig) => this.raw.get(key, from, end, pin, sig), signal);
        if (read.version !== undefined && read.version !== '' && !sameVersion(read.version, pin.version)) {
          throw storageErrors.changed(display);
        }
        if (read.total !== undefined && read.total !== pin.size) throw storageErrors.changed(display);
        for await (const chunk of this.withIdleTimeout(read, signal)) {
          const room = end - pos;
          const piece = chunk.length > room ? chunk.subarray(0, room) : chunk;
          if (piece.length === 0) continue;
          pos += piece.length;
          progressed = true;
          yield piece;
          if (pos >= end) break;
        }
        if (pos < end) throw storageErrors.transient(display, 'short body');
      } catch (e) {
        read?.cancel();
        const err = classifyError(e, display, signal);
        // A dripping server progresses on every attempt, and so does one that resets after a
        // few bytes each time: neither may reset the count, or a slot is held indefinitely, a few
        // bytes per attempt. An attempt is forgiven only for real progress (decision 0107).
        const slow = e instanceof SlowBody && signal?.aborted !== true;
        if (progressed && !slow && pos - from >= Math.min(FORGIVE_AFTER_BYTES, (end - from) / 4)) failures = 0;
        if (slow && failures >= this.opts.retry.retries) {
          throw storageErrors.tooSlow(display, this.opts.read.minBytesPerSec, failures + 1);
        }
        if (!(err instanceof StorageError) || !err.retryable || failures >= this.opts.retry.retries) throw err;
        this.opts.onRetry?.(err);
        await this.backoff(failures, signal);
        failures++;
        if (signal?.aborted === true) throw storageErrors.aborted(display);
      } finally {
        if (pos >= end) read?.cancel();
      }
    }
  }

  /**
   * Iterates a body, failing with a timeout when it stays silent for requestTimeoutMs, and with
   * SlowBody when the time spent waiting for it outruns the read budget (slow drip).
   */
  private async *withIdleTimeout(read: RawRead, signal: AbortSignal | undefined): AsyncIterable<Uint8Array> {
    const it = read.body[Symbol.asyncIterator]();
    const idleMs = this.opts.requestTimeoutMs;
    const { timeoutMs, minBytesPerSec } = this.opts.read;
    let waitedMs = 0;
    let received = 0;
    try {
      for (;;) {
        const budgetMs = timeoutMs + (minBytesPerSec > 0 ? (received * 1000) / minBytesPerSec : 0) - waitedMs;
        let timer: NodeJS.Timeout | undefined;
        let onAbort: (() => void) | undefined;
        const stop = new Promise<never>((_, reject) => {
          timer =
            budgetMs < idleMs
              ? setTimeout(() => reject(new SlowBody()), Math.max(0, budgetMs))
              : setTimeout(() => reject(new AttemptTimeout()), idleMs);
          onAbort = () => reject(new AttemptTimeout());
          signal?.addEventListener('abort', onAbort, { once: true });
        });
        const began = performance.now();
        let r: IteratorResult<Uint8Array>;
        try {
          r = await Promise.race([it.next(), stop]);
        } finally {
          clearTimeout(timer);
          if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
          waitedMs += performance.now() - began;
        }
        if (r.done === true) return;
        received += r.value.length;
        yield r.value;
      }
    } finally {
      // Early exit, timeout or error: release the socket now rather than at GC.
      read.cancel();
      void it.return?.().catch(() => undefined);
    }
  }
}
