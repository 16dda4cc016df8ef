import * as http from 'node:http';
import { listenOnLoopback, type LoopbackListener } from './loopback-listener';

/**
 * An HTTP proxy in front of an emulator that cannot inject faults itself (azurite): forwards every
 * request to `upstream` and, for GETs whose path matches, answers with bursts of a status or cuts
 * the body after N bytes with a connection reset. Loopback only.
 */
export class FaultProxy {
  readonly requests: { method: string; path: string; headers: http.IncomingHttpHeaders }[] = [];
  failNext?: { count: number; status: number; match: RegExp };
  resetAfter?: { count: number; bytes: number; match: RegExp; onReset?: () => Promise<void> };
  private listener?: LoopbackListener;
  private server?: http.Server;
  private port = 0;

  constructor(private readonly upstream: string) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.forward(req, Buffer.concat(chunks), res));
    });
    this.listener = await listenOnLoopback(this.server);
    this.port = this.listener.port;
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
  }

  private async forward(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const path = req.url ?? '/';
    this.requests.push({ method: req.method ?? '', path, headers: req.headers });
    const isGet = req.method === 'GET';
    const fail = this.failNext;
    if (isGet && fail !== undefined && fail.count > 0 && fail.match.test(path)) {
      fail.count--;
      res.writeHead(fail.status, { 'content-length': 0 }).end();
      return;
    }
    const up = new URL(this.upstream);
    const headers = { ...req.headers, host: up.host };
    const upstreamRes = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const r = http.request({ host: up.hostname, port: up.port, method: req.method, path, headers }, resolve);
      r.on('error', reject);
      r.end(body);
    });
    const cut = this.resetAfter;
    res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
    if (isGet && cut !== undefined && cut.count > 0 && cut.match.test(path) && upstreamRes.statusCode === 206) {
      cut.count--;
      const data = await collect(upstreamRes);
      if (data.length > cut.bytes) {
        res.write(data.subarray(0, cut.bytes));
        await new Promise((r) => setTimeout(r, 20));
        await cut.onReset?.();
        req.socket.resetAndDestroy();
        return;
      }
      res.end(data);
      return;
    }
    upstreamRes.pipe(res);
  }
}

async function collect(s: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c);
  return Buffer.concat(parts);
}
