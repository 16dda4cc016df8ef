import type { AppConfig } from '@gw/config';
import { checkHostName, type EgressPolicy, egressPolicyFrom } from './egress';
import { storageErrors } from './storage.errors';

export type StorageConfig = AppConfig['storage'];
export type StorageProvider = 's3' | 'gcs' | 'azure' | 'http';

/** Where one path or URL of a create request points (spec §1). */
export interface ObjectLocation {
  provider: StorageProvider;
  /** Bucket or container; '' for plain HTTPS. */
  bucket: string;
  /** Object key or blob name ('' for the root of a bucket); for plain HTTPS the full URL. */
  key: string;
  /** Custom endpoint (origin, or the Azure service URL) when the location is served from one. */
  endpoint?: string;
  /** Azure storage account. */
  account?: string;
  /** AWS region named by the URL. */
  region?: string;
  /** True when the path ends in `/`: a folder to list (spec §3). */
  isFolder: boolean;
  /** The host a connection will go to (checked against the host lists and the address policy). */
  host: string;
  /** URL without its query string: the only form that may appear in messages, logs or details. */
  display: string;
  /**
   * Authorisation carried by the URL itself (presigned query, Azure SAS). Secret: never logged.
   * For `http` this is the full URL to fetch; for `azure` the SAS query without `?`.
   */
  signed?: string;
}

const SCHEME = /^([a-z][a-z0-9+.-]*):\/\//i;
const S3_BUCKET = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;
const GCS_BUCKET = /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/;
const AZURE_CONTAINER = /^(\$root|\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/;
const AZURE_ACCOUNT = /^[a-z0-9]{3,24}$/;
const AWS_VHOST = /^(.+)\.s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com$/;
const AWS_PATH_HOST = /^s3(?:[.-]([a-z0-9-]+))?\.amazonaws\.com$/;
const AZURE_HOST = /^([a-z0-9]{3,24})\.blob\.core\.windows\.net$/;
const GCS_HOSTS = new Set(['storage.googleapis.com', 'storage.cloud.google.com']);

/**
 * Resolves a create-request path or URL (spec §1) into provider, bucket, key and endpoint, or
 * throws a 1100-class StorageError naming the URL without its query. Host names that are
 * refused without a DNS lookup (literal private IPs, denied names) are refused here too (§5).
 */
export function parseObjectLocation(urlOrPath: string, config: StorageConfig): ObjectLocation {
  const input = urlOrPath.trim();
  const policy = egressPolicyFrom(config);
  const loc = parseUnchecked(input, config);
  checkHostName(loc.host, policy);
  if (loc.endpoint !== undefined) checkEndpointScheme(loc.endpoint, loc.display, policy);
  return loc;
}

/**
 * Spec §4: may the server's own credentials (configured keys, or ambient ones) be used for this
 * location? Only for buckets an operator named: those matching `STORAGE_ALLOWED_BUCKETS`, and the
 * bucket of `STORAGE_DEFAULT_URL` (which alone counts when the list is empty; decision 0106).
 * Any other bucket is read anonymously unless the request brings credentials — the list limits
 * whose identity is lent, not which buckets can be read.
 */
export function serverCredentialsApply(loc: ObjectLocation, config: StorageConfig): boolean {
  if (loc.provider === 'http') return false;
  const allowed = config.allowedBuckets;
  // storage.md §4: the list decides when set; only an empty list falls back to the default bucket.
  if (allowed.length === 0) return isDefaultBucket(loc, config);
  const scheme = loc.provider === 'gcs' ? 'gs' : loc.provider;
  const qualified =
    loc.provider === 'azure' ? `azure://${loc.account ?? ''}/${loc.bucket}` : `${scheme}://${loc.bucket}`;
  const matches = (pattern: string) => {
    const p = pattern.trim();
    if (p === '') return false;
    const target = p.includes('://') ? qualified : loc.bucket;
    const re = new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*')}$`);
    return re.test(target);
  };
  return allowed.some(matches);
}

/** Same provider, bucket (and Azure account) as STORAGE_DEFAULT_URL. */
function isDefaultBucket(loc: ObjectLocation, config: StorageConfig): boolean {
  if (config.defaultUrl === undefined) return false;
  let base: ObjectLocation;
  try {
    base = parseUnchecked(config.defaultUrl.trim(), config);
  } catch {
    return false; // an unusable default URL names no bucket
  }
  return (
    base.provider !== 'http' &&
    base.provider === loc.provider &&
    base.bucket === loc.bucket &&
    base.account === loc.account
  );
}

function parseUnchecked(input: string, config: StorageConfig): ObjectLocation {
  if (input === '') throw storageErrors.invalidUrl('(empty)');
  const scheme = SCHEME.exec(input)?.[1]?.toLowerCase();
  if (scheme === undefined) return parseRelative(input, config);
  const rest = input.slice(scheme.length + 3);
  switch (scheme) {
    case 's3':
      return s3Location(splitBucket(rest, `s3://${stripQuery(rest)}`), config, undefined);
    case 'gs':
      return gcsLocation(splitBucket(rest, `gs://${stripQuery(rest)}`), config);
    case 'http':
    case 'https':
      return parseWeb(input, config);
    default:
      throw storageErrors.invalidUrl(stripQuery(input));
  }
}

function parseRelative(path: string, config: StorageConfig): ObjectLocation {
  if (config.defaultUrl === undefined) {
    throw storageErrors.invalidUrl(stripQuery(path), 'a relative path needs STORAGE_DEFAULT_URL');
  }
  if (path.split('/').includes('..')) throw storageErrors.invalidUrl(stripQuery(path), '".." is not allowed');
  const base = parseUnchecked(config.defaultUrl, config);
  if (base.provider === 'http') throw storageErrors.invalidUrl(base.display, 'STORAGE_DEFAULT_URL must name a bucket');
  const prefix = base.key === '' || base.key.endsWith('/') ? base.key : `${base.key}/`;
  const key = prefix + path.replace(/^\/+/, '');
  return { ...base, key, isFolder: key.endsWith('/'), display: displayFor(base, key) };
}

function displayFor(base: ObjectLocation, key: string): string {
  switch (base.provider) {
    case 's3':
      return `s3://${base.bucket}/${key}`;
    case 'gcs':
      return `gs://${base.bucket}/${key}`;
    default: {
      const root = base.display.slice(0, base.display.length - base.key.length);
      return root + key;
    }
  }
}

function splitBucket(rest: string, display: string): { bucket: string; key: string; display: string } {
  const slash = rest.indexOf('/');
  if (slash <= 0) throw storageErrors.invalidUrl(display, 'expected <scheme>://<bucket>/<key>');
  return { bucket: rest.slice(0, slash), key: rest.slice(slash + 1), display };
}

function s3Location(
  p: { bucket: string; key: string; display: string },
  config: StorageConfig,
  region: string | undefined,
  host?: string,
): ObjectLocation {
  if (!S3_BUCKET.test(p.bucket)) throw storageErrors.invalidUrl(p.display, 'invalid S3 bucket name');
  const endpoint = config.s3.endpoint;
  const r = region ?? config.s3.region;
  const awsHost = host ?? (r === undefined ? 's3.amazonaws.com' : `s3.${r}.amazonaws.com`);
  return {
    provider: 's3',
    bucket: p.bucket,
    key: p.key,
    ...(endpoint === undefined ? {} : { endpoint }),
    ...(region === undefined ? {} : { region }),
    isFolder: p.key === '' || p.key.endsWith('/'),
    host: endpoint === undefined ? awsHost : new URL(endpoint).hostname,
    display: p.display,
  };
}

function gcsLocation(p: { bucket: string; key: string; display: string }, config: StorageConfig): ObjectLocation {
  if (!GCS_BUCKET.test(p.bucket)) throw storageErrors.invalidUrl(p.display, 'invalid GCS bucket name');
  const endpoint = config.gcs.endpoint;
  return {
    provider: 'gcs',
    bucket: p.bucket,
    key: p.key,
    ...(endpoint === undefined ? {} : { endpoint }),
    isFolder: p.key === '' || p.key.endsWith('/'),
    host: endpoint === undefined ? 'storage.googleapis.com' : new URL(endpoint).hostname,
    display: p.display,
  };
}

function azureLocation(
  account: string,
  segments: string[],
  display: string,
  serviceUrl: string,
  sas: string | undefined,
): ObjectLocation {
  if (!AZURE_ACCOUNT.test(account)) throw storageErrors.invalidUrl(display, 'invalid Azure account name');
  const [container, ...blob] = segments;
  if (container === undefined || !AZURE_CONTAINER.test(container)) {
    throw storageErrors.invalidUrl(display, 'invalid Azure container name');
  }
  const key = blob.join('/');
  return {
    provider: 'azure',
    bucket: container,
    key,
    endpoint: serviceUrl,
    account,
    isFolder: key === '' || key.endsWith('/'),
    host: new URL(serviceUrl).hostname,
    display,
    ...(sas === undefined ? {} : { signed: sas }),
  };
}

/** Azure service URL for an account: a custom endpoint is used as-is when it names an account path. */
export function azureServiceUrl(config: StorageConfig, account: string): string {
  const ep = config.azure.endpoint;
  if (ep === undefined) return `https://${account}.blob.core.windows.net`;
  const u = new URL(ep);
  // azurite-style endpoints are path-style (`http://127.0.0.1:10000/devstoreaccount1`); when the
  // configured endpoint carries no account path, the account goes into the path.
  const path = u.pathname.replace(/\/+$/, '');
  return path === '' ? `${u.origin}/${account}` : `${u.origin}${path}`;
}

function decodeSegments(pathname: string, display: string): string[] {
  try {
    return pathname
      .replace(/^\//, '')
      .split('/')
      .map((s) => decodeURIComponent(s));
  } catch {
    throw storageErrors.invalidUrl(display, 'bad percent-encoding');
  }
}

function sameHost(u: URL, endpoint: string | undefined): boolean {
  return endpoint !== undefined && new URL(endpoint).host.toLowerCase() === u.host.toLowerCase();
}

function parseWeb(input: string, config: StorageConfig): ObjectLocation {
  let u: URL;
  try {
    u = new URL(input);
  } catch {
    throw storageErrors.invalidUrl(stripQuery(input));
  }
  if (u.username !== '' || u.password !== '') {
    // Credentials in the authority would end up in messages; the request fields carry them.
    throw storageErrors.invalidUrl(`${u.protocol}//${u.host}${u.pathname}`, 'user info in URLs is not accepted');
  }
  u.hash = '';
  const display = `${u.protocol}//${u.host}${u.pathname}`;
  const policy = egressPolicyFrom(config);
  if (u.protocol === 'http:' && !policy.allowHttp) throw storageErrors.invalidUrl(display, 'http is not allowed');
  const host = u.hostname.toLowerCase();
  const hasQuery = u.search !== '' && u.search !== '?';

  // Azure first: a SAS in the query is Azure's own authorisation, also used for listing.
  const az = AZURE_HOST.exec(host);
  if (az !== null) {
    const account = az[1]!;
    return azureLocation(
      account,
      decodeSegments(u.pathname, display),
      display,
      azureServiceUrl(config, account),
      hasQuery ? u.search.slice(1) : undefined,
    );
  }
  if (sameHost(u, config.azure.endpoint)) {
    const [account, ...segs] = decodeSegments(u.pathname, display);
    return azureLocation(
      account ?? '',
      segs,
      display,
      `${u.origin}/${account ?? ''}`,
      hasQuery ? u.search.slice(1) : undefined,
    );
  }
  // Presigned S3/GCS URLs and any other query: fetched as given, no credentials added.
  if (hasQuery) return httpLocation(u, display);

  const vhost = AWS_VHOST.exec(host);
  if (vhost !== null) {
    const key = decodeSegments(u.pathname, display).join('/');
    return s3Location({ bucket: vhost[1]!, key, display }, config, vhost[2], host);
  }
  const pathHost = AWS_PATH_HOST.exec(host);
  if (pathHost !== null || sameHost(u, config.s3.endpoint)) {
    const [bucket, ...key] = decodeSegments(u.pathname, display);
    if (bucket === undefined || bucket === '' || key.length === 0) {
      throw storageErrors.invalidUrl(display, 'expected /<bucket>/<key>');
    }
    return s3Location({ bucket, key: key.join('/'), display }, config, pathHost?.[1], host);
  }
  if (GCS_HOSTS.has(host) || sameHost(u, config.gcs.endpoint)) {
    const [bucket, ...key] = decodeSegments(u.pathname, display);
    if (bucket === undefined || bucket === '' || key.length === 0) {
      throw storageErrors.invalidUrl(display, 'expected /<bucket>/<key>');
    }
    return gcsLocation({ bucket, key: key.join('/'), display }, config);
  }
  return httpLocation(u, display);
}

function httpLocation(u: URL, display: string): ObjectLocation {
  if (u.pathname.endsWith('/')) throw storageErrors.invalidUrl(display, 'plain HTTPS URLs cannot be folders');
  return {
    provider: 'http',
    bucket: '',
    key: display,
    isFolder: false,
    host: u.hostname.toLowerCase(),
    display,
    signed: u.toString(),
  };
}

function checkEndpointScheme(endpoint: string, display: string, policy: EgressPolicy): void {
  if (new URL(endpoint).protocol === 'http:' && !policy.allowHttp) {
    throw storageErrors.invalidUrl(display, 'the configured endpoint uses http and STORAGE_ALLOW_HTTP is false');
  }
}

/** The URL without query string or fragment: what messages may show. */
export function stripQuery(url: string): string {
  const cut = url.search(/[?#]/);
  return cut === -1 ? url : url.slice(0, cut);
}
