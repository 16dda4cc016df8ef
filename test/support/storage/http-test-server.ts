import { createHash } from 'node:crypto';
import * as http from 'node:http';
import { listenOnLoopback, type LoopbackListener } from './loopback-listener';

/** Faults a path can be given; each counter is consumed by the requests that hit it. */
export interface Faults {
  /** Answer the next N GETs with this status (500, 503, 429…). */
  failNext?: { count: number; status: number };
  /** Always answer this status (403 …). */
  always?: number;
  /** Next N bodies: send this many bytes, then destroy the socket (reset mid-body). */
  resetAfter?: { count: number; bytes: number };
  /** Next N bodies: send this many bytes, then end the response cleanly (short body, full Content-Length). */
  truncateAfter?: { count: number; bytes: number };
  /** Next N requests: wait this long before sending headers. */
  slowFirstByte?: { count: number; ms: number };
  /** After this many body bytes have been served in total, the object is replaced. */
  replaceAfterBytes?: { bytes: number; with: Buffer };
  /** Answer every GET with a 302 to this Location (any text, even an unparsable URL). */
  redirectTo?: string;
  /** Ignore Range headers and answer 200 with the whole object. */
  ignoreRange?: boolean;
  /** Do not send ETag (and so ignore If-Match). */
  noEtag?: boolean;
  /** Next N bodies: send this many bytes, then hold the rest until `until` settles (a stalled read). */
  pauseAfter?: { count: number; bytes: number; until: Promise<void> };
  /**
   * Next N bodies: send `bytes` bytes at once, then `step` bytes every `everyMs` (a slow drip that
   * never goes silent long enough for an idle timeout). Stops when the client goes away.
   */
  drip?: { count: number; bytes: number; step: number; everyMs: number };
}

/** An object whose bytes are made on demand (test/support/hostile-files.ts), e.g. a 1 GB JSON string. */
export interface GeneratedBody {
  readonly size: number;
  read(start: number, end: number): Buffer;
}

interface Stored {
  body: Buffer;
  generated?: GeneratedBody;
  etag: string;
  lastModified: Date;
  faults: Faults;
  served: number;
}

export interface RequestLog {
  method: string;
  path: string;
  range?: string;
  ifMatch?: string;
}

/**
 * A plain-HTTP object server for the HTTPS driver: Range (206/Content-Range/416), ETag and
 * If-Match (412), redirects (`/redirect/<n>/<path>` → n hops), and per-object fault injection.
 * Listens on 127.0.0.1 only.
 */
export class HttpTestServer {
  readonly requests: RequestLog[] = [];
  connections = 0;
  private readonly objects = new Map<string, Stored>();
  private listener?: LoopbackListener;
  private server?: http.Server;
  private port = 0;

  /** `host`: another loopback address (127.0.0.2) lets an SSRF test allow this server alone. */
  constructor(private readonly host = '127.0.0.1') {}

  get origin(): string {
    return `http://${this.host}:${this.port}`;
  }

  url(path: string): string {
    return `${this.origin}${path.startsWith('/') ? path : `/${path}`}`;
  }

  put(path: string, body: Buffer, faults: Faults = {}): void {
    this.objects.set(path, { body, etag: etagOf(body), lastModified: new Date(), faults, served: 0 });
  }

  /** An object of `body.size` bytes served by ranges made on demand, never held whole. */
  putGenerated(path: string, body: GeneratedBody): void {
    this.objects.set(path, {
      body: Buffer.alloc(0),
      generated: body,
      etag: `"generated-${body.size}-${this.objects.size}"`,
      lastModified: new Date(),
      faults: {},
      served: 0,
    });
  }

  faults(path: string): Faults {
    const o = this.objects.get(path);
    if (o === undefined) throw new Error(`no object ${path}`);
    return o.faults;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => void this.handle(req, res));
    this.listener = await listenOnLoopback(this.server, () => this.connections++, this.host);
    this.port = this.listener.port;
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.origin);
    const range = req.headers.range;
    const ifMatch = req.headers['if-match'];
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      ...(range === undefined ? {} : { range }),
      ...(ifMatch === undefined ? {} : { ifMatch }),
    });
    const redirect = /^\/redirect\/(\d+)(\/.*)$/.exec(url.pathname);
    if (redirect !== null) {
      const n = Number(redirect[1]);
      const target = n <= 1 ? redirect[2]! : `/redirect/${n - 1}${redirect[2]!}`;
      res.writeHead(302, { location: target }).end();
      return;
    }
    const absolute = /^\/to-absolute\/(.*)$/.exec(url.pathname);
    if (absolute !== null) {
      res.writeHead(302, { location: decodeURIComponent(absolute[1]!) }).end();
      return;
    }
    const o = this.objects.get(url.pathname);
    if (o === undefined) {
      res.writeHead(404).end();
      return;
    }
    const f = o.faults;
    if (f.slowFirstByte !== undefined && f.slowFirstByte.count > 0) {
      f.slowFirstByte.count--;
      await new Promise((r) => setTimeout(r, f.slowFirstByte!.ms));
    }
    if (f.redirectTo !== undefined) {
      res.writeHead(302, { location: f.redirectTo }).end();
      return;
    }
    if (f.always !== undefined) {
      res.writeHead(f.always).end();
      return;
    }
    if (f.failNext !== undefined && f.failNext.count > 0) {
      f.failNext.count--;
      res.writeHead(f.failNext.status).end();
      return;
    }
    const headers: http.OutgoingHttpHeaders = {
      'last-modified': o.lastModified.toUTCString(),
      'accept-ranges': 'bytes',
    };
    if (f.noEtag !== true) {
      headers.etag = o.etag;
      if (ifMatch !== undefined && ifMatch !== o.etag) {
        res.writeHead(412).end();
        return;
      }
    }
    const size = o.generated?.size ?? o.body.length;
    let start = 0;
    let end = size - 1;
    let status = 200;
    if (range !== undefined && f.ignoreRange !== true) {
      const m = /^bytes=(\d+)-(\d*)$/.exec(range);
      if (m === null) {
        res.writeHead(400).end(); // suffix ranges are a client bug here
        return;
      }
      start = Number(m[1]);
      end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
      if (start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${size}`;
    }
    if (o.generated !== undefined) {
      headers['content-length'] = end + 1 - start;
      res.writeHead(status, headers);
      await this.sendGenerated(o.generated, start, end + 1, res);
      return;
    }
    const body = o.body.subarray(start, end + 1);
    headers['content-length'] = body.length;
    res.writeHead(status, headers);
    const cut =
      f.resetAfter !== undefined && f.resetAfter.count > 0
        ? { kind: 'reset' as const, bytes: f.resetAfter.bytes, counter: f.resetAfter }
        : f.truncateAfter !== undefined && f.truncateAfter.count > 0
          ? { kind: 'truncate' as const, bytes: f.truncateAfter.bytes, counter: f.truncateAfter }
          : undefined;
    if (cut !== undefined && body.length > cut.bytes) {
      cut.counter.count--;
      res.write(body.subarray(0, cut.bytes));
      this.account(o, cut.bytes);
      // Give the bytes time to leave before the connection dies.
      await new Promise((r) => setTimeout(r, 20));
      if (cut.kind === 'reset') req.socket.resetAndDestroy();
      else req.socket.end();
      return;
    }
    const pause = f.pauseAfter;
    if (pause !== undefined && pause.count > 0 && body.length > pause.bytes) {
      pause.count--;
      res.write(body.subarray(0, pause.bytes));
      this.account(o, pause.bytes);
      await pause.until;
      if (res.destroyed) return; // the reader gave up meanwhile
      res.end(body.subarray(pause.bytes));
      this.account(o, body.length - pause.bytes);
      return;
    }
    const drip = f.drip;
    if (drip !== undefined && drip.count > 0 && body.length > drip.bytes) {
      drip.count--;
      res.write(body.subarray(0, drip.bytes));
      this.account(o, drip.bytes);
      for (let at = drip.bytes; at < body.length; at += drip.step) {
        await new Promise((r) => setTimeout(r, drip.everyMs));
        if (res.destroyed || req.socket.destroyed) return; // the reader gave up
        const piece = body.subarray(at, Math.min(at + drip.step, body.length));
        res.write(piece);
        this.account(o, piece.length);
      }
      res.end();
      return;
    }
    res.end(body);
    this.account(o, body.length);
  }

  /** Bytes [from, to) of a generated body, 1 MiB at a time as the client takes them. */
  private async sendGenerated(g: GeneratedBody, from: number, to: number, res: http.ServerResponse): Promise<void> {
    for (let at = from; at < to && !res.destroyed; at += 1 << 20) {
      if (!res.write(g.read(at, Math.min(to, at + (1 << 20)))))
        await new Promise<void>((ok) => {
          res.once('drain', ok);
          res.once('close', ok);
        });
    }
    if (!res.destroyed) res.end();
  }

  private account(o: Stored, bytes: number): void {
    o.served += bytes;
    const r = o.faults.replaceAfterBytes;
    if (r !== undefined && o.served >= r.bytes) {
      o.body = r.with;
      o.etag = etagOf(r.with);
      o.lastModified = new Date(o.lastModified.getTime() + 1000);
      delete o.faults.replaceAfterBytes;
    }
  }
}

export function etagOf(body: Buffer): string {
  return `"${createHash('md5').update(body).digest('hex')}"`;
}
