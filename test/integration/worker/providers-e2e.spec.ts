import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { BlobServiceClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, startTestWorker, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../../support/storage/azurite';
import { GcsTestServer } from '../../support/storage/gcs-test-server';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { csv, DIGEST_SQL, expectedDigestInput, json, jsonl, numpy, parquet, range } from './fixtures';

/** Every format from every storage emulator, through the official SDKs where they upload. */
const FORMATS = ['jsonl', 'json', 'csv', 'parquet', 'numpy'] as const;
type Format = (typeof FORMATS)[number];
const PROVIDERS = ['s3', 'azure', 'gcs', 'https'] as const;
type Provider = (typeof PROVIDERS)[number];

let s3: S3TestServer;
let gcs: GcsTestServer;
let web: HttpTestServer;
let azurite: { endpoint: string; stop: () => Promise<void> };
let s3Client: S3Client;
let blobs: BlobServiceClient;
let gw: TestGateway;
let worker: TestWorker;
let key: string;

beforeAll(async () => {
  s3 = new S3TestServer();
  await s3.start();
  s3.createBucket('data');
  gcs = new GcsTestServer();
  await gcs.start();
  web = new HttpTestServer();
  await web.start();
  azurite = await startAzurite();
  s3Client = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
  });
  blobs = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY));
  await blobs.getContainerClient('data').createIfNotExists();
  gw = await startTestGateway({
    STORAGE_S3_ENDPOINT: s3.endpoint,
    STORAGE_S3_FORCE_PATH_STYLE: 'true',
    STORAGE_S3_REGION: 'us-east-1',
    STORAGE_GCS_ENDPOINT: gcs.endpoint,
    STORAGE_AZURE_ENDPOINT: azurite.endpoint,
    WORKER_CONCURRENCY: '4',
    WORKER_RECONCILE_INTERVAL_MS: '1000',
  });
  worker = await startTestWorker(gw.config);
  key = await gw.apiKey(['admin']);
}, 60_000);
afterAll(async () => {
  await worker?.close();
  await gw?.close();
  await Promise.all([s3?.stop(), gcs?.stop(), web?.stop(), azurite?.stop()]);
  s3Client?.destroy();
});

async function files(format: Format, ids: number[]): Promise<Record<string, Buffer>> {
  switch (format) {
    case 'jsonl':
      return { 'rows.jsonl': jsonl(ids) };
    case 'json':
      return { 'rows.json': json(ids) };
    case 'csv':
      return { 'rows.csv': csv(ids) };
    case 'parquet':
      return { 'rows.parquet': await parquet(ids) };
    case 'numpy': {
      const n = numpy(ids);
      return { 'id.npy': n.id, 'vector.npy': n.vector };
    }
  }
}

/** Uploads and returns the request fields (objectUrls + credentials) for the provider. */
async function upload(
  provider: Provider,
  dir: string,
  content: Record<string, Buffer>,
): Promise<Record<string, unknown>> {
  const names = Object.keys(content);
  const urls: string[] = [];
  for (const [name, body] of Object.entries(content)) {
    const path = `${dir}/${name}`;
    switch (provider) {
      case 's3':
        await s3Client.send(new PutObjectCommand({ Bucket: 'data', Key: path, Body: body }));
        urls.push(`s3://data/${path}`);
        break;
      case 'azure':
        await blobs.getContainerClient('data').getBlockBlobClient(path).uploadData(body);
        urls.push(`${azurite.endpoint}/data/${path}`);
        break;
      case 'gcs':
        gcs.put('data', path, body);
        urls.push(`gs://data/${path}`);
        break;
      case 'https':
        web.put(`/${path}`, body);
        urls.push(web.url(`/${path}`));
        break;
    }
  }
  const creds: Record<Provider, Record<string, string>> = {
    s3: { accessKey: 'S3RVER', secretKey: 'S3RVER' },
    azure: { accessKey: AZURITE_ACCOUNT, secretKey: AZURITE_KEY },
    gcs: {},
    https: {},
  };
  expect(names.length).toBe(urls.length);
  return { objectUrls: [urls], ...creds[provider] };
}

describe('every format from every storage emulator', () => {
  it('imports 20 jobs (5 formats × 4 providers) with exact row counts and value digests', async () => {
    const cases: { provider: Provider; format: Format; collection: string; jobId: string; ids: number[] }[] = [];
    let from = 1;
    for (const provider of PROVIDERS) {
      for (const format of FORMATS) {
        const collection = uniqueName(`${provider}_${format}`);
        const created = await call(gw, 'POST', '/v2/vectordb/collections/create', {
          key,
          body: { collectionName: collection, dimension: 4 },
        });
        expect(created.body.code).toBe(0);
        const ids = range(from, 250);
        from += 250;
        const fields = await upload(provider, collection, await files(format, ids));
        const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
          key,
          body: { collectionName: collection, ...fields },
        });
        expect(r.body.code, `${provider}/${format}: ${r.text}`).toBe(0);
        cases.push({ provider, format, collection, jobId: (r.body.data as { jobId: string }).jobId, ids });
      }
    }
    for (const c of cases) {
      await expect
        .poll(
          async () => {
            const d = await call(gw, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId: c.jobId } });
            const data = d.body.data as { gatewayState: string; reason: string };
            return data.gatewayState === 'Importing' || data.gatewayState === 'Pending'
              ? 'running'
              : `${data.gatewayState} ${data.reason}`;
          },
          { timeout: 60_000, interval: 200 },
        )
        .toBe('Completed ');
      const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${c.collection}"`));
      expect(d.rows[0], `${c.provider}/${c.format}`).toEqual({ n: 250, text: expectedDigestInput(c.ids) });
    }
    // Request credentials went through sealed storage and the worker: none of it shows in logs,
    // and every terminal job's sealed credentials are erased.
    for (const text of [worker.logs(), gw.logs()]) expect(text).not.toContain(AZURITE_KEY.slice(0, 40));
    const left = await gw.db.query(`SELECT count(*)::int AS n FROM import_job_credentials`);
    expect(left.rows[0].n).toBe(0);
  }, 180_000);
});
