import type { Readable } from 'node:stream';
import { ApiError, Storage, type Bucket, type File, type StorageOptions } from '@google-cloud/storage';
import { gaxios, OAuth2Client } from 'google-auth-library';
import type { ServiceAccountKey } from '../credentials';
import type { ObjectStat, ReadPin } from '../object-source';
import type { RawDriver, RawPage, RawRead } from '../resilient';
import { statusError, tlsFailureCode } from '../resilient';
import { StorageError, StorageErrorCode, storageErrors } from '../storage.errors';

export const GCS_DEFAULT_ENDPOINT = 'https://storage.googleapis.com';

/**
 * The SDK's transport (teeny-request) keeps one module-wide agent pool and takes no agent or CA
 * per client, so STORAGE_CA_FILE cannot reach it; the process-wide NODE_EXTRA_CA_CERTS can
 * (decision 0104).
 */
const GCS_TLS_FIX = 'set NODE_EXTRA_CA_CERTS for a private CA; STORAGE_CA_FILE does not reach the GCS SDK';

export interface GcsDriverOptions {
  bucket: string;
  /** Custom JSON-API endpoint (emulator); undefined = Google. */
  endpoint?: string;
  credential:
    | { serviceAccount: ServiceAccountKey }
    | { accessToken: string }
    | { keyFile: string }
    | 'ambient' // application default credentials
    | 'anonymous';
  display: (key: string) => string;
}

/**
 * GCS JSON API through `@google-cloud/storage` (service-account keys, OAuth tokens, ADC, or
 * anonymous for public objects). Reads are pinned by generation (`file(key, { generation })`):
 * the store serves exactly the bytes seen at stat, and a replaced object without versioning
 * answers 404, which a fresh stat turns into "object changed". SDK retries are off.
 *
 * The SDK's transport (teeny-request) takes no custom agent, so the SSRF check of a custom
 * endpoint happens before use (guarded()), not at connect time, and a private CA must be trusted
 * process-wide (NODE_EXTRA_CA_CERTS); see decisions 0103 and 0104.
 */
export class GcsDriver implements RawDriver {
  private bucketPromise?: Promise<Bucket>;
  private readonly options: StorageOptions;
  private readonly custom: boolean;

  constructor(private readonly o: GcsDriverOptions) {
    const custom = o.endpoint !== undefined && o.endpoint !== GCS_DEFAULT_ENDPOINT;
    this.custom = custom;
    const options: StorageOptions = {
      // An explicit project keeps the SDK from asking the metadata server for one; reads need none.
      projectId: 'import-gateway',
      retryOptions: { autoRetry: false, maxRetries: 0 },
      // The SDK skips authentication for "custom" endpoints; for Google itself, anonymous access
      // is requested by naming the same endpoint with its explicit port.
      apiEndpoint: custom
        ? o.endpoint
        : o.credential === 'anonymous'
          ? `${GCS_DEFAULT_ENDPOINT}:443`
          : GCS_DEFAULT_ENDPOINT,
      // Ambient (ADC) tokens are Google's to see, never a custom endpoint's.
      useAuthWithCustomEndpoint: custom && o.credential !== 'anonymous' && o.credential !== 'ambient',
    };
    const c = o.credential;
    if (c !== 'anonymous' && c !== 'ambient') {
      if ('serviceAccount' in c) {
        options.credentials = {
          client_email: c.serviceAccount.client_email,
          private_key: c.serviceAccount.private_key,
        };
      } else if ('keyFile' in c) {
        options.keyFilename = c.keyFile;
      } else {
        const client = new OAuth2Client();
        client.setCredentials({ access_token: c.accessToken });
        options.authClient = client;
      }
    }
    this.options = options;
  }

  /** ADC is asynchronous and, when none is found, falls back to anonymous access (spec §4). */
  private bucket(): Promise<Bucket> {
    this.bucketPromise ??= (async () => {
      const storage = new Storage(this.options);
      if (this.o.credential !== 'ambient' || this.custom) {
        return storage.bucket(this.o.bucket);
      }
      try {
        await storage.authClient.getClient();
        return storage.bucket(this.o.bucket);
      } catch {
        return new Storage({ ...this.options, apiEndpoint: `${GCS_DEFAULT_ENDPOINT}:443` }).bucket(this.o.bucket);
      }
    })();
    return this.bucketPromise;
  }

  display(key: string): string {
    return this.o.display(key);
  }

  /** The object handle for `key` (the volume writer uploads and deletes through it). */
  async file(key: string): Promise<File> {
    return (await this.bucket()).file(key);
  }

  /** Objects under `prefix`, one page per call (the volume writer's prefix delete). */
  async filesPage(prefix: string, token: string | undefined): Promise<{ files: File[]; next?: string }> {
    const [files, next] = await (
      await this.bucket()
    ).getFiles({
      prefix,
      maxResults: 1000,
      autoPaginate: false,
      ...(token === undefined ? {} : { pageToken: token }),
    });
    const pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
    return pageToken === undefined || pageToken === '' ? { files } : { files, next: pageToken };
  }

  /**
   * The `Authorization` header a resumable upload to a custom endpoint must add itself, or
   * undefined when the SDK's own authentication applies. @google-cloud/storage 7.22 does not pass
   * `useAuthWithCustomEndpoint` to its resumable uploads, which then go out unauthenticated to a
   * custom endpoint (reads and multipart uploads are authenticated). Only for the credentials this
   * driver would send there anyway (never ambient ones).
   */
  async customEndpointAuthorization(): Promise<string | undefined> {
    if (!this.custom || this.options.useAuthWithCustomEndpoint !== true) return undefined;
    const token = await (await this.bucket()).storage.authClient.getAccessToken();
    return typeof token === 'string' ? `Bearer ${token}` : undefined;
  }

  /** Maps an SDK failure to a StorageError naming `key` (the writer's errors). */
  storageError(e: unknown, key: string): unknown {
    return this.mapError(e, key);
  }

  private mapError(e: unknown, key: string): unknown {
    const tls = tlsFailureCode(e);
    if (tls !== undefined) return storageErrors.tlsRejected(this.display(key), tls, GCS_TLS_FIX);
    if (e instanceof ApiError && typeof e.code === 'number' && e.code > 0)
      return statusError(e.code, this.display(key), e);
    // The storage API answers with ApiError; a GaxiosError comes from the auth layer's own calls
    // (Google's token endpoint, the metadata server) and carries *their* status. A 4xx there
    // (400 invalid_grant for a bad or revoked service-account key, 401, 403) is refused
    // credentials, which no retry fixes; 408, 429 and 5xx stay transient.
    if (e instanceof gaxios.GaxiosError && typeof e.status === 'number' && e.status > 0) {
      const s = e.status;
      const refused = s >= 400 && s < 500 && s !== 408 && s !== 429;
      return refused ? storageErrors.accessDenied(this.display(key), e) : statusError(s, this.display(key), e);
    }
    return e;
  }

  async stat(key: string, signal: AbortSignal): Promise<ObjectStat> {
    try {
      const [m] = await abortable((await this.bucket()).file(key).getMetadata(), signal);
      return {
        key,
        size: Number(m.size ?? 0),
        version: String(m.generation ?? ''),
        ...(m.updated === undefined ? {} : { lastModified: new Date(m.updated) }),
      };
    } catch (e) {
      throw this.mapError(e, key);
    }
  }

  async listPage(prefix: string, token: string | undefined, signal: AbortSignal): Promise<RawPage> {
    try {
      const [files, next] = await abortable(
        (await this.bucket()).getFiles({
          prefix,
          maxResults: 1000,
          autoPaginate: false,
          ...(token === undefined ? {} : { pageToken: token }),
        }),
        signal,
      );
      const items = files.map((f: File) => ({
        key: f.name,
        size: Number(f.metadata.size ?? 0),
        version: String(f.metadata.generation ?? ''),
        ...(f.metadata.updated === undefined ? {} : { lastModified: new Date(f.metadata.updated) }),
      }));
      const pageToken = (next as { pageToken?: string } | null | undefined)?.pageToken;
      return pageToken === undefined || pageToken === '' ? { items } : { items, next: pageToken };
    } catch (e) {
      throw this.mapError(e, prefix);
    }
  }

  async get(key: string, start: number, end: number, pin: ReadPin | undefined, signal: AbortSignal): Promise<RawRead> {
    const bucket = await this.bucket();
    const file =
      pin !== undefined && /^\d+$/.test(pin.version)
        ? bucket.file(key, { generation: Number(pin.version) })
        : bucket.file(key);
    const stream: Readable = file.createReadStream({ start, end: end - 1, validation: false, decompress: false });
    const onAbort = () => stream.destroy(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    // Wait for the first byte or an error, so status errors surface here (not mid-iteration).
    try {
      await new Promise<void>((resolve, reject) => {
        stream.once('readable', resolve);
        stream.once('end', resolve);
        stream.once('error', reject);
      });
    } catch (e) {
      signal.removeEventListener('abort', onAbort);
      stream.destroy();
      const mapped = this.mapError(e, key);
      if (pin !== undefined && mapped instanceof StorageError && mapped.code === StorageErrorCode.NotFound) {
        throw await this.changedOrMissing(key, pin, signal, mapped);
      }
      throw mapped;
    }
    return {
      body: stream as AsyncIterable<Uint8Array>,
      cancel: () => {
        signal.removeEventListener('abort', onAbort);
        stream.destroy();
      },
    };
  }

  /** The pinned generation is gone: a live object with another generation means it changed. */
  private async changedOrMissing(key: string, pin: ReadPin, signal: AbortSignal, notFound: Error): Promise<Error> {
    try {
      const now = await this.stat(key, signal);
      return now.version !== pin.version ? storageErrors.changed(this.display(key)) : notFound;
    } catch {
      // Deleted since stat: still a change under our feet.
      return storageErrors.changed(this.display(key));
    }
  }
}

/** The SDK calls take no AbortSignal: race them against it so timeouts and cancels return now. */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(new Error('aborted'));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  return Promise.race([p, aborted]).finally(() => signal.removeEventListener('abort', onAbort));
}
