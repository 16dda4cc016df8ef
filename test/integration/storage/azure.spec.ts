import {
  BlobServiceClient,
  ContainerSASPermissions,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@gw/config';
import {
  groupObjects,
  openObjectSource,
  parseObjectLocation,
  StorageErrorCode,
  validateCredentials,
  type ObjectStat,
  type StorageConfig,
  type StorageCredentials,
} from '@gw/storage';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../../support/storage/azurite';
import { FaultProxy } from '../../support/storage/fault-proxy';
import { bytes, collect, fastDeps, sha256, testStorageConfig, storageFailure } from '../../support/storage/config';

const DATA = bytes(200 * 1024, 21);
const FOLDER_SIZE = 2500;
let azurite: Awaited<ReturnType<typeof startAzurite>>;
let config: StorageConfig;
let service: BlobServiceClient;
const shared: StorageCredentials = { accessKey: AZURITE_ACCOUNT, secretKey: AZURITE_KEY };

const url = (path: string) => `${azurite.endpoint}/${path}`;

function open(path: string, c: StorageCredentials | null = shared, cfg = config) {
  const loc = parseObjectLocation(url(path), cfg);
  return { loc, src: openObjectSource(loc, c ?? undefined, cfg, fastDeps) };
}

beforeAll(async () => {
  azurite = await startAzurite();
  config = testStorageConfig({ azure: { endpoint: azurite.endpoint } });
  service = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
  const c = service.getContainerClient('imports');
  await c.create();
  await c.getBlockBlobClient('one/file.bin').uploadData(DATA);
  const names = Array.from({ length: FOLDER_SIZE }, (_, i) => `big/${String(i).padStart(5, '0')}.jsonl`);
  for (let i = 0; i < names.length; i += 100) {
    await Promise.all(names.slice(i, i + 100).map((n) => c.getBlockBlobClient(n).uploadData(Buffer.from('{}\n'))));
  }
  await c.getBlockBlobClient('np/1/id.npy').uploadData(Buffer.from('a'));
  await c.getBlockBlobClient('np/1/vector.npy').uploadData(Buffer.from('b'));
  await c.getBlockBlobClient('np/_SUCCESS').uploadData(Buffer.alloc(0));
}, 120_000);

afterAll(async () => {
  await azurite.stop();
});

describe('Azure driver (@azure/storage-blob) against azurite', () => {
  it('stats, reads explicit ranges and streams with a shared key', async () => {
    const { loc, src } = open('imports/one/file.bin');
    expect(loc).toMatchObject({ provider: 'azure', account: AZURITE_ACCOUNT, bucket: 'imports', key: 'one/file.bin' });
    const s = await src.stat(loc.key);
    expect(s.size).toBe(DATA.length);
    expect(s.version).not.toBe('');
    expect(Buffer.from(await src.readRange(loc.key, 100, 9000)).equals(DATA.subarray(100, 9000))).toBe(true);
    expect(sha256(await collect(src.stream(loc.key, 1)))).toBe(sha256(DATA.subarray(1)));
  });

  it(`expands a folder of ${FOLDER_SIZE} blobs fully and in key order`, async () => {
    const { loc, src } = open('imports/big/');
    const seen: ObjectStat[] = [];
    for await (const s of src.list(loc.key)) seen.push(s);
    expect(seen).toHaveLength(FOLDER_SIZE);
    const keys = seen.map((s) => s.key);
    expect(keys).toEqual([...keys].sort());
    expect(new Set(keys).size).toBe(FOLDER_SIZE);
  });

  it('groups the .npy files of one directory into one NumPy group', async () => {
    const { loc, src } = open('imports/np/');
    const seen: ObjectStat[] = [];
    for await (const s of src.list(loc.key)) seen.push(s);
    expect(groupObjects(seen).map((g) => [g.kind, g.objects.length])).toEqual([['numpy', 2]]);
  });

  it('fails with "object changed during import" when the blob is overwritten after stat', async () => {
    const blob = service.getContainerClient('imports').getBlockBlobClient('changing.bin');
    await blob.uploadData(DATA);
    const { loc, src } = open('imports/changing.bin');
    await src.stat(loc.key);
    await blob.uploadData(bytes(DATA.length, 2));
    const err = await storageFailure(src.readRange(loc.key, 0, 10));
    expect(err.message).toBe(`object changed during import: ${url('imports/changing.bin')}`);
    expect(err.retryable).toBe(false);
  });

  it('uses a SAS token from the request, and a SAS in the URL for listing a folder', async () => {
    const sas = generateBlobSASQueryParameters(
      {
        containerName: 'imports',
        permissions: ContainerSASPermissions.parse('rl'),
        expiresOn: new Date(Date.now() + 3_600_000),
      },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).toString();
    const viaToken = open('imports/one/file.bin', { token: `?${sas}` });
    expect((await viaToken.src.stat(viaToken.loc.key)).size).toBe(DATA.length);
    const viaUrl = parseObjectLocation(`${url('imports/np/')}?${sas}`, config);
    expect(viaUrl.provider).toBe('azure');
    expect(viaUrl.display).toBe(url('imports/np/'));
    const src = openObjectSource(viaUrl, undefined, config, fastDeps);
    const keys: string[] = [];
    for await (const s of src.list(viaUrl.key)) keys.push(s.key);
    expect(keys).toEqual(['np/1/id.npy', 'np/1/vector.npy', 'np/_SUCCESS']);
  });

  it('uses the server default key when the request brings none and the account matches', async () => {
    const cfg = testStorageConfig({
      azure: { endpoint: azurite.endpoint, account: AZURITE_ACCOUNT, key: AZURITE_KEY },
      allowedBuckets: ['imports'],
    });
    const { loc, src } = open('imports/one/file.bin', null, cfg);
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
  });

  it('takes an Azure connection string as secretKey (account key or SAS), and as the server default', async () => {
    const sas = generateBlobSASQueryParameters(
      {
        containerName: 'imports',
        permissions: ContainerSASPermissions.parse('r'),
        expiresOn: new Date(Date.now() + 3_600_000),
      },
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).toString();
    // The BlobEndpoint of a connection string is ignored (the object URL says where to connect):
    // if it were used, the read would go to the closed loopback port 9 and fail.
    const withKey = `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=http://127.0.0.1:9/devstoreaccount1;`;
    for (const secretKey of [withKey, `AccountName=${AZURITE_ACCOUNT};SharedAccessSignature=?${sas}`]) {
      validateCredentials({ secretKey }, open('imports/one/file.bin').loc);
      const { loc, src } = open('imports/one/file.bin', { secretKey });
      expect(sha256(await src.readRange(loc.key, 0, DATA.length))).toBe(sha256(DATA));
    }
    expect(() =>
      validateCredentials(
        { secretKey: withKey.replace(AZURITE_ACCOUNT, 'otheraccount') },
        open('imports/one/file.bin').loc,
      ),
    ).toThrow('invalid credentials: the connection string must be for the storage account of the URL');

    const fromEnv = loadConfig({
      DATABASE_URL: 'postgresql://127.0.0.1/x',
      REDIS_URL: 'redis://127.0.0.1:6379',
      GATEWAY_SECRET_KEY: '11'.repeat(32),
      STORAGE_AZURE_ENDPOINT: azurite.endpoint,
      STORAGE_AZURE_CONNECTION_STRING: withKey,
    }).storage;
    expect(fromEnv.azure).toEqual({ endpoint: azurite.endpoint, account: AZURITE_ACCOUNT, key: AZURITE_KEY });
    const cfg = testStorageConfig({ azure: fromEnv.azure, allowedBuckets: ['imports'] });
    const viaDefault = open('imports/one/file.bin', null, cfg);
    expect((await viaDefault.src.stat(viaDefault.loc.key)).size).toBe(DATA.length);
    const sasDefault = testStorageConfig({
      azure: { endpoint: azurite.endpoint, account: AZURITE_ACCOUNT, sas },
      allowedBuckets: ['imports'],
    });
    const viaSas = open('imports/one/file.bin', null, sasDefault);
    expect((await viaSas.src.stat(viaSas.loc.key)).size).toBe(DATA.length);
  });

  it('reads a public container anonymously when no credentials exist anywhere', async () => {
    const pub = service.getContainerClient('public-data');
    await pub.create({ access: 'container' });
    await pub.getBlockBlobClient('p.bin').uploadData(DATA);
    const { loc, src } = open('public-data/p.bin', null);
    expect(sha256(await src.readRange(loc.key, 0, DATA.length))).toBe(sha256(DATA));
    const priv = open('imports/one/file.bin', null);
    expect((await storageFailure(priv.src.stat(priv.loc.key))).code).toBe(StorageErrorCode.AccessDenied);
  });

  it('fails once with "access denied" on a wrong key, never echoing the key', async () => {
    const wrong = Buffer.from('x'.repeat(64)).toString('base64');
    const { loc, src } = open('imports/one/file.bin', { accessKey: AZURITE_ACCOUNT, secretKey: wrong });
    const started = Date.now();
    const err = await storageFailure(src.stat(loc.key));
    expect(err.code).toBe(StorageErrorCode.AccessDenied);
    expect(err.message).toBe(`access denied: ${url('imports/one/file.bin')}`);
    expect(JSON.stringify({ m: err.message, d: err.details, c: err.cause })).not.toContain(wrong);
    expect(err.retryable).toBe(false);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('maps a missing blob and a missing container to "object not found"', async () => {
    const a = open('imports/missing.bin');
    expect((await storageFailure(a.src.stat(a.loc.key))).code).toBe(StorageErrorCode.NotFound);
    const b = open('nocontainer/x.bin');
    expect((await storageFailure(b.src.stat(b.loc.key))).message).toBe(`object not found: ${url('nocontainer/x.bin')}`);
  });

  it('refuses a request accessKey that is not the URL account', () => {
    const loc = parseObjectLocation(url('imports/one/file.bin'), config);
    expect(() =>
      openObjectSource(loc, { accessKey: 'otheraccount', secretKey: AZURITE_KEY }, config, fastDeps),
    ).toThrow(/accessKey must be the storage account/);
  });

  it('connects through the guard: a named endpoint reaches azurite only via the checked address', async () => {
    const port = new URL(azurite.endpoint).port;
    const named = `http://azure.test:${port}/${AZURITE_ACCOUNT}`;
    const cfg = testStorageConfig({ azure: { endpoint: named } });
    const loc = parseObjectLocation(`${named}/imports/one/file.bin`, cfg);
    const src = openObjectSource(loc, shared, cfg, {
      ...fastDeps,
      resolver: async () => [{ address: '127.0.0.1', family: 4 }],
    });
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
  });

  it('refuses a DNS answer that turns private between the check and the SDK connection (rebinding)', async () => {
    const port = new URL(azurite.endpoint).port;
    const named = `http://rebind.test:${port}/${AZURITE_ACCOUNT}`;
    const cfg = testStorageConfig({
      allowPrivateNetworks: { all: false, cidrs: ['127.0.0.0/8'] },
      azure: { endpoint: named },
    });
    const loc = parseObjectLocation(`${named}/imports/one/file.bin`, cfg);
    const answers = ['127.0.0.1', '10.0.0.1'];
    const src = openObjectSource(loc, shared, cfg, {
      ...fastDeps,
      resolver: async () => [{ address: answers.length > 1 ? answers.shift()! : answers[0]!, family: 4 }],
    });
    const err = await storageFailure(src.stat(loc.key));
    expect(err.message).toBe('object URL host is not allowed: rebind.test');
    expect(err.code).toBe(StorageErrorCode.HostNotAllowed);
    expect(err.retryable).toBe(false);
  });

  it('refuses an endpoint that resolves to the metadata address, without connecting', async () => {
    const named = `http://blobs.internal:10000/${AZURITE_ACCOUNT}`;
    const cfg = testStorageConfig({ azure: { endpoint: named } });
    const loc = parseObjectLocation(`${named}/imports/one/file.bin`, cfg);
    let dialled = 0;
    const src = openObjectSource(loc, shared, cfg, {
      ...fastDeps,
      resolver: async () => {
        dialled++;
        return [{ address: '169.254.169.254', family: 4 }];
      },
    });
    const err = await storageFailure(src.stat(loc.key));
    expect(err.message).toBe('object URL host is not allowed: blobs.internal');
    expect(err.retryable).toBe(false);
    expect(dialled).toBe(1);
  });
});

describe('Azure driver through a fault-injecting proxy in front of azurite', () => {
  let proxy: FaultProxy;
  let proxied: StorageConfig;
  const blob = (name: string) => service.getContainerClient('imports').getBlockBlobClient(name);
  const gets = (name: string) => proxy.requests.filter((r) => r.method === 'GET' && r.path.includes(name));

  beforeAll(async () => {
    proxy = new FaultProxy(new URL(azurite.endpoint).origin);
    await proxy.start();
    proxied = testStorageConfig({ azure: { endpoint: `${proxy.origin}/${AZURITE_ACCOUNT}` } });
  });
  afterAll(async () => {
    await proxy.stop();
  });

  function openProxied(name: string) {
    const loc = parseObjectLocation(`${proxy.origin}/${AZURITE_ACCOUNT}/imports/${name}`, proxied);
    return { loc, src: openObjectSource(loc, shared, proxied, fastDeps) };
  }

  it('resumes a download reset half-way with identical bytes, pinned with If-Match', async () => {
    await blob('fault/reset.bin').uploadData(DATA);
    const { loc, src } = openProxied('fault/reset.bin');
    proxy.resetAfter = { count: 1, bytes: DATA.length / 2, match: /fault%2Freset\.bin|fault\/reset\.bin/ };
    expect(sha256(await collect(src.stream(loc.key)))).toBe(sha256(DATA));
    const reads = gets('reset.bin');
    expect(reads).toHaveLength(2);
    expect(reads[1]!.headers['if-match']).toBeDefined();
    expect(String(reads[1]!.headers['x-ms-range'])).toMatch(/^bytes=[1-9]\d*-\d+$/);
  });

  it('succeeds after three 500s', async () => {
    await blob('fault/500.bin').uploadData(DATA);
    const { loc, src } = openProxied('fault/500.bin');
    await src.stat(loc.key);
    proxy.failNext = { count: 3, status: 500, match: /500\.bin/ };
    expect((await src.readRange(loc.key, 0, 10)).length).toBe(10);
    expect(gets('500.bin')).toHaveLength(4);
  });

  it('fails once on a persistent 403 without a retry storm', async () => {
    await blob('fault/403.bin').uploadData(DATA);
    const { loc, src } = openProxied('fault/403.bin');
    await src.stat(loc.key);
    proxy.failNext = { count: 1000, status: 403, match: /403\.bin/ };
    const err = await storageFailure(src.readRange(loc.key, 0, 10));
    expect(err.code).toBe(StorageErrorCode.AccessDenied);
    expect(gets('403.bin')).toHaveLength(1);
    proxy.failNext = undefined;
  });

  it('fails with "object changed" when the blob is replaced while a read is broken', async () => {
    await blob('fault/replaced.bin').uploadData(DATA);
    const { loc, src } = openProxied('fault/replaced.bin');
    proxy.resetAfter = {
      count: 1,
      bytes: 1000,
      match: /replaced\.bin/,
      onReset: async () => {
        await blob('fault/replaced.bin').uploadData(bytes(DATA.length, 77));
      },
    };
    const err = await storageFailure(collect(src.stream(loc.key)));
    expect(err.message).toBe(
      `object changed during import: ${proxy.origin}/${AZURITE_ACCOUNT}/imports/fault/replaced.bin`,
    );
  });
});

describe('the server default key is lent only to named containers (spec §4, confused deputy)', () => {
  let proxy: FaultProxy;
  const origin = () => `${proxy.origin}/${AZURITE_ACCOUNT}`;
  const withKey = (over: Partial<StorageConfig> = {}) =>
    testStorageConfig({ azure: { endpoint: origin(), account: AZURITE_ACCOUNT, key: AZURITE_KEY }, ...over });
  /** Authorization headers azurite was sent for one container since `from`. */
  const authFor = (container: string, from: number) =>
    proxy.requests
      .slice(from)
      .filter((r) => r.path.startsWith(`/${AZURITE_ACCOUNT}/${container}`))
      .map((r) => r.headers.authorization);
  const openVia = (path: string, cfg: StorageConfig, c?: StorageCredentials) => {
    const loc = parseObjectLocation(path.includes('://') ? path : `${origin()}/${path}`, cfg);
    return { loc, src: openObjectSource(loc, c, cfg, fastDeps) };
  };

  beforeAll(async () => {
    proxy = new FaultProxy(new URL(azurite.endpoint).origin);
    await proxy.start();
    const victim = service.getContainerClient('victim');
    await victim.create();
    await victim.getBlockBlobClient('secret.bin').uploadData(DATA);
    const open = service.getContainerClient('open-dataset');
    await open.create({ access: 'container' });
    await open.getBlockBlobClient('rows.bin').uploadData(DATA);
  });
  afterAll(async () => {
    await proxy.stop();
  });

  it('signs with Shared Key for a listed container', async () => {
    const from = proxy.requests.length;
    const { loc, src } = openVia(
      'imports/one/file.bin',
      withKey({ allowedBuckets: [`azure://${AZURITE_ACCOUNT}/imports`] }),
    );
    expect(sha256(await src.readRange(loc.key, 0, DATA.length))).toBe(sha256(DATA));
    const auth = authFor('imports', from);
    expect(auth.length).toBeGreaterThanOrEqual(2);
    for (const a of auth) expect(a).toMatch(new RegExp(`^SharedKey ${AZURITE_ACCOUNT}:`));
  });

  it('reads a container outside the list anonymously: a private one fails as access denied, no Shared Key sent', async () => {
    const cfg = withKey({ allowedBuckets: [`azure://${AZURITE_ACCOUNT}/imports`] });
    const from = proxy.requests.length;
    const { loc, src } = openVia('victim/secret.bin', cfg);
    const err = await storageFailure(src.stat(loc.key));
    expect(err.code).toBe(StorageErrorCode.AccessDenied);
    expect(err.message).toBe(`access denied: ${origin()}/victim/secret.bin`);
    const folder = openVia('victim/', cfg);
    const keys: string[] = [];
    const listErr = await storageFailure(
      (async () => {
        for await (const s of folder.src.list(folder.loc.key)) keys.push(s.key);
      })(),
    );
    expect(listErr.code).toBe(StorageErrorCode.AccessDenied);
    expect(keys).toEqual([]);
    const auth = authFor('victim', from);
    expect(auth.length).toBeGreaterThanOrEqual(2);
    expect(auth.every((a) => a === undefined)).toBe(true);
  });

  it('reads a public container outside the list anonymously (public datasets keep working)', async () => {
    const from = proxy.requests.length;
    const { loc, src } = openVia('open-dataset/rows.bin', withKey({ allowedBuckets: ['imports'] }));
    expect(sha256(await collect(src.stream(loc.key)))).toBe(sha256(DATA));
    const auth = authFor('open-dataset', from);
    expect(auth.length).toBeGreaterThanOrEqual(2);
    expect(auth.every((a) => a === undefined)).toBe(true);
  });

  it('still uses request credentials for any container', async () => {
    const from = proxy.requests.length;
    const { loc, src } = openVia('victim/secret.bin', withKey({ allowedBuckets: ['imports'] }), shared);
    expect((await src.stat(loc.key)).size).toBe(DATA.length);
    expect(authFor('victim', from).every((a) => a?.startsWith(`SharedKey ${AZURITE_ACCOUNT}:`) === true)).toBe(true);
  });

  it('with an empty list lends the key to the container of STORAGE_DEFAULT_URL only (relative paths keep working)', async () => {
    const cfg = withKey({ defaultUrl: `${origin()}/imports/one/` });
    const from = proxy.requests.length;
    const relLoc = parseObjectLocation('file.bin', cfg);
    const rel = { loc: relLoc, src: openObjectSource(relLoc, undefined, cfg, fastDeps) };
    expect(rel.loc.display).toBe(`${origin()}/imports/one/file.bin`);
    expect((await rel.src.stat(rel.loc.key)).size).toBe(DATA.length);
    expect(authFor('imports', from).every((a) => a?.startsWith(`SharedKey ${AZURITE_ACCOUNT}:`) === true)).toBe(true);
    const other = openVia('victim/secret.bin', cfg);
    expect((await storageFailure(other.src.stat(other.loc.key))).code).toBe(StorageErrorCode.AccessDenied);
    expect(authFor('victim', from).every((a) => a === undefined)).toBe(true);
  });
});
