import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { listenOnLoopback, type LoopbackListener } from './loopback-listener';

/**
 * The subset of the GCS JSON API that `@google-cloud/storage` uses: objects list (prefix,
 * maxResults, pageToken), object metadata, `alt=media` downloads with Range, `generation` and
 * `ifGenerationMatch`; object delete; and uploads (`/upload/storage/v1/b/{bucket}/o` with
 * `uploadType=media`, `multipart` (multipart/related: JSON metadata, then the bytes) or
 * `resumable` (a session URI in `Location`, then PUTs with `Content-Range`, answered 308 with
 * `Range` until the request that declares the total size creates the object)). Objects carry
 * `md5Hash` and `crc32c` as GCS computes them. Optional bearer-token check. 127.0.0.1 only; with `tls`
 * it speaks HTTPS. `handle` can also serve another server's requests (the Google proxy of the
 * credential tests answers for storage.googleapis.com with it).
 */
interface GcsObject {
  body: Buffer;
  generation: number;
  updated: Date;
}

export interface GcsRequestLog {
  method: string;
  path: string;
  query: Record<string, string>;
  range?: string;
  authorization?: string;
  host?: string;
}

/** A resumable upload session: bytes received so far; the object exists only once `done`. */
export interface GcsUploadSession {
  bucket: string;
  name: string;
  received: Buffer[];
  bytes: number;
  /** PUT requests that carried bytes. */
  chunks: number;
  done: boolean;
}

export interface GcsTestServerOptions {
  /** Serve HTTPS with this key and certificate instead of plain HTTP. */
  tls?: { key: Buffer; cert: Buffer };
}

export class GcsTestServer {
  readonly requests: GcsRequestLog[] = [];
  /** Next N media downloads answer with this status. */
  failNext?: { count: number; status: number };
  /** Next N media downloads send this many bytes and reset the connection. */
  resetAfter?: { count: number; bytes: number };
  private readonly buckets = new Map<string, Map<string, GcsObject>>();
  /** Resumable sessions by upload id, kept after completion so tests can look at them. */
  readonly sessions = new Map<string, GcsUploadSession>();
  private sessionCount = 0;
  private listener?: LoopbackListener;
  private generation = 1_700_000_000_000_000;
  private server?: http.Server;
  private port = 0;
  /** TCP connections accepted so far (a refused TLS handshake still counts one). */
  connections = 0;

  /**
   * @param requiredToken With a token set, requests must carry `Authorization: Bearer <token>`;
   *   a function decides per token (e.g. "one the test token endpoint issued"). Changeable.
   */
  constructor(
    public requiredToken?: string | ((token: string) => boolean),
    private readonly options: GcsTestServerOptions = {},
  ) {}

  get endpoint(): string {
    return `${this.options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.port}`;
  }

  put(bucket: string, name: string, body: Buffer): void {
    if (!this.buckets.has(bucket)) this.buckets.set(bucket, new Map());
    this.buckets.get(bucket)!.set(name, { body, generation: ++this.generation, updated: new Date() });
  }

  /** An (empty) bucket, for uploads to land in. */
  createBucket(bucket: string): void {
    if (!this.buckets.has(bucket)) this.buckets.set(bucket, new Map());
  }

  object(bucket: string, name: string): Buffer | undefined {
    return this.buckets.get(bucket)?.get(name)?.body;
  }

  names(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.keys() ?? [])].sort();
  }

  async start(): Promise<void> {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => void this.handle(req, res);
    const tls = this.options.tls;
    this.server = tls === undefined ? http.createServer(onRequest) : https.createServer(tls, onRequest);
    this.listener = await listenOnLoopback(this.server, () => this.connections++);
    this.port = this.listener.port;
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
  }

  private json(res: http.ServerResponse, status: number, body: unknown): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  }

  private fail(res: http.ServerResponse, status: number, reason: string): void {
    this.json(res, status, { error: { code: status, message: reason, errors: [{ reason, message: reason }] } });
  }

  private meta(bucket: string, name: string, o: GcsObject) {
    return {
      kind: 'storage#object',
      bucket,
      name,
      size: String(o.body.length),
      generation: String(o.generation),
      metageneration: '1',
      updated: o.updated.toISOString(),
      etag: createHash('md5').update(o.body).digest('base64'),
      md5Hash: createHash('md5').update(o.body).digest('base64'),
      crc32c: crc32cBase64(o.body),
    };
  }

  private async upload(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    url: URL,
    bucketName: string,
    query: Record<string, string>,
  ): Promise<void> {
    const bucket = this.buckets.get(bucketName);
    if (bucket === undefined) {
      this.fail(res, 404, 'notFound');
      return;
    }
    const body = await readBody(req);
    const create = (name: string, bytes: Buffer) => {
      const o = { body: bytes, generation: ++this.generation, updated: new Date() };
      bucket.set(name, o);
      this.json(res, 200, this.meta(bucketName, name, o));
    };
    const type = query.uploadType;
    if (req.method === 'POST' && type === 'media') {
      if (query.name === undefined) return this.fail(res, 400, 'required');
      return create(query.name, body);
    }
    if (req.method === 'POST' && type === 'multipart') {
      const boundary = /boundary="?([^";]+)"?/.exec(req.headers['content-type'] ?? '')?.[1];
      const parts = boundary === undefined ? null : multipartRelated(body, boundary);
      if (parts === null || parts.length !== 2) return this.fail(res, 400, 'invalidArgument');
      const meta = JSON.parse(parts[0]!.toString('utf8')) as { name?: string };
      const name = meta.name ?? query.name;
      if (name === undefined) return this.fail(res, 400, 'required');
      return create(name, parts[1]!);
    }
    if (req.method === 'POST' && type === 'resumable') {
      const meta = (body.length === 0 ? {} : JSON.parse(body.toString('utf8'))) as { name?: string };
      const name = query.name ?? meta.name;
      if (name === undefined) return this.fail(res, 400, 'required');
      const id = `session-${++this.sessionCount}`;
      this.sessions.set(id, { bucket: bucketName, name, received: [], bytes: 0, chunks: 0, done: false });
      const location = `${this.endpoint}${url.pathname}?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
      res.writeHead(200, { location, 'content-length': 0 });
      res.end();
      return;
    }
    const session = query.upload_id === undefined ? undefined : this.sessions.get(query.upload_id);
    if (req.method === 'DELETE' && session !== undefined && !session.done) {
      // Cancelling a session: GCS answers 499 and forgets it.
      this.sessions.delete(query.upload_id!);
      res.writeHead(499, { 'content-length': 0 });
      res.end();
      return;
    }
    if (req.method !== 'PUT' || session === undefined || session.done) return this.fail(res, 404, 'notFound');
    // `bytes a-b/total`, `bytes a-b/*` (more to come), `bytes */total` or `bytes */*` (status query).
    const r = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(req.headers['content-range'] ?? '');
    if (r === null) return this.fail(res, 400, 'invalidArgument');
    if (r[1] !== undefined) {
      const start = Number(r[1]);
      const end = Number(r[2]);
      if (start !== session.bytes || end - start + 1 !== body.length) return this.fail(res, 400, 'invalidArgument');
      session.received.push(body);
      session.bytes += body.length;
      session.chunks++;
    } else if (body.length > 0) {
      return this.fail(res, 400, 'invalidArgument');
    }
    if (r[3] !== '*') {
      if (Number(r[3]) !== session.bytes) return this.fail(res, 400, 'invalidArgument');
      session.done = true;
      const target = this.buckets.get(session.bucket)!;
      const o = { body: Buffer.concat(session.received), generation: ++this.generation, updated: new Date() };
      target.set(session.name, o);
      this.json(res, 200, this.meta(session.bucket, session.name, o));
      return;
    }
    const headers: http.OutgoingHttpHeaders = { 'content-length': 0 };
    if (session.bytes > 0) headers.range = `bytes=0-${session.bytes - 1}`;
    res.writeHead(308, headers);
    res.end();
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://gcs.test');
    const query = Object.fromEntries(url.searchParams.entries());
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query,
      ...(req.headers.range === undefined ? {} : { range: req.headers.range }),
      ...(req.headers.authorization === undefined ? {} : { authorization: req.headers.authorization }),
      ...(req.headers.host === undefined ? {} : { host: req.headers.host }),
    });
    const required = this.requiredToken;
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const accepted =
      required === undefined ||
      (bearer !== undefined && (typeof required === 'string' ? bearer === required : required(bearer)));
    if (!accepted) {
      this.fail(res, 401, 'required');
      return;
    }
    const up = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(url.pathname);
    if (up !== null) {
      await this.upload(req, res, url, decodeURIComponent(up[1]!), query);
      return;
    }
    const m = /^(?:\/download)?\/storage\/v1\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
    if (m !== null && m[2] !== undefined && req.method === 'DELETE') {
      const removed = this.buckets.get(decodeURIComponent(m[1]!))?.delete(decodeURIComponent(m[2])) ?? false;
      if (!removed) {
        this.fail(res, 404, 'notFound');
        return;
      }
      res.writeHead(204);
      res.end();
      return;
    }
    if (m === null || req.method !== 'GET') {
      this.fail(res, 404, 'notFound');
      return;
    }
    const bucketName = decodeURIComponent(m[1]!);
    const bucket = this.buckets.get(bucketName);
    if (bucket === undefined) {
      this.fail(res, 404, 'notFound');
      return;
    }
    if (m[2] === undefined) {
      const prefix = query.prefix ?? '';
      const max = Math.min(Number(query.maxResults ?? '1000'), 1000);
      const after = query.pageToken === undefined ? '' : Buffer.from(query.pageToken, 'base64url').toString('utf8');
      const names = [...bucket.keys()]
        .filter((k) => k.startsWith(prefix) && (after === '' || Buffer.compare(Buffer.from(k), Buffer.from(after)) > 0))
        .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      const page = names.slice(0, max);
      this.json(res, 200, {
        kind: 'storage#objects',
        items: page.map((n) => this.meta(bucketName, n, bucket.get(n)!)),
        ...(names.length > page.length ? { nextPageToken: Buffer.from(page.at(-1)!).toString('base64url') } : {}),
      });
      return;
    }
    const name = decodeURIComponent(m[2]);
    const o = bucket.get(name);
    if (o === undefined || (query.generation !== undefined && query.generation !== String(o.generation))) {
      this.fail(res, 404, 'notFound');
      return;
    }
    if (query.ifGenerationMatch !== undefined && query.ifGenerationMatch !== String(o.generation)) {
      this.fail(res, 412, 'conditionNotMet');
      return;
    }
    if (query.alt !== 'media') {
      this.json(res, 200, this.meta(bucketName, name, o));
      return;
    }
    if (this.failNext !== undefined && this.failNext.count > 0) {
      this.failNext.count--;
      this.fail(res, this.failNext.status, 'backendError');
      return;
    }
    const headers: http.OutgoingHttpHeaders = { 'x-goog-generation': String(o.generation) };
    let start = 0;
    let end = o.body.length - 1;
    let status = 200;
    const range = req.headers.range;
    if (range !== undefined) {
      const r = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (r === null) {
        this.fail(res, 400, 'invalidArgument');
        return;
      }
      start = Number(r[1]);
      end = r[2] === '' ? end : Math.min(Number(r[2]), end);
      if (start >= o.body.length) {
        this.fail(res, 416, 'requestedRangeNotSatisfiable');
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${o.body.length}`;
    }
    const slice = o.body.subarray(start, end + 1);
    headers['content-length'] = slice.length;
    res.writeHead(status, headers);
    if (this.resetAfter !== undefined && this.resetAfter.count > 0 && slice.length > this.resetAfter.bytes) {
      this.resetAfter.count--;
      res.write(slice.subarray(0, this.resetAfter.bytes));
      await new Promise((r) => setTimeout(r, 20));
      req.socket.resetAndDestroy();
      return;
    }
    res.end(slice);
  }
}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** The bodies of a multipart/related payload (each part's headers dropped). */
function multipartRelated(body: Buffer, boundary: string): Buffer[] | null {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(delimiter);
  if (at < 0) return null;
  for (;;) {
    at += delimiter.length;
    if (body.subarray(at, at + 2).toString() === '--') return parts;
    const next = body.indexOf(delimiter, at);
    if (next < 0) return null;
    const part = body.subarray(at, next);
    const headerEnd = part.indexOf('\r\n\r\n');
    if (headerEnd < 0) return null;
    // The part ends with the CRLF that precedes the next delimiter.
    parts.push(part.subarray(headerEnd + 4, part.length - 2));
    at = next;
  }
}

const CRC32C_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC32C (Castagnoli), big-endian and base64 as GCS reports it. */
function crc32cBase64(data: Buffer): string {
  let c = 0xffffffff;
  for (const byte of data) c = CRC32C_TABLE[(c ^ byte) & 0xff]! ^ (c >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((c ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}
