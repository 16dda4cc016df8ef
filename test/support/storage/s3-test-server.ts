import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import * as http from 'node:http';
import * as https from 'node:https';
import { listenOnLoopback, type LoopbackListener } from './loopback-listener';

/**
 * A small S3-compatible server for tests (s3rver needs --openssl-legacy-provider on Node 20 and
 * mishandles suffix ranges). Path-style only. Implements what the gateway and its fixtures use:
 * PutObject, HeadObject, GetObject (Range, If-Match → 412), ListObjectsV2 (prefix,
 * continuation-token, max-keys ≤ 1000) and SigV4 header-signature verification, including
 * session tokens. Also the GCS XML (HMAC) endpoint in tests. Listens on 127.0.0.1 only; with
 * `tls` it speaks HTTPS with that key and certificate (STORAGE_CA_FILE tests).
 */
export interface S3Faults {
  failNext?: { count: number; status: number };
  resetAfter?: { count: number; bytes: number };
  /** Replace the object after this many body bytes have been served. */
  replaceAfterBytes?: { bytes: number; with: Buffer };
}

interface Obj {
  body: Buffer;
  etag: string;
  lastModified: Date;
  served: number;
}

export interface S3Credential {
  secretKey: string;
  sessionToken?: string;
}

export interface S3RequestLog {
  method: string;
  path: string;
  query: string;
  range?: string;
  ifMatch?: string;
  /** Access key id of a request whose SigV4 signature verified. */
  accessKey?: string;
  /** Region of the SigV4 credential scope. */
  region?: string;
  /** `x-amz-security-token` (or `X-Amz-Security-Token`) as received. */
  sessionToken?: string;
  /** False for unsigned (anonymous) requests. */
  signed: boolean;
}

export interface S3TestServerOptions {
  /** Serve HTTPS with this key and certificate instead of plain HTTP. */
  tls?: { key: Buffer; cert: Buffer };
}

const STRICT = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

export class S3TestServer {
  readonly requests: S3RequestLog[] = [];
  readonly faults = new Map<string, S3Faults>();
  private readonly buckets = new Map<string, { objects: Map<string, Obj>; public: boolean; region?: string }>();
  private listener?: LoopbackListener;
  private server?: http.Server;
  private port = 0;
  /** TCP connections accepted so far (a refused TLS handshake still counts one). */
  connections = 0;

  constructor(
    private readonly credentials: Record<string, S3Credential> = { S3RVER: { secretKey: 'S3RVER' } },
    private readonly options: S3TestServerOptions = {},
  ) {}

  get endpoint(): string {
    return `${this.options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${this.port}`;
  }

  /**
   * The gateway settings that point its S3 driver at this server with the server's own keys (the
   * default S3RVER pair), lent to `allowedBuckets` only (storage.md §4).
   */
  gatewayEnv(allowedBuckets?: string): Record<string, string> {
    return {
      STORAGE_S3_ENDPOINT: this.endpoint,
      STORAGE_S3_FORCE_PATH_STYLE: 'true',
      STORAGE_S3_REGION: 'us-east-1',
      STORAGE_S3_ACCESS_KEY: 'S3RVER',
      STORAGE_S3_SECRET_KEY: 'S3RVER',
      ...(allowedBuckets !== undefined ? { STORAGE_ALLOWED_BUCKETS: allowedBuckets } : {}),
    };
  }

  /** Adds (or replaces) an access key the SigV4 check accepts. */
  addCredential(accessKey: string, credential: S3Credential): void {
    this.credentials[accessKey] = credential;
  }

  /** `region`: requests signed for another region get S3's 301 PermanentRedirect with x-amz-bucket-region. */
  createBucket(name: string, opts: { public?: boolean; region?: string } = {}): void {
    if (!this.buckets.has(name)) {
      this.buckets.set(name, {
        objects: new Map(),
        public: opts.public === true,
        ...(opts.region === undefined ? {} : { region: opts.region }),
      });
    }
  }

  /** Direct write, bypassing HTTP: bulk fixtures (2,500 keys) without 2,500 signed PUTs. */
  putDirect(bucket: string, key: string, body: Buffer): void {
    this.createBucket(bucket);
    this.buckets.get(bucket)!.objects.set(key, {
      body,
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      lastModified: new Date(),
      served: 0,
    });
  }

  /** Multipart uploads in progress: id → parts by number. */
  private readonly uploads = new Map<string, { bucket: string; key: string; parts: Map<number, Buffer> }>();
  /** Completed and aborted multipart uploads, for assertions (the volume writer's big files). */
  readonly multipartLog: { key: string; parts: number; outcome: 'completed' | 'aborted' }[] = [];

  get openUploads(): number {
    return this.uploads.size;
  }

  /** CreateMultipartUpload, UploadPart, CompleteMultipartUpload, AbortMultipartUpload; false: not one of them. */
  private multipart(
    req: http.IncomingMessage,
    url: URL,
    bucket: string,
    key: string,
    body: Buffer,
    res: http.ServerResponse,
  ): boolean {
    const xml = (text: string) => {
      res.writeHead(200, { 'content-type': 'application/xml' }).end(`<?xml version="1.0" encoding="UTF-8"?>${text}`);
    };
    if (req.method === 'POST' && url.searchParams.has('uploads')) {
      const id = createHash('md5').update(`${bucket}/${key}/${Date.now()}/${Math.random()}`).digest('hex');
      this.uploads.set(id, { bucket, key, parts: new Map() });
      xml(
        `<InitiateMultipartUploadResult><Bucket>${bucket}</Bucket><Key>${key}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`,
      );
      return true;
    }
    const id = url.searchParams.get('uploadId');
    if (id === null) return false;
    const upload = this.uploads.get(id);
    if (upload === undefined) {
      this.error(res, 404, 'NoSuchUpload');
      return true;
    }
    if (req.method === 'PUT') {
      upload.parts.set(Number(url.searchParams.get('partNumber')), body);
      res.writeHead(200, { etag: `"${createHash('md5').update(body).digest('hex')}"` }).end();
      return true;
    }
    if (req.method === 'DELETE') {
      this.uploads.delete(id);
      this.multipartLog.push({ key, parts: upload.parts.size, outcome: 'aborted' });
      res.writeHead(204).end();
      return true;
    }
    if (req.method === 'POST') {
      const order = [...body.toString().matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map((m) => Number(m[1]));
      this.putDirect(bucket, key, Buffer.concat(order.map((n) => upload.parts.get(n) ?? Buffer.alloc(0))));
      this.uploads.delete(id);
      this.multipartLog.push({ key, parts: order.length, outcome: 'completed' });
      xml(`<CompleteMultipartUploadResult><Key>${key}</Key><ETag>"x"</ETag></CompleteMultipartUploadResult>`);
      return true;
    }
    return false;
  }

  /** An object's bytes, or undefined. */
  object(bucket: string, key: string): Buffer | undefined {
    return this.buckets.get(bucket)?.objects.get(key)?.body;
  }

  /** Keys of a bucket, sorted. */
  keys(bucket: string): string[] {
    return [...(this.buckets.get(bucket)?.objects.keys() ?? [])].sort();
  }

  async start(): Promise<void> {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => void this.handle(req, Buffer.concat(chunks), res));
    };
    const tls = this.options.tls;
    this.server = tls === undefined ? http.createServer(onRequest) : https.createServer(tls, onRequest);
    this.listener = await listenOnLoopback(this.server, () => this.connections++);
    this.port = this.listener.port;
  }

  async stop(): Promise<void> {
    await this.listener?.stop();
  }

  private error(res: http.ServerResponse, status: number, code: string, head = false): void {
    const body = head
      ? ''
      : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${code}</Message></Error>`;
    res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  /**
   * Verifies SigV4, from the Authorization header or from a presigned query (X-Amz-*); returns the
   * access key and scope region, or an S3 error code.
   */
  private verify(
    req: http.IncomingMessage,
    body: Buffer,
  ): { ok: true; accessKey: string; region: string } | { ok: false; code: string } {
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    const path = q === -1 ? rawUrl : rawUrl.slice(0, q);
    const pairs = (q === -1 ? '' : rawUrl.slice(q + 1))
      .split('&')
      .filter((p) => p !== '')
      .map((p) => {
        const eq = p.indexOf('=');
        const k = decodeURIComponent((eq === -1 ? p : p.slice(0, eq)).replace(/\+/g, ' '));
        const v = eq === -1 ? '' : decodeURIComponent(p.slice(eq + 1).replace(/\+/g, ' '));
        return [k, v] as const;
      });
    const param = (name: string) => pairs.find(([k]) => k === name)?.[1];
    const presigned = param('X-Amz-Algorithm') === 'AWS4-HMAC-SHA256';
    let credential: string;
    let signedHeaders: string;
    let signature: string;
    let amzDate: string;
    let payloadHash: string;
    let token: string | undefined;
    if (presigned) {
      credential = param('X-Amz-Credential') ?? '';
      signedHeaders = param('X-Amz-SignedHeaders') ?? '';
      signature = param('X-Amz-Signature') ?? '';
      amzDate = param('X-Amz-Date') ?? '';
      payloadHash = 'UNSIGNED-PAYLOAD';
      token = param('X-Amz-Security-Token');
      const expires = Number(param('X-Amz-Expires') ?? '0');
      const signedAt = Date.parse(
        amzDate.replace(/^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/, '$1-$2-$3T$4:$5:$6Z'),
      );
      if (!(signedAt + expires * 1000 > Date.now())) return { ok: false, code: 'AccessDenied' };
    } else {
      const auth = req.headers.authorization;
      if (auth === undefined) return { ok: false, code: 'AccessDenied' };
      const m = /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(auth);
      if (m === null) return { ok: false, code: 'AuthorizationHeaderMalformed' };
      [credential, signedHeaders, signature] = [m[1]!, m[2]!, m[3]!];
      amzDate = String(req.headers['x-amz-date'] ?? '');
      payloadHash = String(req.headers['x-amz-content-sha256'] ?? '');
      const t = req.headers['x-amz-security-token'];
      token = typeof t === 'string' ? t : undefined;
      if (payloadHash !== 'UNSIGNED-PAYLOAD' && payloadHash !== createHash('sha256').update(body).digest('hex')) {
        return { ok: false, code: 'XAmzContentSHA256Mismatch' };
      }
    }
    const scopeMatch = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(credential);
    if (scopeMatch === null || !/^[0-9a-f]{64}$/.test(signature))
      return { ok: false, code: 'AuthorizationHeaderMalformed' };
    const [, accessKey, date, region, service] = scopeMatch as unknown as [string, string, string, string, string];
    const cred = this.credentials[accessKey];
    if (cred === undefined) return { ok: false, code: 'InvalidAccessKeyId' };
    if (cred.sessionToken !== undefined && token !== cred.sessionToken) return { ok: false, code: 'InvalidToken' };
    const canonicalQuery = pairs
      .filter(([k]) => !(presigned && k === 'X-Amz-Signature'))
      .map(([k, v]) => [STRICT(k), STRICT(v)] as const)
      .sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const canonicalHeaders = signedHeaders
      .split(';')
      .map((n) => {
        const v = req.headers[n];
        const text = Array.isArray(v) ? v.join(',') : (v ?? '');
        return `${n}:${text.trim().replace(/\s+/g, ' ')}\n`;
      })
      .join('');
    const canonical = [req.method, path, canonicalQuery, canonicalHeaders, signedHeaders, payloadHash].join('\n');
    const scope = `${date}/${region}/${service}/aws4_request`;
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, createHash('sha256').update(canonical).digest('hex')].join(
      '\n',
    );
    const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
    const kSigning = hmac(hmac(hmac(hmac(`AWS4${cred.secretKey}`, date), region), service), 'aws4_request');
    const expected = createHmac('sha256', kSigning).update(toSign).digest();
    const given = Buffer.from(signature, 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { ok: false, code: 'SignatureDoesNotMatch' };
    }
    return { ok: true, accessKey, region };
  }

  private async handle(req: http.IncomingMessage, body: Buffer, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.endpoint);
    const [bucketName = '', ...rest] = url.pathname.replace(/^\//, '').split('/');
    const key = rest.map((s) => decodeURIComponent(s)).join('/');
    const head = req.method === 'HEAD';
    const range = req.headers.range;
    const ifMatch = req.headers['if-match'];
    const bucket = this.buckets.get(bucketName);
    const auth = this.verify(req, body);
    const token = req.headers['x-amz-security-token'] ?? url.searchParams.get('X-Amz-Security-Token') ?? undefined;
    this.requests.push({
      method: req.method ?? '',
      path: url.pathname,
      query: url.search,
      ...(range === undefined ? {} : { range }),
      ...(ifMatch === undefined ? {} : { ifMatch }),
      ...(auth.ok ? { accessKey: auth.accessKey, region: auth.region } : {}),
      ...(typeof token === 'string' ? { sessionToken: token } : {}),
      signed: req.headers.authorization !== undefined || url.searchParams.has('X-Amz-Signature'),
    });
    if (
      !auth.ok &&
      !(bucket?.public === true && req.headers.authorization === undefined && (req.method === 'GET' || head))
    ) {
      this.error(res, 403, auth.code, head);
      return;
    }
    if (bucket === undefined) {
      if (req.method === 'PUT' && key === '') {
        this.createBucket(bucketName);
        res.writeHead(200).end();
        return;
      }
      this.error(res, 404, 'NoSuchBucket', head);
      return;
    }
    if (auth.ok && bucket.region !== undefined && auth.region !== bucket.region) {
      res.setHeader('x-amz-bucket-region', bucket.region);
      this.error(res, 301, 'PermanentRedirect', head);
      return;
    }
    if (key === '' && req.method === 'GET') {
      this.list(bucketName, bucket.objects, url, res);
      return;
    }
    if (this.multipart(req, url, bucketName, key, body, res)) return;
    if (req.method === 'DELETE') {
      bucket.objects.delete(key);
      res.writeHead(204).end();
      return;
    }
    if (req.method === 'PUT') {
      if (req.headers['content-encoding']?.includes('aws-chunked') === true) {
        this.error(res, 501, 'NotImplemented');
        return;
      }
      this.putDirect(bucketName, key, body);
      res.writeHead(200, { etag: bucket.objects.get(key)!.etag }).end();
      return;
    }
    const o = bucket.objects.get(key);
    if (o === undefined) {
      this.error(res, 404, 'NoSuchKey', head);
      return;
    }
    const f = this.faults.get(`${bucketName}/${key}`);
    if (f?.failNext !== undefined && f.failNext.count > 0) {
      f.failNext.count--;
      this.error(res, f.failNext.status, f.failNext.status === 503 ? 'SlowDown' : 'InternalError', head);
      return;
    }
    if (ifMatch !== undefined && ifMatch !== o.etag) {
      this.error(res, 412, 'PreconditionFailed', head);
      return;
    }
    const headers: http.OutgoingHttpHeaders = {
      etag: o.etag,
      'last-modified': o.lastModified.toUTCString(),
      'accept-ranges': 'bytes',
      'content-type': 'application/octet-stream',
    };
    let start = 0;
    let end = o.body.length - 1;
    let status = 200;
    if (range !== undefined) {
      const m = /^bytes=(\d+)-(\d+)$/.exec(range);
      if (m === null) {
        // Only explicit ranges: a suffix range here means the gateway broke spec §2.
        this.error(res, 400, 'InvalidArgument', head);
        return;
      }
      start = Number(m[1]);
      end = Math.min(Number(m[2]), o.body.length - 1);
      if (start >= o.body.length) {
        this.error(res, 416, 'InvalidRange', head);
        return;
      }
      status = 206;
      headers['content-range'] = `bytes ${start}-${end}/${o.body.length}`;
    }
    const slice = o.body.subarray(start, end + 1);
    headers['content-length'] = head ? o.body.length : slice.length;
    res.writeHead(status, headers);
    if (head) {
      res.end();
      return;
    }
    if (f?.resetAfter !== undefined && f.resetAfter.count > 0 && slice.length > f.resetAfter.bytes) {
      f.resetAfter.count--;
      res.write(slice.subarray(0, f.resetAfter.bytes));
      this.served(o, f, f.resetAfter.bytes);
      await new Promise((r) => setTimeout(r, 20));
      req.socket.resetAndDestroy();
      return;
    }
    res.end(slice);
    this.served(o, f, slice.length);
  }

  private served(o: Obj, f: S3Faults | undefined, n: number): void {
    o.served += n;
    const r = f?.replaceAfterBytes;
    if (r !== undefined && o.served >= r.bytes) {
      o.body = r.with;
      o.etag = `"${createHash('md5').update(r.with).digest('hex')}"`;
      delete f!.replaceAfterBytes;
    }
  }

  private list(bucketName: string, objects: Map<string, Obj>, url: URL, res: http.ServerResponse): void {
    const p = url.searchParams;
    if (p.get('list-type') !== '2') {
      this.error(res, 501, 'NotImplemented');
      return;
    }
    const prefix = p.get('prefix') ?? '';
    const maxKeys = Math.min(Number(p.get('max-keys') ?? '1000'), 1000);
    const after = p.get('continuation-token');
    const startAfter = after === null ? (p.get('start-after') ?? '') : Buffer.from(after, 'base64url').toString('utf8');
    const urlEncode = p.get('encoding-type') === 'url';
    // S3 lists in UTF-8 byte order.
    const keys = [...objects.keys()]
      .filter((k) => k.startsWith(prefix) && Buffer.compare(Buffer.from(k), Buffer.from(startAfter)) > 0)
      .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const page = keys.slice(0, maxKeys);
    const truncated = keys.length > page.length;
    const enc = (s: string) => xml(urlEncode ? encodeURIComponent(s).replace(/%2F/g, '/') : s);
    const contents = page
      .map((k) => {
        const o = objects.get(k)!;
        return `<Contents><Key>${enc(k)}</Key><LastModified>${o.lastModified.toISOString()}</LastModified><ETag>${xml(o.etag)}</ETag><Size>${o.body.length}</Size><StorageClass>STANDARD</StorageClass></Contents>`;
      })
      .join('');
    const next = truncated
      ? `<NextContinuationToken>${Buffer.from(page.at(-1)!).toString('base64url')}</NextContinuationToken>`
      : '';
    const body =
      `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
      `<Name>${xml(bucketName)}</Name><Prefix>${enc(prefix)}</Prefix><KeyCount>${page.length}</KeyCount>` +
      `<MaxKeys>${maxKeys}</MaxKeys>${urlEncode ? '<EncodingType>url</EncodingType>' : ''}<IsTruncated>${truncated}</IsTruncated>${next}${contents}</ListBucketResult>`;
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }
}

function xml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
