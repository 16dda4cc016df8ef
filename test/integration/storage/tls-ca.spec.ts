import * as https from 'node:https';
import {
  BlobServiceClient,
  newPipeline,
  type RequestPolicy,
  StorageSharedKeyCredential,
  type WebResource,
} from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openObjectSource,
  parseObjectLocation,
  StorageErrorCode,
  type ObjectSource,
  type ObjectStat,
  type StorageConfig,
  type StorageCredentials,
} from '@gw/storage';
import { installLoopbackTripwire, type LoopbackTripwire } from '../../support/loopback-only';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite, type RunningAzurite } from '../../support/storage/azurite';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { bytes, collect, fastDeps, sha256, testStorageConfig, storageFailure } from '../../support/storage/config';
import { makeTestCertificates, type TestCertificates } from '../../support/tls-certificates';

/**
 * STORAGE_CA_FILE for the SDK-backed drivers: the S3 test server and azurite serve HTTPS with a
 * certificate from a private test CA. Trusting that CA (config `caPem`, what STORAGE_CA_FILE
 * loads) makes every read path work; without it — or with another CA — the first request fails
 * for good, with the same message the plain-HTTPS driver gives, after a single connection.
 */
const DATA = bytes(96 * 1024, 41);
let certs: TestCertificates;
let otherCa: TestCertificates;
let s3: S3TestServer;
let azurite: RunningAzurite;
let tripwire: LoopbackTripwire;
const s3Creds: StorageCredentials = { accessKey: 'S3RVER', secretKey: 'S3RVER' };
const azureCreds: StorageCredentials = { accessKey: AZURITE_ACCOUNT, secretKey: AZURITE_KEY };

async function firstListed(src: ObjectSource, prefix: string): Promise<ObjectStat | undefined> {
  for await (const s of src.list(prefix)) return s;
  return undefined;
}

/** Storage config as the worker builds it from env: https only, the CA PEM when given. */
function tlsConfig(caPem: string | undefined): StorageConfig {
  return testStorageConfig({
    allowHttp: false,
    s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
    azure: { endpoint: azurite.endpoint },
    ...(caPem === undefined ? {} : { caPem }),
  });
}

function open(url: string, creds: StorageCredentials, cfg: StorageConfig) {
  const loc = parseObjectLocation(url, cfg);
  return { loc, src: openObjectSource(loc, creds, cfg, fastDeps) };
}

/** An https agent trusting the test CA, for uploading fixtures with the Azure SDK itself. */
function azureFixtureClient(ca: string): BlobServiceClient {
  const agent = new https.Agent({ ca });
  const pipeline = newPipeline(new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
  pipeline.factories.push({
    create: (next: RequestPolicy): RequestPolicy => ({
      sendRequest: (req: WebResource) => {
        req.agent = agent;
        return next.sendRequest(req);
      },
    }),
  });
  return new BlobServiceClient(azurite.endpoint, pipeline);
}

beforeAll(async () => {
  tripwire = installLoopbackTripwire();
  certs = makeTestCertificates();
  otherCa = makeTestCertificates();
  s3 = new S3TestServer({ S3RVER: { secretKey: 'S3RVER' } }, { tls: { key: certs.key, cert: certs.cert } });
  await s3.start();
  s3.putDirect('data', 'tls/file.bin', DATA);
  s3.putDirect('data', 'tls/other.json', Buffer.from('{}'));
  azurite = await startAzurite({ tls: { certFile: certs.certFile, keyFile: certs.keyFile } });
  const container = azureFixtureClient(certs.caPem).getContainerClient('tls');
  await container.create();
  await container.getBlockBlobClient('dir/file.bin').uploadData(DATA);
  await container.getBlockBlobClient('dir/other.json').uploadData(Buffer.from('{}'));
}, 60_000);

afterAll(async () => {
  await s3?.stop();
  await azurite?.stop();
  tripwire?.uninstall();
});

const cases = [
  {
    provider: 'S3 (@aws-sdk/client-s3)',
    url: () => `${s3.endpoint}/data/tls/file.bin`,
    folder: () => `${s3.endpoint}/data/tls/`,
    creds: s3Creds,
    connections: () => s3.connections,
  },
  {
    provider: 'Azure (@azure/storage-blob, azurite --cert/--key)',
    url: () => `${azurite.endpoint}/tls/dir/file.bin`,
    folder: () => `${azurite.endpoint}/tls/dir/`,
    creds: azureCreds,
    connections: () => azurite.connections(),
  },
];

describe.each(cases)('$provider over https://127.0.0.1 with a private CA', (c) => {
  it('stats, lists, reads a range and streams when STORAGE_CA_FILE names the CA', async () => {
    expect(c.url()).toMatch(/^https:\/\/127\.0\.0\.1:\d+\//);
    const cfg = tlsConfig(certs.caPem);
    const { loc, src } = open(c.url(), c.creds, cfg);
    try {
      const s = await src.stat(loc.key);
      expect(s.size).toBe(DATA.length);
      expect(Buffer.from(await src.readRange(loc.key, 1000, 41_000)).equals(DATA.subarray(1000, 41_000))).toBe(true);
      expect(sha256(await collect(src.stream(loc.key, 3)))).toBe(sha256(DATA.subarray(3)));
    } finally {
      src.close();
    }
    const folder = open(c.folder(), c.creds, cfg);
    try {
      const seen: ObjectStat[] = [];
      for await (const s of folder.src.list(folder.loc.key)) seen.push(s);
      expect(seen.map((s) => s.key.split('/').at(-1))).toEqual(['file.bin', 'other.json']);
    } finally {
      folder.src.close();
    }
  });

  it.each([
    ['no CA is configured', undefined],
    ['STORAGE_CA_FILE names a CA that did not sign the certificate', 'other'],
  ] as const)('fails at once, not retryably, naming the URL and STORAGE_CA_FILE when %s', async (_, which) => {
    const cfg = tlsConfig(which === undefined ? undefined : otherCa.caPem);
    const { loc, src } = open(c.url(), c.creds, cfg);
    const before = c.connections();
    try {
      const err = await storageFailure(src.stat(loc.key));
      expect(err.code).toBe(StorageErrorCode.AccessDenied);
      expect(err.retryable).toBe(false);
      expect(err.message).toMatch(
        /^TLS certificate rejected: https:\/\/127\.0\.0\.1:\d+\/\S+file\.bin \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY); set STORAGE_CA_FILE for a private CA\)$/,
      );
      expect(err.message).toContain(loc.display);
      // "At once": one handshake, no retry loop (fastDeps allows 5 retries for transient failures).
      expect(c.connections() - before).toBe(1);
      // Listing goes through the same classification.
      const list = await storageFailure(firstListed(src, loc.key));
      expect(list.message).toMatch(/^TLS certificate rejected: /);
      expect(list.retryable).toBe(false);
    } finally {
      src.close();
    }
  });
});

describe('the loopback tripwire of this file', () => {
  it('saw only loopback connections', () => {
    expect(tripwire.refused).toEqual([]);
    expect(tripwire.connections.length).toBeGreaterThan(0);
  });
});
