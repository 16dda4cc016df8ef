import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BlobServiceClient, type ContainerClient, StorageSharedKeyCredential } from '@azure/storage-blob';
import { VolumeManager } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, startTestWorker, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import { AZURITE_ACCOUNT, AZURITE_KEY, startAzurite } from '../../support/storage/azurite';
import { GcsTestServer } from '../../support/storage/gcs-test-server';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { DIGEST_SQL, expectedDigestInput, jsonl, parquet, range } from '../worker/fixtures';

let dir: string;
let outside: string;
let gw: TestGateway;
let worker: TestWorker;
let key: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'igw-volumes-'));
  outside = mkdtempSync(join(tmpdir(), 'igw-outside-'));
  writeFileSync(join(outside, 'secret.jsonl'), jsonl([1]));
  gw = await startTestGateway({ VOLUMES_DIR: dir, VOLUMES_MAX_FILE_BYTES: String(4 << 20) });
  worker = await startTestWorker(gw.config);
  key = await gw.apiKey(['admin']);
}, 60_000);
afterAll(async () => {
  await worker?.close();
  await gw?.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

async function put(
  g: Pick<TestGateway, 'url'>,
  k: string,
  volume: string,
  rawPath: string,
  body: Buffer,
): Promise<{ status: number; body: { code: number; message?: string; data?: Record<string, unknown> } }> {
  const res = await fetch(`${g.url}/v2/volumes/${volume}/files/${rawPath}`, {
    method: 'PUT',
    headers: { Authorization: `Bearer ${k}` },
    body,
  });
  return { status: res.status, body: (await res.json()) as { code: number; message?: string } };
}

/** A PUT whose path reaches the server exactly as written (fetch would resolve `..` and `%2E%2E` first). */
async function putRaw(k: string, volume: string, rawPath: string, body: Buffer): Promise<{ code: number }> {
  const { request } = await import('node:http');
  const u = new URL(gw.url);
  return new Promise((ok, fail) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: `/v2/volumes/${volume}/files/${rawPath}`,
        method: 'PUT',
        headers: { Authorization: `Bearer ${k}`, 'Content-Length': body.length },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => ok(JSON.parse(text) as { code: number }));
      },
    );
    req.on('error', fail);
    req.end(body);
  });
}

async function createVolume(g: TestGateway, k: string): Promise<string> {
  const name = uniqueName('vol');
  const r = await call(g, 'POST', '/v2/volumes/create', { key: k, body: { volumeName: name } });
  expect(r.body).toEqual({ code: 0, data: { volumeName: name } });
  return name;
}

async function waitForJob(g: TestGateway, k: string, jobId: string): Promise<string> {
  let out = '';
  await expect
    .poll(
      async () => {
        const d = await call(g, 'POST', '/v2/vectordb/jobs/import/describe', { key: k, body: { jobId } });
        const data = d.body.data as { gatewayState: string; reason: string };
        out = `${data.gatewayState} ${data.reason}`;
        return data.gatewayState === 'Importing' || data.gatewayState === 'Pending' ? 'running' : 'done';
      },
      { timeout: 60_000, interval: 200 },
    )
    .toBe('done');
  return out;
}

async function newCollection(g: TestGateway, k: string): Promise<string> {
  const collection = uniqueName('vc');
  const c = await call(g, 'POST', '/v2/vectordb/collections/create', {
    key: k,
    body: { collectionName: collection, dimension: 4 },
  });
  expect(c.body.code).toBe(0);
  return collection;
}

describe('volumes through the official Node SDK VolumeManager', () => {
  it('creates, lists, describes, applies for an upload and deletes a volume', async () => {
    const vm = new VolumeManager({ cloudEndpoint: gw.url, apiKey: key });
    const name = uniqueName('sdkvol');
    const created = (await vm.createVolume({ projectId: 'p1', regionId: 'local', volumeName: name })) as {
      code: number;
    };
    expect(created).toEqual({ code: 0, data: { volumeName: name } });
    const listed = (await vm.listVolumes({ projectId: 'p1', currentPage: 1, pageSize: 100 })) as {
      code: number;
      data: { count: number; currentPage: number; pageSize: number; volumes: { volumeName: string }[] };
    };
    expect(listed.code).toBe(0);
    expect(listed.data).toMatchObject({ currentPage: 1, pageSize: 100 });
    expect(listed.data.volumes.map((v) => v.volumeName)).toContain(name);
    const described = (await vm.describeVolume({ volumeName: name })) as { code: number; data: unknown };
    expect(described.data).toMatchObject({ volumeName: name, type: 'MANAGED', fileCount: 0, totalBytes: 0 });
    const applied = (await vm.applyVolume({ volumeName: name, path: 'data/' })) as unknown as {
      data: { uploadUrl: string; uploadMethod: string };
    };
    expect(applied.data.uploadMethod).toBe('PUT');
    expect(applied.data.uploadUrl).toBe(`${gw.url}/v2/volumes/${name}/files/data/`);
    expect(JSON.stringify(applied)).not.toMatch(/secret|accessKey|credentials/i);
    expect(await vm.deleteVolume({ volumeName: name })).toEqual({ code: 0, data: { volumeName: name } });
    expect(await vm.describeVolume({ volumeName: name })).toEqual({ code: 1100, message: `volume not found: ${name}` });
  });
});

describe('uploading into a local volume and importing by volumeName + dataPaths', () => {
  it('imports a DuckDB Parquet file and a JSONL file uploaded through the API, and a folder of them', async () => {
    const volume = await createVolume(gw, key);
    const pq = await parquet(range(1, 300));
    const up = await put(gw, key, volume, 'batch1/rows.parquet', pq);
    expect(up.status).toBe(200);
    expect(up.body.data).toMatchObject({ path: 'batch1/rows.parquet', size: pq.length });
    expect(up.body.data?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect((await put(gw, key, volume, 'batch1/more.jsonl', jsonl(range(301, 200)))).body.code).toBe(0);
    const listed = await call(gw, 'GET', `/v2/volumes/${volume}/files?prefix=batch1/`, { key });
    expect((listed.body.data as { files: { path: string }[] }).files.map((f) => f.path)).toEqual([
      'batch1/more.jsonl',
      'batch1/rows.parquet',
    ]);

    const collection = await newCollection(gw, key);
    const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
      key,
      body: {
        collectionName: collection,
        volumeName: volume,
        dataPaths: [['batch1/rows.parquet'], ['batch1/more.jsonl']],
      },
    });
    expect(r.body.code, r.text).toBe(0);
    expect(await waitForJob(gw, key, (r.body.data as { jobId: string }).jobId)).toBe('Completed ');
    const d = await gw.db.query(DIGEST_SQL(`"milvus_default"."${collection}"`));
    expect(d.rows[0]).toEqual({ n: 500, text: expectedDigestInput(range(1, 500)) });

    const folderTarget = await newCollection(gw, key);
    const f = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
      key,
      body: { collectionName: folderTarget, volumeName: volume, dataPaths: [['batch1/']] },
    });
    expect(f.body.code, f.text).toBe(0);
    expect(await waitForJob(gw, key, (f.body.data as { jobId: string }).jobId)).toBe('Completed ');
    const fd = await gw.db.query(DIGEST_SQL(`"milvus_default"."${folderTarget}"`));
    expect(fd.rows[0]).toEqual({ n: 500, text: expectedDigestInput(range(1, 500)) });
  }, 120_000);

  it('refuses create requests that pair volume fields wrongly, name an unknown volume or leave it', async () => {
    const volume = await createVolume(gw, key);
    const collection = await newCollection(gw, key);
    const create = (body: Record<string, unknown>) =>
      call(gw, 'POST', '/v2/vectordb/jobs/import/create', { key, body: { collectionName: collection, ...body } });
    expect((await create({ volumeName: volume })).body).toEqual({
      code: 1100,
      message: 'invalid parameter: volumeName needs dataPaths (the paths inside the volume)',
    });
    expect((await create({ dataPaths: [['a.json']] })).body).toEqual({
      code: 1100,
      message: 'invalid parameter: dataPaths needs volumeName (the volume they are in)',
    });
    expect((await create({ volumeName: 'no_such_volume', dataPaths: [['a.json']] })).body).toEqual({
      code: 1100,
      message: 'volume not found: no_such_volume',
    });
    for (const hostile of ['../a.json', '/etc/passwd.json', 'a/../../b.json', 'a\\..\\b.json', '.hidden.json']) {
      const r = await create({ volumeName: volume, dataPaths: [[hostile]] });
      expect(r.body.code, hostile).toBe(1100);
      expect(r.body.message, hostile).toContain(`dataPaths[0][0] ${JSON.stringify(hostile)}`);
    }
    expect((await create({ volumeName: volume, dataPaths: [['a.json']], files: [['b.json']] })).body.code).toBe(1100);
  });
});

describe('volume safety', () => {
  it('refuses hostile upload paths and writes nothing outside the volume', async () => {
    const volume = await createVolume(gw, key);
    const body = jsonl([1]);
    for (const raw of [
      '../../escape.jsonl',
      'a/../../../escape.jsonl',
      './escape.jsonl',
      '..%2F..%2Fescape.jsonl',
      '%2E%2E/escape.jsonl',
      'a/%2e%2e/%2e%2e/escape.jsonl',
      '.hidden',
      'a%5Cb.jsonl',
      'a%00b.jsonl',
      '/abs.jsonl',
    ]) {
      expect((await putRaw(key, volume, raw, body)).code, raw).toBe(1100);
    }
    expect(existsSync(join(dir, 'escape.jsonl'))).toBe(false);
    expect(readdirSync(join(dir, volume))).toEqual([]);
  });

  it('follows no symlink out of the volume, for uploads, listing or imports', async () => {
    const volume = await createVolume(gw, key);
    symlinkSync(outside, join(dir, volume, 'linkdir'));
    symlinkSync(join(outside, 'secret.jsonl'), join(dir, volume, 'secret.jsonl'));
    mkdirSync(join(dir, volume, 'data'));
    symlinkSync(join(outside, 'secret.jsonl'), join(dir, volume, 'data', 'secret.jsonl'));

    const up = await put(gw, key, volume, 'linkdir/planted.jsonl', jsonl([2]));
    expect(up.body).toEqual({
      code: 1100,
      message: 'invalid parameter: path "linkdir/planted.jsonl" leaves the volume',
    });
    expect(readdirSync(outside)).toEqual(['secret.jsonl']);
    const listed = await call(gw, 'GET', `/v2/volumes/${volume}/files`, { key });
    expect(listed.body).toEqual({ code: 0, data: { files: [] } });

    const collection = await newCollection(gw, key);
    const file = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
      key,
      body: { collectionName: collection, volumeName: volume, dataPaths: [['secret.jsonl']] },
    });
    expect(await waitForJob(gw, key, (file.body.data as { jobId: string }).jobId)).toBe(
      `Failed access denied: volume://${volume}/secret.jsonl`,
    );
    const folder = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
      key,
      body: { collectionName: collection, volumeName: volume, dataPaths: [['linkdir/']] },
    });
    expect(await waitForJob(gw, key, (folder.body.data as { jobId: string }).jobId)).toBe(
      `Failed access denied: volume://${volume}/linkdir/`,
    );
  }, 60_000);

  it('refuses an upload beyond VOLUMES_MAX_FILE_BYTES with 413 / 1102 and leaves no partial file', async () => {
    const volume = await createVolume(gw, key);
    // Streamed without a length, so the limit is found while writing, not from the header.
    const big = Buffer.alloc((4 << 20) + 1, 0x61);
    const res = await fetch(`${gw.url}/v2/volumes/${volume}/files/big.jsonl`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${key}` },
      body: new ReadableStream({
        start(c) {
          for (let i = 0; i < big.length; i += 1 << 20) c.enqueue(big.subarray(i, i + (1 << 20)));
          c.close();
        },
      }),
      duplex: 'half',
    });
    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({
      code: 1102,
      message: `file too large: at most ${4 << 20} bytes (VOLUMES_MAX_FILE_BYTES)`,
    });
    expect(readdirSync(join(dir, volume))).toEqual([]);
  });

  it('refuses to delete a volume an active job reads, and deletes it once none does', async () => {
    // A gateway of its own database: no worker runs its jobs, so the job stays Pending.
    const idle = await startTestGateway({ VOLUMES_DIR: dir });
    try {
      const k = await idle.apiKey(['admin']);
      const volume = await createVolume(idle, k);
      expect((await put(idle, k, volume, 'rows.jsonl', jsonl([1, 2]))).body.code).toBe(0);
      const collection = await newCollection(idle, k);
      const job = await call(idle, 'POST', '/v2/vectordb/jobs/import/create', {
        key: k,
        body: { collectionName: collection, volumeName: volume, dataPaths: [['rows.jsonl']] },
      });
      expect(job.body.code).toBe(0);
      const refused = await call(idle, 'DELETE', `/v2/volumes/${volume}`, { key: k });
      expect(refused.body).toEqual({
        code: 2100,
        message: `volume ${volume} is read by an active import job; try again later`,
      });
      expect(existsSync(join(dir, volume, 'rows.jsonl'))).toBe(true);
      const jobId = (job.body.data as { jobId: string }).jobId;
      expect((await call(idle, 'POST', '/v2/vectordb/jobs/import/cancel', { key: k, body: { jobId } })).body.code).toBe(
        0,
      );
      expect((await call(idle, 'DELETE', `/v2/volumes/${volume}`, { key: k })).body.code).toBe(0);
      expect(existsSync(join(dir, volume))).toBe(false);
    } finally {
      await idle.close();
    }
  }, 60_000);

  it('gives volume routes only to unrestricted keys with a volumes scope', async () => {
    const volume = await createVolume(gw, key);
    const reader = await gw.apiKey(['volumes:read']);
    expect((await call(gw, 'GET', `/v2/volumes/${volume}`, { key: reader })).body.code).toBe(0);
    expect((await put(gw, reader, volume, 'a.jsonl', jsonl([1]))).status).toBe(403);
    const limited = await gw.apiKey(['admin'], { databases: ['default'] });
    expect((await call(gw, 'GET', `/v2/volumes/${volume}`, { key: limited })).status).toBe(403);
    const importer = await gw.apiKey(['import:write']);
    const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
      key: importer,
      body: { collectionName: 'x', volumeName: volume, dataPaths: [['a.jsonl']] },
    });
    expect(r.status).toBe(403);
  });
});

describe('a volume in an S3 bucket (VOLUMES_URL)', () => {
  let s3: S3TestServer;
  let g: TestGateway;
  let w: TestWorker;
  let k: string;
  beforeAll(async () => {
    s3 = new S3TestServer();
    await s3.start();
    s3.createBucket('vols');
    g = await startTestGateway({
      VOLUMES_URL: 's3://vols/gateway/',
      ...s3.gatewayEnv(),
      VOLUMES_PRESIGN_TTL_SECONDS: '300',
    });
    w = await startTestWorker(g.config);
    k = await g.apiKey(['admin']);
  }, 60_000);
  afterAll(async () => {
    await w?.close();
    await g?.close();
    await s3?.stop();
  });

  it('uploads through multipart parts, lists, imports and deletes with the server credentials', async () => {
    const volume = await createVolume(g, k);
    const big = Buffer.alloc(9 << 20, 0x62);
    const up = await put(g, k, volume, 'blobs/big.bin', big);
    expect(up.body.data).toMatchObject({ size: big.length });
    expect(s3.multipartLog).toContainEqual({ key: `gateway/${volume}/blobs/big.bin`, parts: 2, outcome: 'completed' });
    expect(s3.object('vols', `gateway/${volume}/blobs/big.bin`)?.equals(big)).toBe(true);
    expect((await put(g, k, volume, 'data/rows.parquet', await parquet(range(1, 100)))).body.code).toBe(0);
    const listed = await call(g, 'GET', `/v2/volumes/${volume}/files?pageSize=1`, { key: k });
    const page = listed.body.data as { files: { path: string }[]; nextPageToken: string };
    expect(page.files.map((f) => f.path)).toEqual(['blobs/big.bin']);
    const next = await call(g, 'GET', `/v2/volumes/${volume}/files?pageSize=1&pageToken=${page.nextPageToken}`, {
      key: k,
    });
    expect(next.body).toMatchObject({ code: 0, data: { files: [{ path: 'data/rows.parquet' }] } });

    const collection = await newCollection(g, k);
    const r = await call(g, 'POST', '/v2/vectordb/jobs/import/create', {
      key: k,
      body: { collectionName: collection, volumeName: volume, dataPaths: [['data/']] },
    });
    expect(r.body.code, r.text).toBe(0);
    expect(await waitForJob(g, k, (r.body.data as { jobId: string }).jobId)).toBe('Completed ');
    const d = await g.db.query(DIGEST_SQL(`"milvus_default"."${collection}"`));
    expect(d.rows[0]).toEqual({ n: 100, text: expectedDigestInput(range(1, 100)) });

    // Failures name the volume path, not the gateway's bucket and prefix.
    const missing = await call(g, 'POST', '/v2/vectordb/jobs/import/create', {
      key: k,
      body: { collectionName: collection, volumeName: volume, dataPaths: [['data/nope.jsonl']] },
    });
    expect(await waitForJob(g, k, (missing.body.data as { jobId: string }).jobId)).toBe(
      `Failed object not found: volume://${volume}/data/nope.jsonl`,
    );

    // apply: the gateway's route, and a presigned PUT straight into the bucket (no secret in it).
    const applied = await call(g, 'POST', '/v2/volumes/apply', {
      key: k,
      body: { volumeName: volume, path: 'direct/a b.jsonl' },
    });
    const data = applied.body.data as { uploadUrl: string; presignedUrl: string; presignedExpireTime: string };
    expect(data.uploadUrl).toBe(`${g.url}/v2/volumes/${volume}/files/direct/a%20b.jsonl`);
    expect(data.presignedUrl).toMatch(
      new RegExp(`^${s3.endpoint}/vols/gateway/${volume}/direct/a%20b\\.jsonl\\?X-Amz-`),
    );
    expect(applied.text).not.toContain('S3RVER"'); // the access key id is in the signature scope; the secret nowhere
    const direct = await fetch(data.presignedUrl, { method: 'PUT', body: jsonl([7]) });
    expect(direct.status).toBe(200);
    expect(s3.object('vols', `gateway/${volume}/direct/a b.jsonl`)?.equals(jsonl([7]))).toBe(true);
    const folderApply = await call(g, 'POST', '/v2/volumes/apply', {
      key: k,
      body: { volumeName: volume, path: 'direct/' },
    });
    expect(folderApply.body.data).not.toHaveProperty('presignedUrl');

    expect((await call(g, 'DELETE', `/v2/volumes/${volume}/files/blobs/big.bin`, { key: k })).body.code).toBe(0);
    expect((await call(g, 'DELETE', `/v2/volumes/${volume}`, { key: k })).body.code).toBe(0);
    expect(s3.keys('vols').filter((x) => x.startsWith(`gateway/${volume}/`))).toEqual([]);
  }, 120_000);
});

describe('a volume in an Azure container (VOLUMES_URL, azurite)', () => {
  let azurite: { endpoint: string; stop: () => Promise<void> };
  let g: TestGateway;
  let w: TestWorker;
  let k: string;
  let container: ContainerClient;
  beforeAll(async () => {
    azurite = await startAzurite();
    container = new BlobServiceClient(
      azurite.endpoint,
      new StorageSharedKeyCredential(AZURITE_ACCOUNT, AZURITE_KEY),
    ).getContainerClient('vols');
    await container.createIfNotExists();
    g = await startTestGateway({
      VOLUMES_URL: `${azurite.endpoint}/vols/gateway/`,
      STORAGE_AZURE_ENDPOINT: azurite.endpoint,
      STORAGE_AZURE_ACCOUNT: AZURITE_ACCOUNT,
      STORAGE_AZURE_KEY: AZURITE_KEY,
    });
    w = await startTestWorker(g.config);
    k = await g.apiKey(['admin']);
  }, 60_000);
  afterAll(async () => {
    await w?.close();
    await g?.close();
    await azurite?.stop();
  });

  it('uploads in blocks committed at the end, imports a folder and deletes with the server key', async () => {
    const volume = await createVolume(g, k);
    const big = Buffer.alloc(9 << 20, 0x63);
    const up = await put(g, k, volume, 'blobs/big.bin', big);
    expect(up.body.data).toMatchObject({ size: big.length });
    const stored = await container.getBlockBlobClient(`gateway/${volume}/blobs/big.bin`).downloadToBuffer();
    expect(stored.equals(big)).toBe(true);
    expect((await put(g, k, volume, 'data/rows.jsonl', jsonl(range(1, 50)))).body.code).toBe(0);
    expect((await put(g, k, volume, 'data/rows.parquet', await parquet(range(51, 50)))).body.code).toBe(0);

    const collection = await newCollection(g, k);
    const r = await call(g, 'POST', '/v2/vectordb/jobs/import/create', {
      key: k,
      body: { collectionName: collection, volumeName: volume, dataPaths: [['data/']] },
    });
    expect(r.body.code, r.text).toBe(0);
    expect(await waitForJob(g, k, (r.body.data as { jobId: string }).jobId)).toBe('Completed ');
    const d = await g.db.query(DIGEST_SQL(`"milvus_default"."${collection}"`));
    expect(d.rows[0]).toEqual({ n: 100, text: expectedDigestInput(range(1, 100)) });

    expect((await call(g, 'DELETE', `/v2/volumes/${volume}`, { key: k })).body.code).toBe(0);
    const left: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix: `gateway/${volume}/` })) left.push(b.name);
    expect(left).toEqual([]);
  }, 120_000);
});

describe('a volume in a GCS bucket (VOLUMES_URL=gs://, in-repo GCS server)', () => {
  let gcs: GcsTestServer;
  let g: TestGateway;
  let w: TestWorker;
  let k: string;
  beforeAll(async () => {
    gcs = new GcsTestServer();
    await gcs.start();
    gcs.createBucket('vols');
    g = await startTestGateway({
      VOLUMES_URL: 'gs://vols/gateway/',
      STORAGE_GCS_ENDPOINT: gcs.endpoint,
      VOLUMES_MAX_FILE_BYTES: String(12 << 20),
    });
    w = await startTestWorker(g.config);
    k = await g.apiKey(['admin']);
  }, 60_000);
  afterAll(async () => {
    await w?.close();
    await g?.close();
    await gcs?.stop();
  });

  it('uploads through a resumable session, lists, imports a folder by dataPaths and deletes', async () => {
    const volume = await createVolume(g, k);
    expect((await call(g, 'GET', `/v2/volumes/${volume}`, { key: k })).body.data).toMatchObject({ backend: 'gcs' });
    const big = Buffer.alloc(9 << 20, 0x64);
    const up = await put(g, k, volume, 'blobs/big.bin', big);
    expect(up.body.data).toMatchObject({ size: big.length });
    expect(gcs.object('vols', `gateway/${volume}/blobs/big.bin`)?.equals(big)).toBe(true);
    const session = [...gcs.sessions.values()].find((x) => x.name === `gateway/${volume}/blobs/big.bin`);
    expect(session).toMatchObject({ done: true, chunks: 2 });
    expect((await put(g, k, volume, 'data/rows.jsonl', jsonl(range(1, 50)))).body.code).toBe(0);
    expect((await put(g, k, volume, 'data/rows.parquet', await parquet(range(51, 50)))).body.code).toBe(0);

    const listed = await call(g, 'GET', `/v2/volumes/${volume}/files?prefix=data/&pageSize=1`, { key: k });
    const page = listed.body.data as { files: { path: string }[]; nextPageToken: string };
    expect(page.files.map((f) => f.path)).toEqual(['data/rows.jsonl']);
    const next = await call(
      g,
      'GET',
      `/v2/volumes/${volume}/files?prefix=data/&pageSize=1&pageToken=${page.nextPageToken}`,
      { key: k },
    );
    expect(next.body).toMatchObject({ code: 0, data: { files: [{ path: 'data/rows.parquet' }] } });

    const collection = await newCollection(g, k);
    const r = await call(g, 'POST', '/v2/vectordb/jobs/import/create', {
      key: k,
      body: { collectionName: collection, volumeName: volume, dataPaths: [['data/']] },
    });
    expect(r.body.code, r.text).toBe(0);
    expect(await waitForJob(g, k, (r.body.data as { jobId: string }).jobId)).toBe('Completed ');
    const d = await g.db.query(DIGEST_SQL(`"milvus_default"."${collection}"`));
    expect(d.rows[0]).toEqual({ n: 100, text: expectedDigestInput(range(1, 100)) });

    // An upload beyond the limit (no declared length) fails midway: no object appears.
    const tooBig = await fetch(`${g.url}/v2/volumes/${volume}/files/blobs/too-big.bin`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${k}` },
      body: new ReadableStream<Uint8Array>({
        start(c) {
          for (let i = 0; i < 13; i++) c.enqueue(new Uint8Array(1 << 20));
          c.close();
        },
      }),
      duplex: 'half',
    });
    expect(tooBig.status).toBe(413);
    expect(gcs.object('vols', `gateway/${volume}/blobs/too-big.bin`)).toBeUndefined();

    expect((await call(g, 'DELETE', `/v2/volumes/${volume}/files/blobs/big.bin`, { key: k })).body.code).toBe(0);
    expect(gcs.object('vols', `gateway/${volume}/blobs/big.bin`)).toBeUndefined();
    expect((await call(g, 'DELETE', `/v2/volumes/${volume}/files/blobs/big.bin`, { key: k })).body.code).not.toBe(0);
    expect((await call(g, 'DELETE', `/v2/volumes/${volume}`, { key: k })).body.code).toBe(0);
    expect(gcs.names('vols').filter((x) => x.startsWith(`gateway/${volume}/`))).toEqual([]);
  }, 120_000);
});
