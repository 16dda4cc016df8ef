import { HttpClient } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '@gw/testing';
import { makeCollection } from './helpers';

/** The official Node SDK's HttpClient, unmodified, against the gateway. */
describe('@zilliz/milvus2-sdk-node HttpClient', () => {
  let gw: TestGateway;
  let client: HttpClient;
  let collection: string;
  beforeAll(async () => {
    gw = await startTestGateway({ STORAGE_DEFAULT_URL: 's3://milvus-bucket/' });
    const key = await gw.apiKey(['import:write']);
    client = new HttpClient({ endpoint: gw.url, token: key });
    collection = await makeCollection(gw.db);
  });
  afterAll(async () => {
    await gw.close();
  });

  it('creates an import job, lists it and reads its progress', async () => {
    const created = (await client.createImportJobs({
      collectionName: collection,
      files: [['1/id.npy', '1/vector.npy'], ['rows.json']],
    })) as unknown as { code: number; data: { jobId: string } };
    expect(created.code).toBe(0);
    expect(created.data.jobId).toMatch(/^job-[a-z0-9]{22}$/);

    const listed = (await client.listImportJobs({ collectionName: collection })) as unknown as {
      code: number;
      data: { records: { jobId: string; state: string; collectionName: string }[] };
    };
    expect(listed.code).toBe(0);
    expect(listed.data.records).toEqual([
      expect.objectContaining({ jobId: created.data.jobId, collectionName: collection, state: 'Pending' }),
    ]);

    const progress = (await client.getImportJobProgress({ jobId: created.data.jobId })) as unknown as {
      code: number;
      data: { jobId: string; state: string; progress: number; details: { fileName: string }[] };
    };
    expect(progress.code).toBe(0);
    expect(progress.data).toMatchObject({ jobId: created.data.jobId, state: 'Pending', progress: 0 });
    expect(progress.data.details.map((d) => d.fileName)).toEqual(['1/id.npy,1/vector.npy', 'rows.json']);
  });

  it('surfaces gateway errors in the body, as the SDK returns them', async () => {
    const r = (await client.createImportJobs({
      collectionName: 'no_such_collection',
      files: [['a.json']],
    })) as unknown as {
      code: number;
      message: string;
    };
    expect(r).toEqual({ code: 100, message: 'collection not found[collection=no_such_collection]' });
  });

  it('authenticates a client configured with username and password (Bearer user:password)', async () => {
    const key = await gw.apiKey(['import:read']);
    const c = new HttpClient({ endpoint: gw.url, username: 'root', password: key });
    const r = (await c.listImportJobs({ collectionName: collection })) as unknown as { code: number };
    expect(r.code).toBe(0);
    const wrong = new HttpClient({ endpoint: gw.url, username: 'root', password: 'Milvus' });
    await expect(wrong.listImportJobs({ collectionName: collection })).rejects.toThrow();
  });
});
