import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  openObjectSource,
  parseObjectLocation,
  StorageErrorCode,
  type ObjectSourceDeps,
  type StorageConfig,
} from '@gw/storage';
import { call, startTestGateway, startTestWorker, uniqueName } from '@gw/testing';
import { installLoopbackTripwire, type LoopbackTripwire } from '../../support/loopback-only';
import { AwsCredentialsTestServer, type AwsTemporaryCredentials } from '../../support/storage/aws-credentials-server';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { bytes, fastDeps, sha256, testStorageConfig, storageFailure } from '../../support/storage/config';
import { DIGEST_SQL, expectedDigestInput, jsonl, range } from '../worker/fixtures';

/**
 * The S3 driver's `ambient` mode is the AWS SDK's default credential chain. Each source of the
 * chain is served on loopback and the S3 test server verifies the SigV4 signature and session
 * token of every request, so "works" means "signed with exactly those keys". The chain reads
 * process.env when it runs, so each case sets a clean AWS environment (no ~/.aws, IMDS disabled
 * unless the case serves it) and restores it after; every source gets a fresh S3 client, so
 * nothing is cached between cases. A tripwire proves nothing left 127.0.0.0/8 — in particular
 * that IMDS was never asked at 169.254.169.254.
 */
const creds = (name: string): AwsTemporaryCredentials => ({
  accessKeyId: `AKIA${name}`,
  secretAccessKey: `${name.toLowerCase()}-secret-${name.length}`,
  sessionToken: `${name.toLowerCase()}-session-token`,
});
const ENV = creds('ENVVARS');
const INI = creds('INIFILE');
const CONTAINER = creds('CONTAINER');
const INSTANCE = { ...creds('INSTANCE'), role: 'igw-test-role' };
/** Keys the chain may find but the store does not know. */
const ROGUE = creds('ROGUE');

const DATA = bytes(64 * 1024, 51);
const s3 = new S3TestServer({ S3RVER: { secretKey: 'S3RVER' } });
const metadata = new AwsCredentialsTestServer(CONTAINER, INSTANCE);
let tripwire: LoopbackTripwire;
let config: StorageConfig;
const ambient: ObjectSourceDeps = { ...fastDeps, ambientCredentials: true };

/**
 * Runs `fn` with only the given AWS variables set: HOME and the config/credentials files point
 * into an empty directory and IMDS is disabled unless a case re-enables it. `undefined` unsets.
 */
async function withAwsEnv<T>(vars: Record<string, string | undefined>, fn: (home: string) => Promise<T>): Promise<T> {
  const saved = { ...process.env };
  const home = mkdtempSync(join(tmpdir(), 'igw-aws-home-'));
  for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) Reflect.deleteProperty(process.env, k);
  const wanted: Record<string, string | undefined> = {
    HOME: home,
    AWS_CONFIG_FILE: join(home, 'config'),
    AWS_SHARED_CREDENTIALS_FILE: join(home, 'credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...vars,
  };
  for (const [k, v] of Object.entries(wanted)) {
    if (v === undefined) Reflect.deleteProperty(process.env, k);
    else process.env[k] = v;
  }
  try {
    return await fn(home);
  } finally {
    for (const k of Object.keys(process.env)) if (!(k in saved)) Reflect.deleteProperty(process.env, k);
    Object.assign(process.env, saved);
  }
}

const envKeys = (c: AwsTemporaryCredentials) => ({
  AWS_ACCESS_KEY_ID: c.accessKeyId,
  AWS_SECRET_ACCESS_KEY: c.secretAccessKey,
  AWS_SESSION_TOKEN: c.sessionToken,
});

/** Reads the private object through the ambient chain; returns what the S3 server saw. */
async function readPrivate(deps: ObjectSourceDeps = ambient, cfg = config) {
  const before = s3.requests.length;
  const loc = parseObjectLocation('s3://private/obj.bin', cfg);
  const src = openObjectSource(loc, undefined, cfg, deps);
  try {
    const s = await src.stat(loc.key);
    const part = await src.readRange(loc.key, 100, 30_000);
    return { size: s.size, sha: sha256(part), seen: s3.requests.slice(before) };
  } finally {
    src.close();
  }
}

/** Every form an error can take on its way to a log line or a job row. */
const renderings = (e: unknown) => [String(e), JSON.stringify(e), inspect(e, { depth: 20, showHidden: true })];

const metadataRequests = () => metadata.requests.length;

beforeAll(async () => {
  tripwire = installLoopbackTripwire();
  for (const c of [ENV, INI, CONTAINER, INSTANCE]) {
    s3.addCredential(c.accessKeyId, { secretKey: c.secretAccessKey, sessionToken: c.sessionToken });
  }
  await s3.start();
  await metadata.start();
  s3.createBucket('private');
  s3.putDirect('private', 'obj.bin', DATA);
  s3.createBucket('public', { public: true });
  s3.putDirect('public', 'obj.bin', DATA);
  // The ambient identity is lent only to the buckets named here (spec §4).
  config = testStorageConfig({
    s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
    allowedBuckets: ['private', 'public'],
  });
});

afterAll(async () => {
  await s3.stop();
  await metadata.stop();
  tripwire.uninstall();
});

describe('S3 ambient credentials (AWS SDK default chain), every source served on loopback', () => {
  const expectSignedWith = (seen: typeof s3.requests, c: AwsTemporaryCredentials) => {
    expect(seen.length).toBeGreaterThanOrEqual(2);
    for (const r of seen) expect(r).toMatchObject({ accessKey: c.accessKeyId, sessionToken: c.sessionToken });
  };

  it('(a) signs with AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN', async () => {
    const before = metadataRequests();
    const r = await withAwsEnv(envKeys(ENV), () => readPrivate());
    expect(r.size).toBe(DATA.length);
    expect(r.sha).toBe(sha256(DATA.subarray(100, 30_000)));
    expectSignedWith(r.seen, ENV);
    expect(metadataRequests()).toBe(before);
  });

  it('(b) signs with the AWS_PROFILE profile of the AWS_SHARED_CREDENTIALS_FILE file', async () => {
    const before = metadataRequests();
    const r = await withAwsEnv({ AWS_PROFILE: 'igw-import' }, (home) => {
      writeFileSync(
        join(home, 'credentials'),
        `[default]\naws_access_key_id = ${ROGUE.accessKeyId}\naws_secret_access_key = ${ROGUE.secretAccessKey}\n\n` +
          `[igw-import]\naws_access_key_id = ${INI.accessKeyId}\naws_secret_access_key = ${INI.secretAccessKey}\n` +
          `aws_session_token = ${INI.sessionToken}\n`,
      );
      return readPrivate();
    });
    expect(r.size).toBe(DATA.length);
    expectSignedWith(r.seen, INI);
    expect(metadataRequests()).toBe(before);
  });

  it('(c) signs with container credentials from AWS_CONTAINER_CREDENTIALS_FULL_URI, sending its authorization token', async () => {
    metadata.containerAuthorization = 'container-auth-token';
    const before = metadata.requests.length;
    try {
      const r = await withAwsEnv(
        {
          AWS_CONTAINER_CREDENTIALS_FULL_URI: metadata.containerUri,
          AWS_CONTAINER_AUTHORIZATION_TOKEN: 'container-auth-token',
        },
        () => readPrivate(),
      );
      expectSignedWith(r.seen, CONTAINER);
      const asked = metadata.requests.slice(before);
      expect(asked.map((q) => `${q.method} ${q.path}`)).toEqual(['GET /creds']);
      expect(asked[0]!.headers.authorization).toBe('container-auth-token');
    } finally {
      delete metadata.containerAuthorization;
    }
  });

  it('(d) signs with EC2 instance-role credentials from IMDSv2 at AWS_EC2_METADATA_SERVICE_ENDPOINT', async () => {
    const before = metadata.requests.length;
    const r = await withAwsEnv(
      { AWS_EC2_METADATA_DISABLED: undefined, AWS_EC2_METADATA_SERVICE_ENDPOINT: metadata.origin },
      () => readPrivate(),
    );
    expectSignedWith(r.seen, INSTANCE);
    const asked = metadata.requests.slice(before);
    expect(asked.map((q) => `${q.method} ${q.path}`)).toEqual([
      'PUT /latest/api/token',
      'GET /latest/meta-data/iam/security-credentials/',
      `GET /latest/meta-data/iam/security-credentials/${INSTANCE.role}`,
    ]);
    // IMDSv2: both reads carry the session token the PUT handed out.
    for (const q of asked.slice(1)) expect(q.headers['x-aws-ec2-metadata-token']).toMatch(/^[0-9a-f]{32}$/);
  });

  it('consults no source at all when ambient credentials are off (STORAGE_AMBIENT_CREDENTIALS=false): unsigned requests', async () => {
    const before = metadata.requests.length;
    const everySource = {
      ...envKeys(ENV),
      AWS_CONTAINER_CREDENTIALS_FULL_URI: metadata.containerUri,
      AWS_EC2_METADATA_DISABLED: undefined,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: metadata.origin,
    };
    const off: ObjectSourceDeps = { ...fastDeps, ambientCredentials: false };
    const err = await withAwsEnv(everySource, () => storageFailure(readPrivate(off)));
    expect(err.message).toBe('access denied: s3://private/obj.bin');
    const pub = await withAwsEnv(everySource, async () => {
      const n = s3.requests.length;
      const loc = parseObjectLocation('s3://public/obj.bin', config);
      const src = openObjectSource(loc, undefined, config, off);
      try {
        return { size: (await src.stat(loc.key)).size, seen: s3.requests.slice(n) };
      } finally {
        src.close();
      }
    });
    expect(pub.size).toBe(DATA.length);
    expect(pub.seen.every((q) => !q.signed && q.sessionToken === undefined)).toBe(true);
    expect(metadata.requests.length).toBe(before);
  });

  it('does not consult the chain when the server has keys of its own (STORAGE_S3_ACCESS_KEY)', async () => {
    const before = metadata.requests.length;
    const cfg = testStorageConfig({
      s3: {
        endpoint: s3.endpoint,
        forcePathStyle: true,
        region: 'us-east-1',
        accessKey: 'S3RVER',
        secretKey: 'S3RVER',
      },
      allowedBuckets: ['private'],
    });
    const r = await withAwsEnv({ ...envKeys(ROGUE), AWS_CONTAINER_CREDENTIALS_FULL_URI: metadata.containerUri }, () =>
      readPrivate(ambient, cfg),
    );
    for (const q of r.seen) expect(q).toMatchObject({ accessKey: 'S3RVER', signed: true });
    expect(metadata.requests.length).toBe(before);
  });

  it('falls back to anonymous when every source of the chain fails (an instance without a role)', async () => {
    const before = metadata.requests.length;
    metadata.instanceRole = false;
    try {
      const seen = await withAwsEnv(
        { AWS_EC2_METADATA_DISABLED: undefined, AWS_EC2_METADATA_SERVICE_ENDPOINT: metadata.origin },
        async () => {
          const n = s3.requests.length;
          const loc = parseObjectLocation('s3://public/obj.bin', config);
          const src = openObjectSource(loc, undefined, config, ambient);
          try {
            expect((await src.stat(loc.key)).size).toBe(DATA.length);
          } finally {
            src.close();
          }
          return s3.requests.slice(n);
        },
      );
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((q) => !q.signed)).toBe(true);
      // The chain did run (and failed) before the unsigned request.
      expect(metadata.requests.slice(before).map((q) => q.path)).toContain(
        '/latest/meta-data/iam/security-credentials/',
      );
    } finally {
      metadata.instanceRole = true;
    }
  });

  it('consults no source of the chain for a bucket outside STORAGE_ALLOWED_BUCKETS: unsigned, a private one denied', async () => {
    const before = metadata.requests.length;
    const unlisted = testStorageConfig({
      s3: { endpoint: s3.endpoint, forcePathStyle: true, region: 'us-east-1' },
      allowedBuckets: ['imports-*'],
    });
    const everySource = {
      ...envKeys(ENV),
      AWS_CONTAINER_CREDENTIALS_FULL_URI: metadata.containerUri,
      AWS_EC2_METADATA_DISABLED: undefined,
      AWS_EC2_METADATA_SERVICE_ENDPOINT: metadata.origin,
    };
    const n = s3.requests.length;
    const err = await withAwsEnv(everySource, () => storageFailure(readPrivate(ambient, unlisted)));
    expect(err.message).toBe('access denied: s3://private/obj.bin');
    const pub = await withAwsEnv(everySource, async () => {
      const loc = parseObjectLocation('s3://public/obj.bin', unlisted);
      const src = openObjectSource(loc, undefined, unlisted, ambient);
      try {
        return (await src.stat(loc.key)).size;
      } finally {
        src.close();
      }
    });
    expect(pub).toBe(DATA.length);
    const seen = s3.requests.slice(n);
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.every((q) => !q.signed && q.accessKey === undefined && q.sessionToken === undefined)).toBe(true);
    expect(metadata.requests.length).toBe(before);
  });

  it('never puts ambient keys into the error of a refused read', async () => {
    const err = await withAwsEnv(envKeys(ROGUE), () => storageFailure(readPrivate()));
    expect(err.code).toBe(StorageErrorCode.AccessDenied);
    expect(err.message).toBe('access denied: s3://private/obj.bin');
    for (const text of renderings(err)) {
      for (const secret of [ROGUE.accessKeyId, ROGUE.secretAccessKey, ROGUE.sessionToken]) {
        expect(text).not.toContain(secret);
      }
    }
  });
});

describe('a worker with STORAGE_AMBIENT_CREDENTIALS=true', () => {
  it('imports with keys from the environment, and no log line or reason holds them when the store refuses them', async () => {
    const body = jsonl(range(1, 120));
    s3.putDirect('private', 'rows.jsonl', body);
    const gw = await startTestGateway({
      STORAGE_S3_ENDPOINT: s3.endpoint,
      STORAGE_S3_FORCE_PATH_STYLE: 'true',
      STORAGE_S3_REGION: 'us-east-1',
      STORAGE_AMBIENT_CREDENTIALS: 'true',
      STORAGE_ALLOWED_BUCKETS: 'private',
      WORKER_RECONCILE_INTERVAL_MS: '500',
    });
    const worker = await startTestWorker(gw.config);
    try {
      const key = await gw.apiKey(['admin']);
      const run = async () => {
        const collection = uniqueName('amb');
        await call(gw, 'POST', '/v2/vectordb/collections/create', {
          key,
          body: { collectionName: collection, dimension: 4 },
        });
        const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
          key,
          body: { collectionName: collection, objectUrl: 's3://private/rows.jsonl' },
        });
        const jobId = (r.body.data as { jobId: string }).jobId;
        await expect
          .poll(
            async () => {
              const d = await call(gw, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId } });
              return (d.body.data as { gatewayState: string }).gatewayState;
            },
            { timeout: 20_000, interval: 100 },
          )
          .toMatch(/^(Completed|Failed)$/);
        const row = await gw.db.query(`SELECT state, reason FROM import_jobs WHERE job_id = $1`, [jobId]);
        return { ...(row.rows[0] as { state: string; reason: string }), collection };
      };
      const ok = await withAwsEnv(envKeys(ENV), run);
      expect(`${ok.state} ${ok.reason}`).toBe('Completed ');
      const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${ok.collection}"`));
      expect(d.rows[0]).toEqual({ n: 120, text: expectedDigestInput(range(1, 120)) });

      const refused = await withAwsEnv(envKeys(ROGUE), run);
      expect(`${refused.state} ${refused.reason}`).toBe('Failed access denied: s3://private/rows.jsonl');
      const logs = gw.logs() + worker.logs();
      expect(logs).toContain('access denied: s3://private/rows.jsonl');
      for (const c of [ENV, ROGUE]) {
        for (const secret of [c.secretAccessKey, c.sessionToken]) expect(logs).not.toContain(secret);
      }
    } finally {
      await worker.close();
      await gw.close();
    }
  });

  it('stayed on loopback throughout this file', () => {
    expect(tripwire.refused).toEqual([]);
    expect(tripwire.connections.every((c) => c.address === '127.0.0.1')).toBe(true);
  });
});
