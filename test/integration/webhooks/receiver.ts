import http from 'node:http';

export interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  status: number;
}

/** A loopback webhook receiver: records every request and answers scripted statuses per path (then 200). */
export class WebhookReceiver {
  readonly received: Received[] = [];
  private readonly scripts = new Map<string, number[]>();
  private server?: http.Server;
  private port = 0;

  url(path: string): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** The next answers to `path`, in order; 200 once they are used up. */
  answer(path: string, ...statuses: number[]): void {
    this.scripts.set(path, statuses);
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        const path = req.url ?? '/';
        const status = this.scripts.get(path.split('?')[0]!)?.shift() ?? 200;
        this.received.push({ path, headers: req.headers, body, status });
        res.statusCode = status;
        res.end(status >= 400 ? 'nope' : 'ok');
      });
    });
    await new Promise<void>((ok) => this.server!.listen(0, '127.0.0.1', ok));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    await new Promise<void>((ok) => this.server?.close(() => ok()) ?? ok());
  }

  /** Waits until `n` requests to `path` (without query) arrived. */
  async waitFor(path: string, n: number, timeoutMs = 20_000): Promise<Received[]> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const got = this.received.filter((r) => r.path.split('?')[0] === path);
      if (got.length >= n) return got;
      if (Date.now() > deadline) {
        throw new Error(
          `${got.length} of ${n} webhook requests to ${path} arrived; all: ${JSON.stringify(this.received.map((r) => r.path))}`,
        );
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
