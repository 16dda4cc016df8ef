import { createHash } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { listenOnLoopback, type LoopbackListener } from './loopback-listener';

/**
 * The subset of the GCS JSON API that `@google-cloud/storage` uses for reads: objects list
 * (prefix, maxResults, pageToken), object metadata, and `alt=media` downloads with Range,
 * `generation` and `ifGenerationMatch`. Optional bearer-token check. 127.0.0.1 only; with `tls`
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
    };
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
    const m = /^(?:\/download)?\/storage\/v1\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(url.pathname);
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
