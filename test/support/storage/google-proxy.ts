import { randomBytes, verify } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import type { Socket } from 'node:net';
import type { GcsTestServer } from './gcs-test-server';
import { listenOnLoopback, type LoopbackListener } from './loopback-listener';

/** What Google's SDKs hard-code: the OAuth token endpoint (gtoken) and the storage API host. */
export const GOOGLE_TOKEN_HOST = 'www.googleapis.com';
export const GOOGLE_STORAGE_HOST = 'storage.googleapis.com';
const TOKEN_PATH = '/oauth2/v4/token';
const TOKEN_AUDIENCE = `https://${GOOGLE_TOKEN_HOST}${TOKEN_PATH}`;
const STORAGE_SCOPE = 'https://www.googleapis.com/auth/devstorage.full_control';

export interface TokenGrant {
  clientEmail: string;
  scope: string;
  accessToken: string;
}

/**
 * An HTTPS_PROXY for Google's hard-coded hosts that never dials out. A client configured with
 * `HTTPS_PROXY=<origin>` asks it to CONNECT to `www.googleapis.com:443` or
 * `storage.googleapis.com:443`; the proxy answers the tunnel itself, terminating TLS with a
 * certificate for those names from a test CA (the client trusts it via NODE_EXTRA_CA_CERTS), and
 * serves:
 *
 * - `POST https://www.googleapis.com/oauth2/v4/token` (gtoken's JWT-bearer grant): the assertion's
 *   RS256 signature is verified against the registered service account's public key, `iss`,
 *   `aud`, `scope` and lifetime are checked, and a fresh access token is issued;
 * - `https://storage.googleapis.com/…` through a GcsTestServer's handler.
 *
 * Every CONNECT target (and any plain proxied request) is recorded; anything else is refused
 * with 403, and no socket is ever opened by the proxy.
 */
export class GoogleApisTestProxy {
  /** `host:port` of every CONNECT, in order, including refused ones. */
  readonly connectTargets: string[] = [];
  /** Requests that were not CONNECT (a client sending plain HTTP through the proxy): refused. */
  readonly plainRequests: string[] = [];
  readonly grants: TokenGrant[] = [];
  /** Token requests that were refused, with why. */
  readonly refusedGrants: string[] = [];
  private readonly serviceAccounts = new Map<string, string>();
  private listener?: LoopbackListener;
  private readonly tunnel: https.Server;
  private server?: http.Server;
  private port = 0;

  /**
   * @param tls certificate valid for www.googleapis.com and storage.googleapis.com
   * @param storage answers the requests for storage.googleapis.com
   */
  constructor(
    tls: { key: Buffer; cert: Buffer },
    private readonly storage: GcsTestServer,
  ) {
    this.tunnel = https.createServer(tls, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.serve(req, Buffer.concat(chunks), res));
    });
  }

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Lets this service account's JWTs through the token endpoint. */
  registerServiceAccount(clientEmail: string, publicKeyPem: string): void {
    this.serviceAccounts.set(clientEmail, publicKeyPem);
  }

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      this.plainRequests.push(`${req.method ?? ''} ${req.url ?? ''}`);
      res.writeHead(403, { 'content-length': 0 }).end();
    });
    this.server.on('connect', (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
      const target = req.url ?? '';
      this.connectTargets.push(target);
      socket.on('error', () => undefined);
      if (target !== `${GOOGLE_TOKEN_HOST}:443` && target !== `${GOOGLE_STORAGE_HOST}:443`) {
        socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
        return;
      }
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) socket.unshift(head);
      // The tunnel ends here: TLS is terminated by our own https server, never forwarded.
      this.tunnel.emit('connection', socket);
    });
    this.listener = await listenOnLoopback(this.server);
    this.port = this.listener.port;
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
  }

  private async serve(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const host = (req.headers.host ?? '').replace(/:443$/, '');
    if (host === GOOGLE_STORAGE_HOST) {
      await this.storage.handle(req, res);
      return;
    }
    const json = (status: number, value: unknown) => {
      const text = JSON.stringify(value);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.end(text);
    };
    if (host !== GOOGLE_TOKEN_HOST || req.method !== 'POST' || req.url !== TOKEN_PATH) {
      json(404, { error: 'not_found' });
      return;
    }
    const form = new URLSearchParams(body.toString('utf8'));
    const problem = this.checkAssertion(form);
    if (typeof problem === 'string') {
      this.refusedGrants.push(problem);
      json(400, { error: 'invalid_grant', error_description: problem });
      return;
    }
    const accessToken = `ya29.igw-test-${randomBytes(12).toString('hex')}`;
    this.grants.push({ ...problem, accessToken });
    json(200, { access_token: accessToken, expires_in: 3599, token_type: 'Bearer' });
  }

  /** Checks a JWT-bearer grant; returns the issuer and scope, or why it is refused. */
  private checkAssertion(form: URLSearchParams): { clientEmail: string; scope: string } | string {
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return 'wrong grant_type';
    const parts = (form.get('assertion') ?? '').split('.');
    if (parts.length !== 3) return 'assertion is not a JWT';
    const [h, p, sig] = parts as [string, string, string];
    let header: { alg?: unknown };
    let claims: { iss?: unknown; aud?: unknown; scope?: unknown; iat?: unknown; exp?: unknown };
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as typeof header;
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as typeof claims;
    } catch {
      return 'assertion is not JSON';
    }
    if (header.alg !== 'RS256') return 'alg is not RS256';
    const email = typeof claims.iss === 'string' ? claims.iss : '';
    const publicKey = this.serviceAccounts.get(email);
    if (publicKey === undefined) return `unknown service account ${email}`;
    if (!verify('RSA-SHA256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(sig, 'base64url'))) {
      return 'bad signature';
    }
    if (claims.aud !== TOKEN_AUDIENCE) return 'wrong aud';
    const scope = typeof claims.scope === 'string' ? claims.scope : '';
    if (!scope.split(' ').includes(STORAGE_SCOPE)) return 'storage scope missing';
    const now = Date.now() / 1000;
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number') return 'iat/exp missing';
    if (claims.iat > now + 60 || claims.exp < now || claims.exp - claims.iat > 3600) return 'bad lifetime';
    return { clientEmail: email, scope };
  }
}
