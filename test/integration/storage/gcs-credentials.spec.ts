import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode } from '@gw/testing';
import { makeRsaKeyPair, makeTestCertificates, type TestCertificates } from '../../support/tls-certificates';
import { GceMetadataTestServer } from '../../support/storage/gce-metadata-server';
import { GcsTestServer } from '../../support/storage/gcs-test-server';
import { GOOGLE_STORAGE_HOST, GOOGLE_TOKEN_HOST, GoogleApisTestProxy } from '../../support/storage/google-proxy';
import { bytes, sha256 } from '../../support/storage/config';
import type { GcsReadCase, GcsReadResult } from '../../support/storage/children/gcs-read';

/**
 * Google credentials of the GCS driver, end to end, without leaving 127.0.0.0/8.
 *
 * Google's libraries hard-code https://www.googleapis.com/oauth2/v4/token (service-account
 * JWT grants) and https://storage.googleapis.com, and read HTTPS_PROXY, NO_PROXY,
 * GCE_METADATA_HOST and GOOGLE_APPLICATION_CREDENTIALS from the environment, NODE_EXTRA_CA_CERTS
 * only at start-up. So each case runs in a child process (dist/…/children/gcs-read.js) with
 * HTTPS_PROXY pointing at GoogleApisTestProxy — a CONNECT proxy that never dials out but
 * terminates TLS itself with a test-CA certificate for those two names — NO_PROXY for loopback,
 * NODE_EXTRA_CA_CERTS for the test CA, and GCE_METADATA_HOST at a loopback metadata server. The
 * child's SSRF pre-check gets a resolver that answers without DNS, and its loopback tripwire
 * reports every connection; the proxy reports every CONNECT target.
 */
const DATA = bytes(150 * 1024, 61);
const METADATA_TOKEN = 'ya29.igw-gce-metadata-token';
const SA_EMAIL = 'importer@igw-test.iam.gserviceaccount.com';
const PROXY_ENV_HOSTS = { [GOOGLE_STORAGE_HOST]: '127.0.0.1' };

let certs: TestCertificates;
let serviceAccountJson: string;
let serviceAccountFile: string;
/** storage.googleapis.com as the proxy serves it. */
const google = new GcsTestServer();
/** A custom endpoint (STORAGE_GCS_ENDPOINT) on plain http. */
const custom = new GcsTestServer();
let tlsCustom: GcsTestServer;
const metadata = new GceMetadataTestServer(METADATA_TOKEN);
let proxy: GoogleApisTestProxy;

/** Accepts exactly the access tokens the proxy's token endpoint issued. */
const issuedByProxy = (token: string) => proxy.grants.some((g) => g.accessToken === token);

interface ChildRun extends GcsReadResult {
  connectTargets: string[];
  metadataRequests: typeof metadata.requests;
  googleRequests: typeof google.requests;
  customRequests: typeof custom.requests;
  grants: typeof proxy.grants;
}

/** Runs one case in a fresh child; returns its result and what each server saw meanwhile. */
async function runChild(c: GcsReadCase, env: Record<string, string | undefined> = {}): Promise<ChildRun> {
  const mark = {
    connect: proxy.connectTargets.length,
    metadata: metadata.requests.length,
    google: google.requests.length,
    custom: custom.requests.length,
    grants: proxy.grants.length,
  };
  const full: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    // No ~/.config/gcloud here: ADC must not find the developer's own credentials.
    HOME: mkdtempSync(join(tmpdir(), 'igw-gcs-home-')),
    NODE_ENV: 'test',
    HTTPS_PROXY: proxy.origin,
    NO_PROXY: '127.0.0.1,localhost',
    NODE_EXTRA_CA_CERTS: certs.caFile,
    // Even cases that should not ask the metadata server point it at loopback, so a wrong ask is
    // seen (and never goes to 169.254.169.254 or metadata.google.internal).
    GCE_METADATA_HOST: metadata.host,
    IGW_CHILD_CASE: JSON.stringify(c),
  };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) Reflect.deleteProperty(full, k);
    else full[k] = v;
  }
  const child = startNode('test/support/storage/children/gcs-read.js', full);
  const exit = await child.exited;
  const line = child
    .output()
    .split('\n')
    .find((l) => l.startsWith('IGW_RESULT '));
  if (exit.code !== 0 || line === undefined) throw new Error(`child failed (${exit.code}):\n${child.output()}`);
  const result = JSON.parse(line.slice('IGW_RESULT '.length)) as GcsReadResult;
  return {
    ...result,
    connectTargets: proxy.connectTargets.slice(mark.connect),
    metadataRequests: metadata.requests.slice(mark.metadata),
    googleRequests: google.requests.slice(mark.google),
    customRequests: custom.requests.slice(mark.custom),
    grants: proxy.grants.slice(mark.grants),
  };
}

const baseCase = (over: Partial<GcsReadCase>): GcsReadCase => ({
  url: 'gs://igw-data/dir/file.bin',
  folder: 'gs://igw-data/dir/',
  gcs: {},
  ambient: false,
  names: PROXY_ENV_HOSTS,
  // Server and ambient credentials are lent only to named buckets (spec §4).
  allowedBuckets: ['igw-data'],
  ...over,
});

/** The read itself worked and returned the object's bytes; the child stayed on loopback. */
function expectReadAndLoopback(r: ChildRun): void {
  expect(r.error, JSON.stringify(r.error)).toBeUndefined();
  expect(r.ok).toBe(true);
  expect(r.size).toBe(DATA.length);
  expect(r.sha256).toBe(sha256(DATA));
  expect(r.listed).toEqual(['dir/file.bin', 'dir/more.json']);
  expect(r.refused).toEqual([]);
  expect(r.connections.length).toBeGreaterThan(0);
  expect(r.connections.every((c) => c.address === '127.0.0.1')).toBe(true);
  // The CONNECTs the proxy saw are the only way anything "reached" Google, and it dials nothing.
  expect(r.connectTargets.every((t) => t === `${GOOGLE_TOKEN_HOST}:443` || t === `${GOOGLE_STORAGE_HOST}:443`)).toBe(
    true,
  );
  expect(proxy.plainRequests).toEqual([]);
}

const authorizations = (reqs: { authorization?: string }[]) => [...new Set(reqs.map((q) => q.authorization))];

beforeAll(async () => {
  certs = makeTestCertificates([
    'IP:127.0.0.1',
    'DNS:localhost',
    `DNS:${GOOGLE_TOKEN_HOST}`,
    `DNS:${GOOGLE_STORAGE_HOST}`,
  ]);
  const keys = makeRsaKeyPair();
  serviceAccountJson = JSON.stringify({
    type: 'service_account',
    project_id: 'igw-test',
    private_key_id: 'k1',
    private_key: keys.privateKeyPem,
    client_email: SA_EMAIL,
    client_id: '1',
  });
  serviceAccountFile = join(mkdtempSync(join(tmpdir(), 'igw-sa-')), 'sa.json');
  writeFileSync(serviceAccountFile, serviceAccountJson);
  for (const s of [google, custom]) {
    s.put('igw-data', 'dir/file.bin', DATA);
    s.put('igw-data', 'dir/more.json', Buffer.from('{}'));
  }
  tlsCustom = new GcsTestServer(undefined, { tls: { key: certs.key, cert: certs.cert } });
  tlsCustom.put('igw-data', 'dir/file.bin', DATA);
  tlsCustom.put('igw-data', 'dir/more.json', Buffer.from('{}'));
  await custom.start();
  await tlsCustom.start();
  await metadata.start();
  proxy = new GoogleApisTestProxy({ key: certs.key, cert: certs.cert }, google);
  proxy.registerServiceAccount(SA_EMAIL, keys.publicKeyPem);
  await proxy.start();
});

afterAll(async () => {
  await proxy?.stop();
  await metadata.stop();
  await custom.stop();
  await tlsCustom?.stop();
});

describe('GCS ambient credentials (application default credentials)', () => {
  it('takes the token of the GCE metadata server (GCE_METADATA_HOST) and sends it to storage.googleapis.com only', async () => {
    google.requiredToken = METADATA_TOKEN;
    const r = await runChild(baseCase({ ambient: true }));
    expectReadAndLoopback(r);
    expect(r.metadataRequests.map((q) => q.path)).toContain(
      '/computeMetadata/v1/instance/service-accounts/default/token',
    );
    expect(r.metadataRequests.every((q) => q.flavor === 'Google')).toBe(true);
    expect(authorizations(r.googleRequests)).toEqual([`Bearer ${METADATA_TOKEN}`]);
    expect(new Set(r.connectTargets)).toEqual(new Set([`${GOOGLE_STORAGE_HOST}:443`]));
    expect(r.resolved.every((h) => h === GOOGLE_STORAGE_HOST)).toBe(true);
  });

  it('never sends an ambient token to a custom endpoint (STORAGE_GCS_ENDPOINT), nor asks for one', async () => {
    custom.requiredToken = undefined;
    const r = await runChild(baseCase({ ambient: true, gcs: { endpoint: custom.endpoint }, names: {} }));
    expectReadAndLoopback(r);
    expect(r.customRequests.length).toBeGreaterThan(0);
    expect(authorizations(r.customRequests)).toEqual([undefined]);
    expect(r.metadataRequests).toEqual([]);
    expect(r.connectTargets).toEqual([]);
  });

  it('reads a private object with a service-account key file named by GOOGLE_APPLICATION_CREDENTIALS', async () => {
    google.requiredToken = issuedByProxy;
    const r = await runChild(baseCase({ ambient: true }), { GOOGLE_APPLICATION_CREDENTIALS: serviceAccountFile });
    expectReadAndLoopback(r);
    expect(r.grants.map((g) => g.clientEmail)).toEqual([SA_EMAIL, SA_EMAIL]); // the file's source and the folder's
    expect(authorizations(r.googleRequests).every((a) => a !== undefined && issuedByProxy(a.slice(7)))).toBe(true);
    expect(r.metadataRequests).toEqual([]);
  });

  it('falls back to anonymous when no ambient credentials exist (METADATA_SERVER_DETECTION=none)', async () => {
    google.requiredToken = undefined;
    const r = await runChild(baseCase({ ambient: true }), { METADATA_SERVER_DETECTION: 'none' });
    expectReadAndLoopback(r);
    expect(authorizations(r.googleRequests)).toEqual([undefined]);
    expect(r.metadataRequests).toEqual([]);
  });

  it('asks no ambient source when STORAGE_AMBIENT_CREDENTIALS=false: anonymous requests', async () => {
    google.requiredToken = undefined;
    const r = await runChild(baseCase({ ambient: false }), { GOOGLE_APPLICATION_CREDENTIALS: serviceAccountFile });
    expectReadAndLoopback(r);
    expect(authorizations(r.googleRequests)).toEqual([undefined]);
    expect(r.metadataRequests).toEqual([]);
    expect(r.grants).toEqual([]);
    expect(new Set(r.connectTargets)).toEqual(new Set([`${GOOGLE_STORAGE_HOST}:443`]));
  });
});

describe('GCS server and ambient credentials are lent only to named buckets (spec §4, confused deputy)', () => {
  it('reads a bucket outside STORAGE_ALLOWED_BUCKETS anonymously: no metadata token asked or sent', async () => {
    google.requiredToken = undefined;
    const r = await runChild(baseCase({ ambient: true, allowedBuckets: ['some-other-bucket'] }));
    expectReadAndLoopback(r);
    expect(authorizations(r.googleRequests)).toEqual([undefined]);
    expect(r.metadataRequests).toEqual([]);
    expect(r.grants).toEqual([]);
  });

  it('fails a private bucket outside the list as access denied without granting or sending the STORAGE_GCS_CREDENTIALS_FILE token', async () => {
    custom.requiredToken = issuedByProxy;
    try {
      const r = await runChild(
        baseCase({
          gcs: { endpoint: custom.endpoint, credentialsFile: serviceAccountFile },
          names: {},
          allowedBuckets: ['gs://some-other-bucket'],
          folder: undefined,
        }),
      );
      expect(r.error).toMatchObject({
        code: 'STORAGE_ACCESS_DENIED',
        message: `access denied: gs://igw-data/dir/file.bin`,
        retryable: false,
      });
      expect(r.grants).toEqual([]);
      expect(r.connectTargets).toEqual([]);
      expect(r.customRequests.length).toBeGreaterThan(0);
      expect(authorizations(r.customRequests)).toEqual([undefined]);
      expect(r.refused).toEqual([]);
    } finally {
      custom.requiredToken = undefined;
    }
  });

  it('with an empty list lends the metadata token to the bucket of STORAGE_DEFAULT_URL: relative paths keep working', async () => {
    google.requiredToken = METADATA_TOKEN;
    const r = await runChild(
      baseCase({
        ambient: true,
        allowedBuckets: [],
        defaultUrl: 'gs://igw-data/',
        url: 'dir/file.bin',
        folder: 'dir/',
      }),
    );
    expectReadAndLoopback(r);
    expect(authorizations(r.googleRequests)).toEqual([`Bearer ${METADATA_TOKEN}`]);
  });
});

describe('GCS service-account keys (JWT grant at the hard-coded Google token endpoint)', () => {
  it('exchanges a request service-account JSON for a token (signature, iss and scope checked) and reads with it', async () => {
    google.requiredToken = issuedByProxy;
    const refusedBefore = proxy.refusedGrants.length;
    const r = await runChild(baseCase({ credentials: { secretKey: serviceAccountJson } }));
    expectReadAndLoopback(r);
    expect(proxy.refusedGrants.slice(refusedBefore)).toEqual([]);
    expect(r.grants).toHaveLength(2); // one per source: the file's and the folder's
    expect(r.grants.every((g) => g.clientEmail === SA_EMAIL)).toBe(true);
    expect(r.grants[0]!.scope).toContain('https://www.googleapis.com/auth/devstorage.full_control');
    expect(authorizations(r.googleRequests).every((a) => a !== undefined && issuedByProxy(a.slice(7)))).toBe(true);
    expect(new Set(r.connectTargets)).toEqual(new Set([`${GOOGLE_TOKEN_HOST}:443`, `${GOOGLE_STORAGE_HOST}:443`]));
    expect(r.metadataRequests).toEqual([]);
  });

  it('uses STORAGE_GCS_CREDENTIALS_FILE and sends its token to the custom endpoint that demands it', async () => {
    custom.requiredToken = issuedByProxy;
    try {
      const r = await runChild(
        baseCase({ gcs: { endpoint: custom.endpoint, credentialsFile: serviceAccountFile }, names: {} }),
      );
      expectReadAndLoopback(r);
      expect(r.grants.length).toBeGreaterThan(0);
      expect(authorizations(r.customRequests).every((a) => a !== undefined && issuedByProxy(a.slice(7)))).toBe(true);
      // The token came from Google's endpoint through the proxy; the data went straight to 127.0.0.1.
      expect(new Set(r.connectTargets)).toEqual(new Set([`${GOOGLE_TOKEN_HOST}:443`]));
    } finally {
      custom.requiredToken = undefined;
    }
  });

  it('fails at once with "access denied", never echoing the key, when the token endpoint refuses the grant', async () => {
    const stranger = makeRsaKeyPair();
    const unknown = JSON.stringify({
      ...(JSON.parse(serviceAccountJson) as object),
      private_key: stranger.privateKeyPem,
    });
    google.requiredToken = issuedByProxy;
    const refusedBefore = proxy.refusedGrants.length;
    const r = await runChild(baseCase({ credentials: { secretKey: unknown }, folder: undefined }));
    expect(r.ok).toBe(false);
    expect(r.error).toMatchObject({
      code: 'STORAGE_ACCESS_DENIED',
      message: 'access denied: gs://igw-data/dir/file.bin',
      retryable: false,
    });
    // One grant, refused for its signature; no retry storm against Google's token endpoint.
    expect(proxy.refusedGrants.slice(refusedBefore)).toEqual(['bad signature']);
    expect(r.googleRequests).toEqual([]);
    for (const text of r.error!.renderings) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).not.toContain(stranger.privateKeyPem.split('\n')[1]!);
    }
    expect(r.refused).toEqual([]);
  });
});

describe('GCS over https to a custom endpoint with a private CA', () => {
  const tlsCase = (over: Partial<GcsReadCase> = {}) =>
    baseCase({
      url: `${tlsCustom.endpoint}/igw-data/dir/file.bin`,
      folder: `${tlsCustom.endpoint}/igw-data/dir/`,
      gcs: { endpoint: tlsCustom.endpoint },
      names: {},
      ...over,
    });

  it('reads when the CA is trusted process-wide with NODE_EXTRA_CA_CERTS', async () => {
    const r = await runChild(tlsCase());
    expectReadAndLoopback(r);
    expect(r.connectTargets).toEqual([]);
  });

  it.each([
    ['no CA is trusted', undefined],
    ['only STORAGE_CA_FILE names the CA (the GCS SDK takes no per-client CA)', 'storage-ca-file'],
  ] as const)('fails at once, not retryably, naming NODE_EXTRA_CA_CERTS when %s', async (_, ca) => {
    const before = tlsCustom.connections;
    const r = await runChild(tlsCase({ folder: undefined, ...(ca === undefined ? {} : { caPem: certs.caPem }) }), {
      NODE_EXTRA_CA_CERTS: undefined,
    });
    expect(r.error).toMatchObject({ code: 'STORAGE_ACCESS_DENIED', retryable: false });
    expect(r.error!.message).toBe(
      `TLS certificate rejected: ${tlsCustom.endpoint}/igw-data/dir/file.bin (UNABLE_TO_VERIFY_LEAF_SIGNATURE; ` +
        'set NODE_EXTRA_CA_CERTS for a private CA; STORAGE_CA_FILE does not reach the GCS SDK)',
    );
    expect(tlsCustom.connections - before).toBe(1);
  });
});
