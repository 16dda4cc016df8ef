import * as http from 'node:http';
import { randomBytes } from 'node:crypto';
import { listenOnLoopback, type LoopbackListener } from './loopback-listener';

/** Temporary credentials as AWS hands them out. */
export interface AwsTemporaryCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken: string;
}

export interface AwsCredentialsRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
}

/**
 * The two AWS credential endpoints the SDK's default chain asks when nothing local is set, on
 * 127.0.0.1 (the SDK accepts loopback for both):
 *
 * - container credentials (ECS/EKS): `GET /creds` for `AWS_CONTAINER_CREDENTIALS_FULL_URI`,
 *   checking `Authorization` against `AWS_CONTAINER_AUTHORIZATION_TOKEN` when one is set;
 * - EC2 IMDSv2 for `AWS_EC2_METADATA_SERVICE_ENDPOINT`: `PUT /latest/api/token`, then
 *   `GET /latest/meta-data/iam/security-credentials/` (the role) and `…/<role>` (the keys), both
 *   refused without the session token from the PUT.
 *
 * Every request is recorded, so a test can prove a source was (or was not) consulted.
 */
export class AwsCredentialsTestServer {
  readonly requests: AwsCredentialsRequest[] = [];
  /** When set, `/creds` requires this exact `Authorization` header. */
  containerAuthorization?: string;
  /** False: the instance has no role attached (IMDS answers 404 for the role list). */
  instanceRole = true;
  private readonly imdsTokens = new Set<string>();
  private listener?: LoopbackListener;
  private server?: http.Server;
  private port = 0;

  constructor(
    private readonly container: AwsTemporaryCredentials,
    private readonly instance: AwsTemporaryCredentials & { role: string },
  ) {}

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get containerUri(): string {
    return `${this.origin}/creds`;
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
    const path = new URL(req.url ?? '/', this.origin).pathname;
    this.requests.push({ method: req.method ?? '', path, headers: req.headers });
    const send = (status: number, body: string, type = 'text/plain') => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(body);
    };
    const expiration = new Date(Date.now() + 3_600_000).toISOString();
    const keys = (c: AwsTemporaryCredentials) => ({
      AccessKeyId: c.accessKeyId,
      SecretAccessKey: c.secretAccessKey,
      Token: c.sessionToken,
      Expiration: expiration,
    });
    if (req.method === 'GET' && path === '/creds') {
      if (this.containerAuthorization !== undefined && req.headers.authorization !== this.containerAuthorization) {
        send(401, 'unauthorized');
        return;
      }
      send(200, JSON.stringify(keys(this.container)), 'application/json');
      return;
    }
    if (req.method === 'PUT' && path === '/latest/api/token') {
      if (req.headers['x-aws-ec2-metadata-token-ttl-seconds'] === undefined) {
        send(400, 'missing TTL');
        return;
      }
      const token = randomBytes(16).toString('hex');
      this.imdsTokens.add(token);
      send(200, token);
      return;
    }
    const prefix = '/latest/meta-data/iam/security-credentials/';
    if (req.method === 'GET' && path.startsWith(prefix)) {
      const token = req.headers['x-aws-ec2-metadata-token'];
      if (typeof token !== 'string' || !this.imdsTokens.has(token)) {
        send(401, 'IMDSv2 token required');
        return;
      }
      const role = path.slice(prefix.length);
      if (!this.instanceRole) send(404, 'not found');
      else if (role === '') send(200, this.instance.role);
      else if (role === this.instance.role) {
        send(
          200,
          JSON.stringify({
            Code: 'Success',
            LastUpdated: new Date().toISOString(),
            Type: 'AWS-HMAC',
            ...keys(this.instance),
          }),
          'application/json',
        );
      } else send(404, 'not found');
      return;
    }
    send(404, 'not found');
  }
}
