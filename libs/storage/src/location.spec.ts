import { describe, expect, it } from 'vitest';
import { parseObjectLocation, serverCredentialsApply, type StorageConfig } from './location';
import { StorageErrorCode } from './storage.errors';

const base: StorageConfig = {
  s3: { forcePathStyle: false },
  gcs: {},
  azure: {},
  allowPrivateNetworks: { all: false, cidrs: [] },
  allowHttp: false,
  allowedHosts: [],
  deniedHosts: [],
  allowedBuckets: [],
  requestTimeoutMs: 30_000,
  readTimeoutMs: 60_000,
  readMinBytesPerSec: 32_768,
  ambientCredentials: false,
};
const cfg = (over: Partial<StorageConfig> = {}): StorageConfig => ({ ...base, ...over });

function code(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return (e as { code?: string }).code;
  }
  return undefined;
}

describe('STORAGE_ALLOWED_BUCKETS limits whose credentials are lent, not which buckets are read (spec §4)', () => {
  const lent = (url: string, c: StorageConfig) => serverCredentialsApply(parseObjectLocation(url, c), c);

  it('accepts buckets outside the list at create: they are read anonymously, not refused', () => {
    const c = cfg({ allowedBuckets: ['imports-*'] });
    expect(parseObjectLocation('s3://other/x.json', c).bucket).toBe('other');
    expect(parseObjectLocation('gs://public-dataset/x.npy', c).bucket).toBe('public-dataset');
    expect(parseObjectLocation('https://acct.blob.core.windows.net/other/f.json', c).bucket).toBe('other');
  });

  it('lends server credentials only to matching buckets, by name, wildcard or provider-qualified entry', () => {
    const c = cfg({ allowedBuckets: ['imports-*', 'gs://ml-data', 'azure://acct/landing'] });
    expect(lent('s3://imports-prod/a.parquet', c)).toBe(true);
    expect(lent('https://imports-prod.s3.eu-west-1.amazonaws.com/a.parquet', c)).toBe(true);
    expect(lent('gs://imports-x/a.parquet', c)).toBe(true);
    expect(lent('gs://ml-data/x.npy', c)).toBe(true);
    expect(lent('https://storage.googleapis.com/ml-data/x.npy', c)).toBe(true);
    expect(lent('https://acct.blob.core.windows.net/landing/f.json', c)).toBe(true);
    expect(lent('s3://ml-data/x.json', c)).toBe(false); // qualified entry: gs only
    expect(lent('s3://other/x.json', c)).toBe(false);
    expect(lent('s3://imports/x.json', c)).toBe(false); // "imports-*" needs the dash
    expect(lent('https://acct.blob.core.windows.net/other/f.json', c)).toBe(false);
    expect(lent('https://acct2.blob.core.windows.net/landing/f.json', c)).toBe(false);
  });

  it('with an empty list lends them only to the bucket of STORAGE_DEFAULT_URL, relative paths included', () => {
    const c = cfg({ defaultUrl: 's3://milvus-bucket/seed/' });
    expect(lent('a/b.parquet', c)).toBe(true);
    expect(lent('s3://milvus-bucket/elsewhere/x.json', c)).toBe(true);
    expect(lent('s3://other-bucket/x.json', c)).toBe(false);
    expect(lent('gs://milvus-bucket/x.json', c)).toBe(false); // same name, other provider
    expect(lent('https://example.com/x.json', c)).toBe(false);
    const az = cfg({ defaultUrl: 'https://acct.blob.core.windows.net/seed/' });
    expect(lent('f.json', az)).toBe(true);
    expect(lent('https://acct.blob.core.windows.net/seed/g.json', az)).toBe(true);
    expect(lent('https://acct2.blob.core.windows.net/seed/g.json', az)).toBe(false);
  });

  it('lends them to nothing when neither a list nor a default URL names a bucket', () => {
    expect(lent('s3://anything/a.json', cfg())).toBe(false);
    expect(lent('gs://anything/a.json', cfg())).toBe(false);
  });

  it('with a list, lends them only to the buckets it names — the default bucket too only when named (spec §4)', () => {
    const c = cfg({ defaultUrl: 's3://milvus-bucket/', allowedBuckets: ['imports-*'] });
    expect(lent('a.json', c)).toBe(false);
    expect(lent('s3://imports-1/a.json', c)).toBe(true);
    expect(lent('s3://other/a.json', c)).toBe(false);
    const named = cfg({ defaultUrl: 's3://milvus-bucket/', allowedBuckets: ['imports-*', 'milvus-bucket'] });
    expect(lent('a.json', named)).toBe(true);
  });
});

describe('parseObjectLocation', () => {
  it('takes s3:// bucket and key verbatim', () => {
    const l = parseObjectLocation('s3://my-bucket/a b/c%20d.parquet', cfg());
    expect(l).toMatchObject({ provider: 's3', bucket: 'my-bucket', key: 'a b/c%20d.parquet', isFolder: false });
    expect(l.display).toBe('s3://my-bucket/a b/c%20d.parquet');
    expect(l.endpoint).toBeUndefined();
  });

  it('serves s3:// from STORAGE_S3_ENDPOINT when set', () => {
    const l = parseObjectLocation(
      's3://b1b/k',
      cfg({
        allowHttp: true,
        allowPrivateNetworks: { all: true, cidrs: [] },
        s3: { forcePathStyle: true, endpoint: 'http://127.0.0.1:4568' },
      }),
    );
    expect(l.endpoint).toBe('http://127.0.0.1:4568');
    expect(l.host).toBe('127.0.0.1');
  });

  it.each([
    ['https://bkt.s3.eu-west-1.amazonaws.com/dir/f%20x.json', 'bkt', 'dir/f x.json', 'eu-west-1'],
    ['https://bkt.s3.amazonaws.com/f.json', 'bkt', 'f.json', undefined],
    ['https://bkt.s3-us-west-2.amazonaws.com/f.json', 'bkt', 'f.json', 'us-west-2'],
    ['https://my.dotted.bucket.s3.us-east-2.amazonaws.com/f.json', 'my.dotted.bucket', 'f.json', 'us-east-2'],
    ['https://s3.ap-south-1.amazonaws.com/bkt/d/f.json', 'bkt', 'd/f.json', 'ap-south-1'],
    ['https://s3.amazonaws.com/bkt/f.json', 'bkt', 'f.json', undefined],
    ['HTTPS://S3.AMAZONAWS.COM/bkt/f.json', 'bkt', 'f.json', undefined],
  ])('parses AWS https form %s', (url, bucket, key, region) => {
    const l = parseObjectLocation(url, cfg());
    expect(l).toMatchObject({ provider: 's3', bucket, key });
    expect(l.region).toBe(region);
  });

  it('treats the host:port of STORAGE_S3_ENDPOINT as path-style S3', () => {
    const c = cfg({
      allowHttp: true,
      allowPrivateNetworks: { all: true, cidrs: [] },
      s3: { forcePathStyle: true, endpoint: 'http://127.0.0.1:9000' },
    });
    expect(parseObjectLocation('http://127.0.0.1:9000/bkt/x/y.npy', c)).toMatchObject({
      provider: 's3',
      bucket: 'bkt',
      key: 'x/y.npy',
    });
    // Another port on the same host is not the endpoint: plain HTTP.
    expect(parseObjectLocation('http://127.0.0.1:9001/bkt/x/y.npy', c).provider).toBe('http');
  });

  it.each([
    ['gs://gbkt/p/f.parquet', 'gbkt', 'p/f.parquet'],
    ['https://storage.googleapis.com/gbkt/p/f.parquet', 'gbkt', 'p/f.parquet'],
    ['https://storage.cloud.google.com/gbkt/p/f.parquet', 'gbkt', 'p/f.parquet'],
  ])('parses GCS form %s', (url, bucket, key) => {
    expect(parseObjectLocation(url, cfg())).toMatchObject({ provider: 'gcs', bucket, key });
  });

  it('parses Azure blob URLs and keeps a SAS for the driver only', () => {
    const l = parseObjectLocation('https://acct1.blob.core.windows.net/cont/dir/b.json?sv=2024&sig=SECRET', cfg());
    expect(l).toMatchObject({ provider: 'azure', account: 'acct1', bucket: 'cont', key: 'dir/b.json' });
    expect(l.endpoint).toBe('https://acct1.blob.core.windows.net');
    expect(l.signed).toBe('sv=2024&sig=SECRET');
    expect(l.display).toBe('https://acct1.blob.core.windows.net/cont/dir/b.json');
  });

  it('parses azurite-style URLs on STORAGE_AZURE_ENDPOINT as account/container/blob', () => {
    const c = cfg({
      allowHttp: true,
      allowPrivateNetworks: { all: true, cidrs: [] },
      azure: { endpoint: 'http://127.0.0.1:10000/devstoreaccount1' },
    });
    const l = parseObjectLocation('http://127.0.0.1:10000/devstoreaccount1/cont/d/x.csv', c);
    expect(l).toMatchObject({
      provider: 'azure',
      account: 'devstoreaccount1',
      bucket: 'cont',
      key: 'd/x.csv',
      endpoint: 'http://127.0.0.1:10000/devstoreaccount1',
    });
    // The public form is served from the configured endpoint too.
    expect(parseObjectLocation('https://devstoreaccount1.blob.core.windows.net/cont/x.csv', c).endpoint).toBe(
      'http://127.0.0.1:10000/devstoreaccount1',
    );
  });

  it('fetches any URL with a query string as plain HTTPS (presigned URLs)', () => {
    const l = parseObjectLocation(
      'https://bkt.s3.amazonaws.com/f.json?X-Amz-Signature=abc&X-Amz-Credential=AKIA',
      cfg(),
    );
    expect(l.provider).toBe('http');
    expect(l.display).toBe('https://bkt.s3.amazonaws.com/f.json');
    expect(l.signed).toContain('X-Amz-Signature=abc');
  });

  it('treats other https URLs as plain HTTPS and refuses them as folders', () => {
    expect(parseObjectLocation('https://example.com/data/f.json', cfg()).provider).toBe('http');
    expect(code(() => parseObjectLocation('https://example.com/data/', cfg()))).toBe(StorageErrorCode.InvalidUrl);
  });

  it('marks paths ending in / as folders', () => {
    expect(parseObjectLocation('s3://bkt/dir/', cfg()).isFolder).toBe(true);
    expect(parseObjectLocation('gs://bkt/', cfg())).toMatchObject({ isFolder: true, key: '' });
  });

  it('resolves relative Milvus paths against STORAGE_DEFAULT_URL', () => {
    const c = cfg({ defaultUrl: 's3://milvus-bucket/imports' });
    expect(parseObjectLocation('/a/b.parquet', c)).toMatchObject({
      provider: 's3',
      bucket: 'milvus-bucket',
      key: 'imports/a/b.parquet',
      display: 's3://milvus-bucket/imports/a/b.parquet',
    });
    expect(parseObjectLocation('a/', cfg({ defaultUrl: 'gs://g-bucket/' }))).toMatchObject({
      provider: 'gcs',
      key: 'a/',
      isFolder: true,
    });
    expect(code(() => parseObjectLocation('a/b.json', cfg()))).toBe(StorageErrorCode.InvalidUrl);
    expect(code(() => parseObjectLocation('../etc/passwd', c))).toBe(StorageErrorCode.InvalidUrl);
  });

  it('refuses http:// unless STORAGE_ALLOW_HTTP, naming the URL without query', () => {
    expect(() => parseObjectLocation('http://example.com/f.json?token=SECRET', cfg())).toThrow(
      'unsupported object URL: http://example.com/f.json (http is not allowed)',
    );
    expect(parseObjectLocation('http://example.com/f.json', cfg({ allowHttp: true })).provider).toBe('http');
  });

  it.each(['ftp://h/f.json', 'file:///etc/passwd', 'hdfs://nn/f', 'data:text/plain,hi'])(
    'refuses scheme of %s',
    (u) => {
      expect(code(() => parseObjectLocation(u, cfg()))).toBe(StorageErrorCode.InvalidUrl);
    },
  );

  it('never echoes a query string in the unsupported-URL message', () => {
    expect(() => parseObjectLocation('ftp://h/f.json?sig=SECRET', cfg())).toThrow(
      'unsupported object URL: ftp://h/f.json',
    );
  });

  it.each([
    's3://UPPER/k',
    's3://ab/k',
    's3://-bad/k',
    'gs://x/k',
    'https://acct1.blob.core.windows.net/Bad_Container/b',
  ])('refuses invalid bucket names (%s)', (u) => {
    expect(code(() => parseObjectLocation(u, cfg()))).toBe(StorageErrorCode.InvalidUrl);
  });

  it('refuses literal private and metadata hosts at parse time with the §5 message', () => {
    expect(() => parseObjectLocation('https://169.254.169.254/latest/meta-data', cfg())).toThrow(
      'object URL host is not allowed: 169.254.169.254',
    );
    expect(() => parseObjectLocation('https://10.1.2.3/f.json', cfg())).toThrow(
      'object URL host is not allowed: 10.1.2.3',
    );
    expect(() => parseObjectLocation('https://[::ffff:127.0.0.1]/f.json', cfg())).toThrow(
      'object URL host is not allowed',
    );
    expect(() => parseObjectLocation('https://metadata.google.internal/x.json', cfg())).toThrow(
      'object URL host is not allowed',
    );
  });

  it.each([
    'https://2130706433/f.json',
    'https://0x7f.0.0.1/f.json',
    'https://[::1]/f.json',
    'https://[fe80::1]/f.json',
  ])('refuses obfuscated loopback/link-local literals such as %s', (u) => {
    expect(code(() => parseObjectLocation(u, cfg()))).toBe(StorageErrorCode.HostNotAllowed);
  });

  it('applies deny then allow host lists to every provider', () => {
    const c = cfg({ allowedHosts: ['*.amazonaws.com'], deniedHosts: ['evil.s3.amazonaws.com'] });
    expect(parseObjectLocation('s3://good/k', c).provider).toBe('s3');
    expect(code(() => parseObjectLocation('https://evil.s3.amazonaws.com/k', c))).toBe(StorageErrorCode.HostNotAllowed);
    expect(code(() => parseObjectLocation('gs://gbkt/k', c))).toBe(StorageErrorCode.HostNotAllowed);
  });

  it('refuses user info in URLs', () => {
    expect(() => parseObjectLocation('https://user:pw@example.com/f.json', cfg())).toThrow(/user info/);
  });
});
