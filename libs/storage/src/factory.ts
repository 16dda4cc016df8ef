import { EgressGuard, egressPolicyFrom, type Resolver } from './egress';
import { parseServiceAccount, validateCredentials, type StorageCredentials } from './credentials';
import { HttpDriver, type RequestFn } from './drivers/http';
import type { AzureDriverOptions } from './drivers/azure';
import type { GcsDriverOptions } from './drivers/gcs';
import { guarded } from './guarded';
import { serverCredentialsApply, type ObjectLocation, type StorageConfig, type StorageProvider } from './location';
import { DEFAULT_RETRY, type ClosableObjectSource, type RetryOptions } from './object-source';
import { ResilientSource, type RawDriver, type RawPage, type RawRead } from './resilient';
import type { ObjectStat, ReadPin } from './object-source';
import { StorageError, StorageErrorCode } from './storage.errors';
import type { ObjectWriter } from './object-writer';
import { parseAzureConnectionString } from '@gw/config';

/** Test seams and tuning; production passes nothing. */
export interface ObjectSourceDeps {
  /** DNS used by the SSRF guard (tests return private addresses without any lookup). */
  resolver?: Resolver;
  retry?: Partial<RetryOptions>;
  /** Overrides STORAGE_REQUEST_TIMEOUT_MS. */
  requestTimeoutMs?: number;
  /** Overrides STORAGE_READ_TIMEOUT_MS / STORAGE_READ_MIN_BYTES_PER_SEC. */
  read?: { timeoutMs: number; minBytesPerSec: number };
  /**
   * Whether the SDKs may look for ambient credentials (AWS default chain, Google ADC) when neither
   * the request nor the server config has any. Those chains query metadata services, so tests
   * turn this off; default true.
   */
  ambientCredentials?: boolean;
  /** Plain-HTTPS request function (tests count connection attempts). */
  httpRequest?: RequestFn;
  /** Told of every retried request or resumed stream (the worker's metrics); must not throw. */
  onRetry?: (e: { provider: StorageProvider; code: string }) => void;
}

/** Builds the display form of a key inside the location's bucket (URL form, never a query). */
export function keyDisplay(location: ObjectLocation): (key: string) => string {
  return (key) => {
    if (key === location.key) return location.display;
    if (location.display.endsWith(location.key)) {
      const root = location.display.slice(0, location.display.length - location.key.length);
      return root + key;
    }
    const scheme = location.provider === 'gcs' ? 'gs' : location.provider;
    return `${scheme}://${location.bucket}/${key}`;
  };
}

/**
 * Opens the source of one location: picks the driver for its provider, applies request
 * credentials or the server defaults (spec §4), and wraps it with retries/resume/pinning and the
 * SSRF guard. Credentials stay in the returned object's closure only.
 */
export function openObjectSource(
  location: ObjectLocation,
  credentials: StorageCredentials | undefined,
  config: StorageConfig,
  deps: ObjectSourceDeps = {},
): ClosableObjectSource {
  const creds = validateCredentials(credentials, location);
  const guard = new EgressGuard(egressPolicyFrom(config), deps.resolver);
  const requestTimeoutMs = deps.requestTimeoutMs ?? config.requestTimeoutMs;
  const retry: RetryOptions = { ...DEFAULT_RETRY, ...deps.retry };
  // Spec §4: the server's identity (configured keys, ambient chains) only for buckets an operator
  // named; any other bucket without request credentials is read anonymously.
  const serverIdentity = creds === undefined && serverCredentialsApply(location, config);
  const ambient = serverIdentity && (deps.ambientCredentials ?? true);
  const display = keyDisplay(location);
  let raw: RawDriver;
  switch (location.provider) {
    case 'http':
      raw = new HttpDriver(location, guard, deps.httpRequest);
      break;
    case 's3': {
      const region = location.region ?? config.s3.region;
      const fromConfig =
        serverIdentity && config.s3.accessKey !== undefined && config.s3.secretKey !== undefined
          ? { accessKeyId: config.s3.accessKey, secretAccessKey: config.s3.secretKey }
          : undefined;
      const fromRequest =
        creds?.accessKey !== undefined && creds.secretKey !== undefined
          ? {
              accessKeyId: creds.accessKey,
              secretAccessKey: creds.secretKey,
              ...(creds.token === undefined ? {} : { sessionToken: creds.token }),
            }
          : undefined;
      raw = lazyDriver(
        display,
        async () =>
          new (await import('./drivers/s3')).S3Driver({
            bucket: location.bucket,
            ...(location.endpoint === undefined ? {} : { endpoint: location.endpoint }),
            ...(region === undefined ? {} : { region }),
            forcePathStyle: location.endpoint !== undefined && config.s3.forcePathStyle,
            credentials: fromRequest ?? fromConfig ?? (ambient ? 'ambient' : 'anonymous'),
            guard,
            requestTimeoutMs,
            display,
          }),
      );
      break;
    }
    case 'gcs': {
      if (creds?.accessKey !== undefined && creds.secretKey !== undefined) {
        // HMAC keys: GCS's S3-interoperable XML API, signed with SigV4 by the S3 SDK.
        const hmac = { accessKeyId: creds.accessKey, secretAccessKey: creds.secretKey };
        raw = lazyDriver(
          display,
          async () =>
            new (await import('./drivers/s3')).S3Driver({
              bucket: location.bucket,
              endpoint: config.gcs.endpoint ?? 'https://storage.googleapis.com',
              region: 'auto',
              forcePathStyle: true,
              credentials: hmac,
              guard,
              requestTimeoutMs,
              display,
            }),
        );
        break;
      }
      const serviceAccount = parseServiceAccount(creds?.secretKey);
      let credential: GcsDriverOptions['credential'] = ambient ? 'ambient' : 'anonymous';
      if (serviceAccount !== undefined) credential = { serviceAccount };
      else if (creds?.token !== undefined) credential = { accessToken: creds.token };
      else if (serverIdentity && config.gcs.credentialsFile !== undefined) {
        credential = { keyFile: config.gcs.credentialsFile };
      }
      raw = lazyDriver(
        display,
        async () =>
          new (await import('./drivers/gcs')).GcsDriver({
            bucket: location.bucket,
            ...(config.gcs.endpoint === undefined ? {} : { endpoint: config.gcs.endpoint }),
            credential,
            display,
          }),
      );
      break;
    }
    case 'azure': {
      const account = location.account ?? '';
      // A SAS in the URL is the URL's own authorisation (spec §1); then request fields; then the
      // server's key, only for its own account and a named container; else anonymous.
      let credential: AzureDriverOptions['credential'] = 'anonymous';
      const connection = creds?.secretKey === undefined ? null : parseAzureConnectionString(creds.secretKey);
      if (location.signed !== undefined) credential = { sas: location.signed };
      else if (connection?.accountKey !== undefined) credential = { account, key: connection.accountKey };
      else if (connection?.sharedAccessSignature !== undefined) credential = { sas: connection.sharedAccessSignature };
      else if (creds?.accessKey !== undefined && creds.secretKey !== undefined) {
        credential = { account, key: creds.secretKey };
      } else if (creds?.token !== undefined) credential = { sas: creds.token };
      else if (serverIdentity && config.azure.account === account && config.azure.key !== undefined) {
        credential = { account, key: config.azure.key };
      } else if (serverIdentity && config.azure.account === account && config.azure.sas !== undefined) {
        credential = { sas: config.azure.sas };
      }
      raw = lazyDriver(
        display,
        async () =>
          new (await import('./drivers/azure')).AzureDriver({
            serviceUrl: location.endpoint ?? `https://${account}.blob.core.windows.net`,
            container: location.bucket,
            credential,
            guard,
            display,
          }),
      );
      break;
    }
    default:
      throw new StorageError(StorageErrorCode.Unsupported, `provider not available: ${location.display}`);
  }
  const read = deps.read ?? { timeoutMs: config.readTimeoutMs, minBytesPerSec: config.readMinBytesPerSec };
  const onRetry = deps.onRetry;
  const resilience = {
    retry,
    requestTimeoutMs,
    read,
    ...(onRetry === undefined
      ? {}
      : { onRetry: (e: StorageError) => onRetry({ provider: location.provider, code: e.code }) }),
  };
  return guarded(new ResilientSource(raw, resilience), guard, location.host);
}

/**
 * A cloud driver whose module loads on first use: the AWS, Google and Azure SDKs cost ~20 MB of
 * RSS each when imported, and a worker usually needs one of them, or none (plain HTTPS).
 */
function lazyDriver(display: (key: string) => string, load: () => Promise<RawDriver>): RawDriver {
  let driver: Promise<RawDriver> | undefined;
  let loaded: RawDriver | undefined;
  const ready = (): Promise<RawDriver> =>
    (driver ??= load().then((d) => {
      loaded = d;
      return d;
    }));
  return {
    display,
    stat: async (key: string, signal: AbortSignal): Promise<ObjectStat> => (await ready()).stat(key, signal),
    listPage: async (prefix: string, token: string | undefined, signal: AbortSignal): Promise<RawPage> =>
      (await ready()).listPage(prefix, token, signal),
    get: async (
      key: string,
      start: number,
      end: number,
      pin: ReadPin | undefined,
      signal: AbortSignal,
    ): Promise<RawRead> => (await ready()).get(key, start, end, pin, signal),
    close: () => loaded?.close?.(),
  };
}

/**
 * A writer for a bucket prefix the gateway owns (VOLUMES_URL), with the server's own credentials
 * only (configured keys, else the ambient chain): never a caller's. S3 / S3-compatible, GCS and Azure.
 */
export async function openObjectWriter(
  location: ObjectLocation,
  config: StorageConfig,
  deps: ObjectSourceDeps = {},
): Promise<ObjectWriter> {
  const guard = new EgressGuard(egressPolicyFrom(config), deps.resolver);
  const display = keyDisplay(location);
  if (location.provider === 'azure') {
    const account = location.account ?? '';
    let credential: AzureDriverOptions['credential'] = 'anonymous';
    if (config.azure.account === account && config.azure.key !== undefined) {
      credential = { account, key: config.azure.key };
    } else if (config.azure.account === account && config.azure.sas !== undefined) {
      credential = { sas: config.azure.sas };
    }
    const { AzureDriver } = await import('./drivers/azure');
    const { azureWriter } = await import('./drivers/azure-writer');
    const driver = new AzureDriver({
      serviceUrl: location.endpoint ?? `https://${account}.blob.core.windows.net`,
      container: location.bucket,
      credential,
      guard,
      display,
    });
    return azureWriter(driver, location.key);
  }
  if (location.provider === 'gcs') {
    // STORAGE_GCS_CREDENTIALS_FILE, else application default credentials (if allowed), else none.
    // The SDK's transport takes no agent, so the endpoint is checked once here (as guarded() does).
    await guard.resolve(location.host);
    const credential: GcsDriverOptions['credential'] =
      config.gcs.credentialsFile !== undefined
        ? { keyFile: config.gcs.credentialsFile }
        : (deps.ambientCredentials ?? config.ambientCredentials)
          ? 'ambient'
          : 'anonymous';
    const { GcsDriver } = await import('./drivers/gcs');
    const { gcsWriter } = await import('./drivers/gcs-writer');
    const driver = new GcsDriver({
      bucket: location.bucket,
      ...(config.gcs.endpoint === undefined ? {} : { endpoint: config.gcs.endpoint }),
      credential,
      display,
    });
    return gcsWriter(driver, location.key);
  }
  if (location.provider !== 's3') {
    throw new StorageError(StorageErrorCode.Unsupported, `volumes cannot be written to ${location.display}`);
  }
  const region = location.region ?? config.s3.region;
  const { S3Driver } = await import('./drivers/s3');
  const { s3Writer } = await import('./drivers/s3-writer');
  const driver = new S3Driver({
    bucket: location.bucket,
    ...(location.endpoint === undefined ? {} : { endpoint: location.endpoint }),
    ...(region === undefined ? {} : { region }),
    forcePathStyle: location.endpoint !== undefined && config.s3.forcePathStyle,
    credentials:
      config.s3.accessKey !== undefined && config.s3.secretKey !== undefined
        ? { accessKeyId: config.s3.accessKey, secretAccessKey: config.s3.secretKey }
        : (deps.ambientCredentials ?? config.ambientCredentials)
          ? 'ambient'
          : 'anonymous',
    guard,
    requestTimeoutMs: deps.requestTimeoutMs ?? config.requestTimeoutMs,
    display,
  });
  return s3Writer(driver, location.bucket, location.key);
}
