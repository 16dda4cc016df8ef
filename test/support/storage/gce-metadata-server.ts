import * as http from 'node:http';
import { listenOnLoopback, type LoopbackListener } from './loopback-listener';

export interface GceMetadataRequest {
  method: string;
  path: string;
  /** The `Metadata-Flavor` request header (Google's SSRF guard: must be `Google`). */
  flavor?: string;
}

/**
 * The part of the GCE metadata server that Google's application default credentials use, on
 * 127.0.0.1 for `GCE_METADATA_HOST`: the detection ping (`/computeMetadata/v1/instance`), the
 * default service account's access token and the universe domain. Like the real one it refuses
 * requests without `Metadata-Flavor: Google` and marks every answer with that header, which
 * gcp-metadata checks. Records every request.
 */
export class GceMetadataTestServer {
  readonly requests: GceMetadataRequest[] = [];
  private listener?: LoopbackListener;
  private server?: http.Server;
  private port = 0;

  constructor(readonly accessToken: string) {}

  /** `host:port`, the form GCE_METADATA_HOST takes. */
  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Requests for the access token (what a test counts to tell "consulted" from "not"). */
  get tokenRequests(): GceMetadataRequest[] {
    return this.requests.filter((r) => r.path.endsWith('/service-accounts/default/token'));
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      req.resume();
      req.on('end', () => this.handle(req, res));
    });
    this.listener = await listenOnLoopback(this.server);
    this.port = this.listener.port;
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const path = new URL(req.url ?? '/', 'http://metadata.test').pathname;
    const flavor = req.headers['metadata-flavor'];
    this.requests.push({
      method: req.method ?? '',
      path,
      ...(typeof flavor === 'string' ? { flavor } : {}),
    });
    const send = (status: number, body: string, type = 'application/text') => {
      res.writeHead(status, {
        'metadata-flavor': 'Google',
        'content-type': type,
        'content-length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (flavor !== 'Google') {
      send(403, 'Missing Metadata-Flavor: Google header');
      return;
    }
    switch (path) {
      case '/computeMetadata/v1/instance':
      case '/computeMetadata/v1/instance/':
        send(200, 'attributes/\nservice-accounts/\n');
        return;
      case '/computeMetadata/v1/instance/service-accounts/default/token':
        send(
          200,
          JSON.stringify({ access_token: this.accessToken, expires_in: 3599, token_type: 'Bearer' }),
          'application/json',
        );
        return;
      case '/computeMetadata/v1/universe/universe-domain':
        send(200, 'googleapis.com');
        return;
      default:
        send(404, 'not found');
    }
  }
}
