import { createHash, createHmac } from 'node:crypto';
import * as http from 'node:http';
import * as net from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  groupObjects,
  openObjectSource,
  parseObjectLocation,
  StorageErrorCode,
  type ObjectStat,
  type Resolver,
  type StorageConfig,
  type StorageCredentials,
} from '@gw/storage';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { bytes, collect, fastDeps, sha256, testStorageConfig, storageFailure } from '../../support/storage/config';

const server = new S3TestServer({
  S3RVER: { secretKey: 'S3RVER' },
  TEMPKEY: { secretKey: 'TEMPSECRET', sessionToken: 'SESSIONTOKEN' },
  HMACKEY: { secretKey: 'HMACSECRET' },
});
const DATA = bytes(300 * 1024, 11);
let config: StorageConfig;
const creds: StorageCredentials = { accessKey: 'S3RVER', secretKey: 'S3RVER' };

/** `null` = the request brings no credentials. */
function open(url: string, c: typeof creds | null = creds, cfg = config, deps = {}) {
  const loc = parseObjectLocation(url, cfg);
  return { loc, src: openObjectSource(loc, c ?? undefined, cfg, { ...fastDeps, ...deps }) };
}

const reqs = (path: string) => server.requests.filter((r) => r.path === path);

beforeAll(async () => {
  await server.start();
  config = testStorageConfig({ s3: { endpoint: server.endpoint, forcePathStyle: true, region: 'us-east-1' } });
  server.createBucket('data');
  // Fixtures go in through the real AWS SDK, which also proves the server's SigV4 check.
  const sdk = new S3Client({
    endpoint: server.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    requestChecksumCalculation: 'WHEN_REQUIRED',
  });
  await sdk.send(new PutObjectCommand({ Bucket: 'data', Key: 'one/file.bin', Body: DATA }));
  await sdk.send(new PutObjectCommand({ Bucket: 'data', Key: 'dir with space/ü.json', Body: '{"rows":[]}' }));
  sdk.destroy();
  for (let i = 0; i < 2500; i++)
    server.putDirect('data', `big/${String(i).padStart(5, '0')}.json`, Buffer.from(`{"i":${i}}`));
  server.putDirect('data', 'big/_SUCCESS', Buffer.alloc(0));
});
afterAll(async () => {
  await server.stop();
});
afterEach(() => vi.restoreAllMocks());

describe('S3 driver (AWS SDK) against the in-repo S3 server', () => {
  it('stats, reads explicit ranges with If-Match, and streams from an offset', async () => {
    const { loc, src } = open('s3://data/one/file.bin');
    const s = await src.stat(loc.key);
    expect(s).toMatchObject({ key: 'one/file.bin', size: DATA.length });
    expect(s.version).toMatch(/^"[0-9a-f]{32}"$/);
    expect(Buffer.from(await src.readRange(loc.key, 10, 20_000)).equals(DATA.subarray(10, 20_000))).toBe(true);
    const last = reqs('/data/one/file.bin').at(-1)!;
    expect(last.range).toBe('bytes=10-19999');
    expect(last.ifMatch).toBe(s.version);
    expect(sha256(await collect(src.stream(loc.key, 5)))).toBe(sha256(DATA.subarray(5)));
  });

  it('accepts the endpoint https/http URL form and percent-decoded keys', async () => {
    const { loc, src } = open(`${server.endpoint}/data/dir%20with%20space/%C3%BC.json`);
    expect(loc.key).toBe('dir with space/ü.json');
    expect((await src.stat(loc.key)).size).toBe(11);
  });

  it('expands a folder of 2,500 objects fully and in key order across pages', async () => {
    const { loc, src } = open('s3://data/big/');
    const seen: ObjectStat[] = [];
    for await (const s of src.list(loc.key)) seen.push(s);
    expect(seen).toHaveLength(2501);
    const keys = seen.map((s) => s.key);
    expect(keys).toEqual([...keys].sort());
    const groups = groupObjects(seen);
    expect(groups).toHaveLength(2500);
    expect(groups[0]!.objects[0]!.key).toBe('big/00000.json');
    expect(groups[2499]!.objects[0]!.key).toBe('big/02499.json');
    expect(reqs('/data/').filter((r) => r.query.includes('list-type=2')).length).toBeGreaterThanOrEqual(3);
  });

  it('resumes a GetObject broken half-way and returns identical bytes', async () => {
    server.putDirect('data', 'faulty/reset.bin', DATA);
    server.faults.set('data/faulty/reset.bin', { resetAfter: { count: 1, bytes: DATA.length / 2 } });
    const { loc, src } = open('s3://data/faulty/reset.bin');
    expect(sha256(await collect(src.stream(loc.key)))).toBe(sha256(DATA));
    const gets = reqs('/data/faulty/reset.bin').filter((r) => r.method === 'GET');
    expect(gets).toHaveLength(2);
    expect(gets[1]!.ifMatch).toBeDefined();
  });

  it('succeeds after three 500s and counts exactly four GETs', async () => {
    server.putDirect('data', 'faulty/500.bin', DATA);
    const { loc, src } = open('s3://data/faulty/500.bin');
    await src.stat(loc.key);
    server.faults.set('data/faulty/500.bin', { failNext: { count: 3, status: 500 } });
    expect((await src.readRange(loc.key, 0, 100)).length).toBe(100);
    expect(reqs('/data/faulty/500.bin').filter((r) => r.method === 'GET')).toHaveLength(4);
  });

  it('fails clearly when the object is replaced mid-read', async () => {
    server.putDirect('data', 'faulty/replaced.bin', DATA);
    server.faults.set('data/faulty/replaced.bin', {
      resetAfter: { count: 1, bytes: 1000 },
      replaceAfterBytes: { bytes: 1000, with: bytes(DATA.length, 5) },
    });
    const { loc, src } = open('s3://data/faulty/replaced.bin');
    const err = await storageFailure(collect(src.stream(loc.key)));
    expect(err.message).toBe('object changed during import: s3://data/faulty/replaced.bin');
    expect(err.retryable).toBe(false);
  });

  it('fails once with "access denied" on a bad secret, never echoing it, with no retry storm', async () => {
    const before = reqs('/data/one/file.bin').length;
    const { loc, src } = open('s3://data/one/file.bin', { accessKey: 'S3RVER', secretKey: 'wrong-secret-value' });
    const err = await storageFailure(src.stat(loc.key));
    expect(err.message).toBe('access denied: s3://data/one/file.bin');
    expect(JSON.stringify({ m: err.message, d: err.details, c: err.cause })).not.toContain('wrong-secret-value');
    expect(err.retryable).toBe(false);
    expect(reqs('/data/one/file.bin').length - before).toBe(1);
  });

  it('maps a missing key and a missing bucket to "object not found"', async () => {
    const a = open('s3://data/nope.bin');
    expect((await storageFailure(a.src.stat(a.loc.key))).message).toBe('object not found: s3://data/nope.bin');
    const b = open('s3://no-such-bucket/k.bin');
    const err = await storageFailure(b.src.stat(b.loc.key));
    expect(err.code).toBe(StorageErrorCode.NotFound);
    expect(err.retryable).toBe(false);
  });

  it('signs with a session token for temporary credentials', async () => {
    server.putDirect('data', 'tmp.bin', DATA);
    const ok = open('s3://data/tmp.bin', { accessKey: 'TEMPKEY', secretKey: 'TEMPSECRET', token: 'SESSIONTOKEN' });
    expect((await ok.src.stat(ok.loc.key)).size).toBe(DATA.length);
    const noToken = open('s3://data/tmp.bin', { accessKey: 'TEMPKEY', secretKey: 'TEMPSECRET' });
    expect((await storageFailure(noToken.src.stat(noToken.loc.key))).code).toBe(StorageErrorCode.AccessDenied);
  });

  it('uses the server default credentials when the request brings none, for a bucket in STORAGE_ALLOWED_BUCKETS', async () => {
    const withDefaults = testStorageConfig({
      s3: { endpoint: server.endpoint, forcePathStyle: true, accessKey: 'S3RVER', secretKey: 'S3RVER' },
      allowedBuckets: ['data'],
    });
    const { loc, src } = open('s3://data/one/file.bin', null, withDefaults);
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
    expect(reqs('/data/one/file.bin').at(-1)!.accessKey).toBe('S3RVER');
  });

  it('reads a public bucket anonymously (unsigned) when no credentials exist anywhere', async () => {
    server.createBucket('public-data', { public: true });
    server.putDirect('public-data', 'p.bin', DATA);
    const { loc, src } = open('s3://public-data/p.bin', null);
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
    expect(reqs('/public-data/p.bin').at(-1)!.accessKey).toBeUndefined();
  });

  it('finds the bucket region by following the region redirect once', async () => {
    server.createBucket('eu-data', { region: 'eu-west-1' });
    server.putDirect('eu-data', 'r.bin', DATA);
    const { loc, src } = open('s3://eu-data/r.bin');
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
    expect(sha256(await src.readRange(loc.key, 0, 100))).toBe(sha256(DATA.subarray(0, 100)));
    const regions = reqs('/eu-data/r.bin').map((r) => r.region);
    expect(regions[0]).toBe('us-east-1');
    expect(regions.slice(1).every((r) => r === 'eu-west-1')).toBe(true);
  });

  it('reads GCS through the S3-interoperable XML API with HMAC keys', async () => {
    server.createBucket('gcs-bucket');
    server.putDirect('gcs-bucket', 'x/y.parquet', DATA);
    const gcsCfg = testStorageConfig({ gcs: { endpoint: server.endpoint } });
    const { loc, src } = open('gs://gcs-bucket/x/y.parquet', { accessKey: 'HMACKEY', secretKey: 'HMACSECRET' }, gcsCfg);
    expect(loc.provider).toBe('gcs');
    expect(sha256(await src.readRange(loc.key, 0, DATA.length))).toBe(sha256(DATA));
    expect(reqs('/gcs-bucket/x/y.parquet').at(-1)!.accessKey).toBe('HMACKEY');
  });
});

describe('server credentials are lent only to named buckets (spec §4, confused deputy)', () => {
  const serverKeys = (over: Partial<StorageConfig> = {}) =>
    testStorageConfig({
      s3: {
        endpoint: server.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        accessKey: 'S3RVER',
        secretKey: 'S3RVER',
      },
      ...over,
    });
  const seenFor = (bucket: string, from: number) =>
    server.requests.slice(from).filter((r) => r.path === `/${bucket}` || r.path.startsWith(`/${bucket}/`));

  beforeAll(() => {
    // S3RVER (the server's own key) may read every bucket of this store: the deputy holds the key
    // to a bucket its caller may not read.
    server.putDirect('victim-private', 'secret.bin', DATA);
    server.createBucket('open-dataset', { public: true });
    server.putDirect('open-dataset', 'rows.bin', DATA);
  });

  it('never signs with the server keys for a bucket outside STORAGE_ALLOWED_BUCKETS: a private one fails as access denied', async () => {
    const cfg = serverKeys({ allowedBuckets: ['data'] });
    const from = server.requests.length;
    const { loc, src } = open('s3://victim-private/secret.bin', null, cfg);
    const err = await storageFailure(src.stat(loc.key));
    expect(err.code).toBe(StorageErrorCode.AccessDenied);
    expect(err.message).toBe('access denied: s3://victim-private/secret.bin');
    const seen = seenFor('victim-private', from);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => !r.signed && r.accessKey === undefined)).toBe(true);
    // and the folder form: the listing goes out unsigned too
    const folder = open('s3://victim-private/', null, cfg);
    const listed = await storageFailure(collect(mapKeys(folder.src.list(folder.loc.key))));
    expect(listed.code).toBe(StorageErrorCode.AccessDenied);
    expect(seenFor('victim-private', from).every((r) => !r.signed)).toBe(true);
  });

  it('reads a public bucket outside the list anonymously (public datasets keep working)', async () => {
    const cfg = serverKeys({ allowedBuckets: ['data'] });
    const from = server.requests.length;
    const { loc, src } = open('s3://open-dataset/rows.bin', null, cfg);
    expect(sha256(await collect(src.stream(loc.key)))).toBe(sha256(DATA));
    const seen = seenFor('open-dataset', from);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((r) => !r.signed)).toBe(true);
  });

  it('still signs with the request credentials for any bucket', async () => {
    const cfg = serverKeys({ allowedBuckets: ['data'] });
    const from = server.requests.length;
    const { loc, src } = open(
      's3://victim-private/secret.bin',
      { accessKey: 'TEMPKEY', secretKey: 'TEMPSECRET', token: 'SESSIONTOKEN' },
      cfg,
    );
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
    const seen = seenFor('victim-private', from);
    expect(seen.length).toBeGreaterThan(0);
    expect(seen.every((r) => r.accessKey === 'TEMPKEY')).toBe(true);
  });

  it('with an empty list lends the server keys to the bucket of STORAGE_DEFAULT_URL only: seed-style relative paths keep working', async () => {
    const cfg = serverKeys({ defaultUrl: 's3://data/one/' });
    const from = server.requests.length;
    const rel = open('file.bin', null, cfg);
    expect(rel.loc.display).toBe('s3://data/one/file.bin');
    expect(sha256(await rel.src.readRange(rel.loc.key, 0, DATA.length))).toBe(sha256(DATA));
    const full = open('s3://data/one/file.bin', null, cfg);
    expect((await full.src.stat(full.loc.key)).size).toBe(DATA.length);
    const data = seenFor('data', from);
    expect(data.length).toBeGreaterThanOrEqual(3);
    expect(data.every((r) => r.accessKey === 'S3RVER')).toBe(true);

    const other = open('s3://victim-private/secret.bin', null, cfg);
    expect((await storageFailure(other.src.stat(other.loc.key))).code).toBe(StorageErrorCode.AccessDenied);
    expect(seenFor('victim-private', from).every((r) => !r.signed)).toBe(true);
  });

  it('lends the server keys to no bucket when neither a list nor a default URL names one', async () => {
    const from = server.requests.length;
    const { loc, src } = open('s3://data/one/file.bin', null, serverKeys());
    expect((await storageFailure(src.stat(loc.key))).code).toBe(StorageErrorCode.AccessDenied);
    expect(seenFor('data', from).every((r) => !r.signed)).toBe(true);
  });
});

async function* mapKeys(it: AsyncIterable<ObjectStat>): AsyncIterable<Uint8Array> {
  for await (const s of it) yield Buffer.from(s.key);
}

/** node:crypto behind the Hash interface SignatureV4 expects (the signer itself is AWS's). */
class Sha256 {
  private readonly h;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.h =
      secret === undefined
        ? createHash('sha256')
        : createHmac('sha256', typeof secret === 'string' ? secret : Buffer.from(secret as ArrayBuffer));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.h.update(typeof data === 'string' ? data : Buffer.from(data as ArrayBuffer));
  }
  digest(): Promise<Uint8Array> {
    return Promise.resolve(new Uint8Array(this.h.digest()));
  }
}

describe('presigned S3 URLs through the plain HTTPS driver', () => {
  async function presign(path: string): Promise<string> {
    const u = new URL(server.endpoint);
    const signer = new SignatureV4({
      service: 's3',
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      sha256: Sha256,
      uriEscapePath: false,
    });
    const signed = await signer.presign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: u.hostname,
        port: Number(u.port),
        path,
        query: {},
        headers: { host: u.host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' },
      },
      // As @aws-sdk/s3-request-presigner does: S3 presigned URLs sign an unsigned payload.
      {
        expiresIn: 300,
        unhoistableHeaders: new Set(['x-amz-content-sha256']),
        unsignableHeaders: new Set(['x-amz-content-sha256']),
      },
    );
    const query = Object.entries(signed.query ?? {})
      .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`)
      .join('&');
    return `${server.endpoint}${path}?${query}`;
  }

  it('reads a presigned GET URL without adding credentials, stat-ing with a ranged GET (HEAD is not signed)', async () => {
    const url = await presign('/data/one/file.bin');
    const loc = parseObjectLocation(url, config);
    expect(loc.provider).toBe('http');
    expect(loc.display).toBe(`${server.endpoint}/data/one/file.bin`);
    const src = openObjectSource(loc, undefined, config, fastDeps);
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
    expect(Buffer.from(await src.readRange(loc.key, 100, 200)).equals(DATA.subarray(100, 200))).toBe(true);
    const last = reqs('/data/one/file.bin').at(-1)!;
    expect(last.accessKey).toBe('S3RVER');
    expect(last.query).toContain('X-Amz-Signature');
    // Why stat is a one-byte GET: the same URL used with HEAD fails its signature.
    const headStatus = await new Promise<number>((resolve, reject) => {
      http
        .request(url, { method: 'HEAD' }, (res) => resolve(res.statusCode ?? 0))
        .on('error', reject)
        .end();
    });
    expect(headStatus).toBe(403);
  });

  it('reports "access denied" for a tampered presigned URL without echoing its signature', async () => {
    const url = (await presign('/data/one/file.bin')).replace(
      /X-Amz-Signature=([0-9a-f])/,
      (_m, c: string) => `X-Amz-Signature=${c === '0' ? '1' : '0'}`,
    );
    const loc = parseObjectLocation(url, config);
    const src = openObjectSource(loc, undefined, config, fastDeps);
    const err = await storageFailure(src.stat(loc.key));
    expect(err.message).toBe(`access denied: ${server.endpoint}/data/one/file.bin`);
    expect(err.message).not.toContain('X-Amz');
  });
});

describe('S3 custom endpoints behind the SSRF guard', () => {
  const resolver =
    (...answers: string[][]): Resolver =>
    async () => {
      const a = answers.length > 1 ? answers.shift()! : answers[0]!;
      return a.map((address) => ({ address, family: 4 as const }));
    };

  it('connects the SDK through the checked address of a named endpoint', async () => {
    const port = new URL(server.endpoint).port;
    const cfg = testStorageConfig({ s3: { endpoint: `http://objects.test:${port}`, forcePathStyle: true } });
    const { loc, src } = open('s3://data/one/file.bin', creds, cfg, { resolver: resolver(['127.0.0.1']) });
    expect(loc.host).toBe('objects.test');
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
  });

  it('refuses an endpoint resolving to a private address and opens no connection', async () => {
    const connect = vi.spyOn(net.Socket.prototype, 'connect');
    const cfg = testStorageConfig({
      allowPrivateNetworks: { all: false, cidrs: [] },
      s3: { endpoint: 'http://minio.internal:9000', forcePathStyle: true },
    });
    const { loc, src } = open('s3://data/one/file.bin', creds, cfg, { resolver: resolver(['10.0.0.1']) });
    const err = await storageFailure(src.stat(loc.key));
    expect(err.message).toBe('object URL host is not allowed: minio.internal');
    expect(err.retryable).toBe(false);
    expect(connect).not.toHaveBeenCalled();
  });

  it('refuses a DNS answer that changes to a private address between check and connect (rebinding)', async () => {
    const port = new URL(server.endpoint).port;
    const cfg = testStorageConfig({
      allowPrivateNetworks: { all: false, cidrs: ['127.0.0.0/8'] },
      s3: { endpoint: `http://rebind.test:${port}`, forcePathStyle: true },
    });
    const answers = resolver(['127.0.0.1'], ['10.0.0.1']);
    let lookups = 0;
    const counting: Resolver = (h) => {
      lookups++;
      return answers(h);
    };
    const before = server.requests.length;
    const { loc, src } = open('s3://data/one/file.bin', creds, cfg, { resolver: counting, retry: { retries: 0 } });
    const err = await storageFailure(src.stat(loc.key));
    expect(err.message).toBe('object URL host is not allowed: rebind.test');
    // First lookup: the up-front check (127.0.0.1, allowed). Second: the socket's own lookup, which
    // got 10.0.0.1 and refused it, so the socket never had an address to dial.
    expect(lookups).toBe(2);
    expect(server.requests.length).toBe(before);
  });
});
