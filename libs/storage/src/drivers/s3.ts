import * as http from 'node:http';
import * as https from 'node:https';
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  S3ServiceException,
  type S3ClientConfig,
} from '@aws-sdk/client-s3';
import type { EgressGuard } from '../egress';
import type { ObjectStat, ReadPin } from '../object-source';
import type { RawDriver, RawPage, RawRead } from '../resilient';
import { statusError } from '../resilient';

export interface S3DriverOptions {
  bucket: string;
  /** Custom endpoint (MinIO, emulator, GCS XML API); undefined = AWS. */
  endpoint?: string;
  /** Known region; undefined = us-east-1 and one followed region redirect (spec §1). */
  region?: string;
  forcePathStyle: boolean;
  /** Static keys, `anonymous` (no signing), or `ambient` (the AWS SDK default chain). */
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | 'anonymous' | 'ambient';
  guard: EgressGuard;
  requestTimeoutMs: number;
  display: (key: string) => string;
}

/**
 * S3 and S3-compatible stores through `@aws-sdk/client-s3`. The SDK's own retries are off
 * (maxAttempts 1): ResilientSource retries once, with resume, instead of two nested loops that
 * multiply into a retry storm. Sockets connect through the guard's lookup.
 */
export class S3Driver implements RawDriver {
  private clientPromise?: Promise<S3Client>;
  private region: string;
  private readonly agents: { httpAgent: http.Agent; httpsAgent: https.Agent };

  constructor(private readonly o: S3DriverOptions) {
    const agentOpts = { keepAlive: true, maxSockets: 16, lookup: o.guard.lookup };
    this.agents = {
      httpAgent: new http.Agent(agentOpts),
      httpsAgent: new https.Agent({ ...agentOpts, ...o.guard.tls }),
    };
    this.region = o.region ?? 'us-east-1';
  }

  private baseConfig(): S3ClientConfig {
    const o = this.o;
    return {
      region: this.region,
      forcePathStyle: o.forcePathStyle,
      // Region redirects are followed here, once, and the region kept for every later request
      // (the SDK's own followRegionRedirects pays the redirect again on every call).
      followRegionRedirects: false,
      maxAttempts: 1,
      // Checksums on ranged reads cannot be validated and some S3-compatible stores reject the headers.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      requestHandler: {
        ...this.agents,
        connectionTimeout: o.requestTimeoutMs,
        requestTimeout: o.requestTimeoutMs,
      },
      ...(o.endpoint === undefined ? {} : { endpoint: o.endpoint }),
    };
  }

  private anonymousClient(): S3Client {
    // Public buckets: requests go unsigned instead of failing for want of credentials.
    return new S3Client({
      ...this.baseConfig(),
      credentials: { accessKeyId: '', secretAccessKey: '' },
      signer: { sign: (request) => Promise.resolve(request) },
    });
  }

  /** Built on first use: the ambient chain is asynchronous and falls back to anonymous (spec §4). */
  private client(): Promise<S3Client> {
    this.clientPromise ??= (async () => {
      const c = this.o.credentials;
      if (c === 'anonymous') return this.anonymousClient();
      if (c !== 'ambient') return new S3Client({ ...this.baseConfig(), credentials: c });
      const ambient = new S3Client(this.baseConfig());
      try {
        await ambient.config.credentials();
        return ambient;
      } catch {
        ambient.destroy();
        return this.anonymousClient();
      }
    })();
    return this.clientPromise;
  }

  close(): void {
    void this.clientPromise?.then((c) => c.destroy());
    this.agents.httpAgent.destroy();
    this.agents.httpsAgent.destroy();
  }

  /** Runs one SDK call; on S3's wrong-region answer, switches to the region it names and retries once. */
  private async call<T>(run: (client: S3Client) => Promise<T>): Promise<T> {
    const client = await this.client();
    try {
      return await run(client);
    } catch (e) {
      const region = redirectRegion(e);
      if (region === undefined || region === this.region) throw e;
      this.region = region;
      this.clientPromise = undefined;
      client.destroy();
      return run(await this.client());
    }
  }

  display(key: string): string {
    return this.o.display(key);
  }

  /** One SDK call with this driver's client and region handling (the volume writer's commands). */
  send<T>(run: (client: S3Client) => Promise<T>): Promise<T> {
    return this.call(run);
  }

  /** A StorageError for an SDK failure about `key`, when the status says what it is. */
  storageError(e: unknown, key: string): unknown {
    return this.mapError(e, key);
  }

  private mapError(e: unknown, key: string): unknown {
    if (e instanceof S3ServiceException) {
      const status = e.$metadata.httpStatusCode;
      if (e.name === 'NoSuchBucket' || e.name === 'NoSuchKey') return statusError(404, this.display(key), e);
      if (e.name === 'PreconditionFailed') return statusError(412, this.display(key), e);
      if (status !== undefined) return statusError(status, this.display(key), e);
    }
    return e;
  }

  async stat(key: string, signal: AbortSignal): Promise<ObjectStat> {
    try {
      const r = await this.call((c) =>
        c.send(new HeadObjectCommand({ Bucket: this.o.bucket, Key: key }), { abortSignal: signal }),
      );
      return {
        key,
        size: r.ContentLength ?? 0,
        version: r.ETag ?? '',
        ...(r.LastModified === undefined ? {} : { lastModified: r.LastModified }),
      };
    } catch (e) {
      throw this.mapError(e, key);
    }
  }

  async listPage(prefix: string, token: string | undefined, signal: AbortSignal): Promise<RawPage> {
    try {
      const r = await this.call((c) =>
        c.send(
          new ListObjectsV2Command({
            Bucket: this.o.bucket,
            Prefix: prefix,
            MaxKeys: 1000,
            ...(token === undefined ? {} : { ContinuationToken: token }),
          }),
          { abortSignal: signal },
        ),
      );
      const items: ObjectStat[] = (r.Contents ?? []).map((c) => ({
        key: c.Key ?? '',
        size: c.Size ?? 0,
        version: c.ETag ?? '',
        ...(c.LastModified === undefined ? {} : { lastModified: c.LastModified }),
      }));
      const next = r.IsTruncated === true ? r.NextContinuationToken : undefined;
      return next === undefined ? { items } : { items, next };
    } catch (e) {
      throw this.mapError(e, prefix);
    }
  }

  async get(key: string, start: number, end: number, pin: ReadPin | undefined, signal: AbortSignal): Promise<RawRead> {
    try {
      const r = await this.call((c) =>
        c.send(
          new GetObjectCommand({
            Bucket: this.o.bucket,
            Key: key,
            Range: `bytes=${start}-${end - 1}`,
            ...(pin !== undefined && pin.version !== '' ? { IfMatch: pin.version } : {}),
          }),
          { abortSignal: signal },
        ),
      );
      const body = r.Body as (Readable & AsyncIterable<Uint8Array>) | undefined;
      if (body === undefined) throw statusError(502, this.display(key));
      const m = /^bytes (\d+)-\d+\/(\d+)$/.exec(r.ContentRange ?? '');
      // A store that ignored Range (no Content-Range) would hand back bytes from 0.
      if ((m === null && start > 0) || (m !== null && Number(m[1]) !== start)) {
        body.destroy();
        throw statusError(502, this.display(key));
      }
      return {
        body,
        ...(r.ETag === undefined ? {} : { version: r.ETag }),
        ...(m === null ? {} : { total: Number(m[2]) }),
        cancel: () => body.destroy(),
      };
    } catch (e) {
      throw this.mapError(e, key);
    }
  }
}

/** The region S3 names in a 301 PermanentRedirect (or a 400 with x-amz-bucket-region). */
function redirectRegion(e: unknown): string | undefined {
  if (!(e instanceof S3ServiceException)) return undefined;
  const status = e.$metadata.httpStatusCode;
  if (status !== 301 && status !== 400) return undefined;
  const header = e.$response?.headers['x-amz-bucket-region'];
  return typeof header === 'string' && /^[a-z0-9-]{1,40}$/.test(header) ? header : undefined;
}
