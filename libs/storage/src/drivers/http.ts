import * as http from 'node:http';
import * as https from 'node:https';
import type { EgressGuard } from '../egress';
import { pinnedLookup } from '../egress';
import type { ObjectLocation } from '../location';
import type { ObjectStat, ReadPin } from '../object-source';
import type { RawDriver, RawPage, RawRead } from '../resilient';
import { statusError } from '../resilient';
import { StorageError, StorageErrorCode, storageErrors } from '../storage.errors';

/** http.request's shape; injectable so tests can count connection attempts. */
export type RequestFn = (url: URL, options: http.RequestOptions) => http.ClientRequest;

const defaultRequest: RequestFn = (url, options) =>
  url.protocol === 'https:' ? https.request(url, options) : http.request(url, options);

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * Plain HTTPS (presigned URLs, public files). Every hop is resolved and checked by the guard and
 * the socket connects to the checked addresses only; the object is addressed by its URL, so
 * `key` is ignored.
 */
export class HttpDriver implements RawDriver {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;

  constructor(
    private readonly location: ObjectLocation,
    private readonly guard: EgressGuard,
    private readonly request: RequestFn = defaultRequest,
  ) {
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 8, ...guard.tls });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }

  display(): string {
    return this.location.display;
  }

  private async send(headers: Record<string, string>, signal: AbortSignal): Promise<http.IncomingMessage> {
    let url = new URL(this.location.signed ?? this.location.key);
    let previous: URL | undefined;
    for (let hop = 0; ; hop++) {
      this.guard.checkScheme(url, previous);
      const addresses = await this.guard.resolve(url.hostname);
      const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
        const req = this.request(url, {
          method: 'GET',
          headers,
          signal,
          lookup: pinnedLookup(addresses),
          agent: url.protocol === 'https:' ? this.httpsAgent : this.httpAgent,
        });
        req.on('response', resolve);
        req.on('error', reject);
        req.end();
      });
      const status = res.statusCode ?? 0;
      const location = res.headers.location;
      if (!REDIRECTS.has(status) || location === undefined) return res;
      res.resume();
      if (hop >= this.guard.policy.maxRedirects) {
        throw new StorageError(StorageErrorCode.BadRequest, `too many redirects: ${this.location.display}`);
      }
      previous = url;
      try {
        url = new URL(location, url);
      } catch {
        // URL's TypeError keeps the raw Location (`input`), which may carry a signature.
        throw new StorageError(StorageErrorCode.BadRequest, `invalid redirect: ${this.location.display}`);
      }
    }
  }

  async stat(_key: string, signal: AbortSignal): Promise<ObjectStat> {
    // A one-byte ranged GET rather than HEAD: presigned URLs are signed for GET only.
    const res = await this.send({ range: 'bytes=0-0' }, signal);
    res.resume();
    const status = res.statusCode ?? 0;
    const version = header(res, 'etag') ?? '';
    const lm = header(res, 'last-modified');
    const lastModified = lm === undefined ? undefined : new Date(lm);
    let size: number | undefined;
    if (status === 206) size = parseContentRange(header(res, 'content-range'))?.total;
    else if (status === 200) size = parseLength(header(res, 'content-length'));
    else if (status === 416)
      size = /^bytes \*\/(\d+)$/.exec(header(res, 'content-range') ?? '')?.[1] === '0' ? 0 : undefined;
    else throw statusError(status, this.location.display);
    if (size === undefined) {
      throw new StorageError(
        StorageErrorCode.Unsupported,
        `server does not report the object size: ${this.location.display}`,
      );
    }
    return {
      key: this.location.key,
      size,
      version,
      ...(lastModified === undefined ? {} : { lastModified }),
      rangeReads: status !== 200,
    };
  }

  listPage(): Promise<RawPage> {
    return Promise.reject(
      new StorageError(StorageErrorCode.Unsupported, `plain HTTPS URLs cannot be listed: ${this.location.display}`),
    );
  }

  async get(_key: string, start: number, end: number, pin: ReadPin | undefined, signal: AbortSignal): Promise<RawRead> {
    const headers: Record<string, string> = { range: `bytes=${start}-${end - 1}` };
    // Weak ETags never satisfy If-Match; those are compared on the answer instead.
    if (pin !== undefined && pin.version !== '' && !pin.version.startsWith('W/')) headers['if-match'] = pin.version;
    else if (pin?.lastModified !== undefined) headers['if-unmodified-since'] = pin.lastModified.toUTCString();
    const res = await this.send(headers, signal);
    const status = res.statusCode ?? 0;
    const cancel = () => res.destroy();
    if (status !== 200 && status !== 206) {
      res.resume();
      throw statusError(status, this.location.display);
    }
    const lm = header(res, 'last-modified');
    if (pin?.lastModified !== undefined && lm !== undefined && new Date(lm).getTime() !== pin.lastModified.getTime()) {
      cancel();
      throw storageErrors.changed(this.location.display);
    }
    const version = header(res, 'etag');
    if (status === 206) {
      const range = parseContentRange(header(res, 'content-range'));
      if (range === undefined || range.start !== start) {
        cancel();
        throw storageErrors.transient(this.location.display, 'unexpected Content-Range');
      }
      return { body: res, version, total: range.total, cancel };
    }
    // The server ignored Range: read the one forward stream, skipping to the offset.
    const total = parseLength(header(res, 'content-length'));
    return { body: skip(res, start), version, total, cancel };
  }
}

async function* skip(body: AsyncIterable<Buffer>, n: number): AsyncIterable<Uint8Array> {
  let left = n;
  for await (const chunk of body) {
    if (left >= chunk.length) {
      left -= chunk.length;
      continue;
    }
    yield left > 0 ? chunk.subarray(left) : chunk;
    left = 0;
  }
}

function header(res: http.IncomingMessage, name: string): string | undefined {
  const v = res.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function parseLength(v: string | undefined): number | undefined {
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : undefined;
}

function parseContentRange(v: string | undefined): { start: number; end: number; total?: number } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v ?? '');
  if (m === null) return undefined;
  return { start: Number(m[1]), end: Number(m[2]), ...(m[3] === '*' ? {} : { total: Number(m[3]) }) };
}
