import { HttpClient } from '@zilliz/milvus2-sdk-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, type TestGateway, uniqueName } from '@gw/testing';

type Reply<T = unknown> = { code: number; message?: string; data: T };

describe('collections API through the official Node SDK HttpClient', () => {
  let gw: TestGateway;
  let client: HttpClient;
  beforeAll(async () => {
    gw = await startTestGateway();
    client = new HttpClient({ endpoint: gw.url, token: await gw.apiKey(['admin']) });
  });
  afterAll(async () => {
    await gw.close();
  });

  it('creates, describes, lists, inserts, counts, gets and drops a collection', async () => {
    const name = uniqueName('sdk');
    const created = (await client.createCollection({
      collectionName: name,
      dimension: 4,
      metricType: 'L2',
    })) as unknown as Reply;
    expect(created).toEqual({ code: 0, data: {} });

    const d = (await client.describeCollection({ collectionName: name })) as unknown as Reply<Record<string, unknown>>;
    expect(d.code).toBe(0);
    expect(d.data).toMatchObject({
      collectionName: name,
      autoId: false,
      enableDynamicField: true,
      fields: [
        { name: 'id', type: 'Int64', primaryKey: true },
        { name: 'vector', type: 'FloatVector', params: [{ key: 'dim', value: '4' }] },
      ],
      indexes: [{ fieldName: 'vector', indexName: 'vector_idx', metricType: 'L2' }],
      properties: [{ key: 'gateway.vectorType', value: 'array' }],
    });

    const list = (await client.listCollections({})) as unknown as Reply<string[]>;
    expect(list.data).toContain(name);
    expect(
      ((await client.hasCollection({ collectionName: name, dbName: 'default' })) as unknown as Reply<{ has: boolean }>)
        .data.has,
    ).toBe(true);

    const big = '9007199254740993'; // 2^53 + 1: must survive as a string
    const ins = (await client.insert({
      collectionName: name,
      data: [
        { id: 1, vector: [0.1, 0.2, 0.3, 0.4], lang: 'en' },
        { id: big, vector: [1, 2, 3, 4], lang: 'fr' },
      ],
    })) as unknown as Reply<{ insertCount: number; insertIds: unknown[] }>;
    expect(ins).toEqual({ code: 0, data: { insertCount: 2, insertIds: ['1', big] } });

    const count = (await client.query({
      collectionName: name,
      filter: '',
      outputFields: ['count(*)'],
    })) as unknown as Reply<unknown[]>;
    expect(count.data).toEqual([{ 'count(*)': '2' }]);
    const stats = (await client.getCollectionStatistics({ collectionName: name })) as unknown as Reply<{
      rowCount: number;
    }>;
    expect(stats.data.rowCount).toBe(2);

    const q = (await client.query({
      collectionName: name,
      filter: `id == ${big}`,
      outputFields: ['id', 'lang'],
    })) as unknown as Reply<Record<string, unknown>[]>;
    expect(q.data).toEqual([{ id: big, lang: 'fr' }]);
    const got = (await client.get({
      collectionName: name,
      id: [1],
      outputFields: ['id', 'vector'],
    })) as unknown as Reply<Record<string, unknown>[]>;
    expect(got.data).toEqual([{ id: '1', vector: [0.1, 0.2, 0.3, 0.4] }]);

    const bad = (await client.insert({
      collectionName: name,
      data: [{ id: 3, vector: [1, 2, 3] }],
    })) as unknown as Reply;
    expect(bad.code).toBe(1804);
    expect(bad.message).toMatch(/^fail to deal the insert data: row 1, field 'vector': expected 4 values, got 3/);

    expect(((await client.dropCollection({ collectionName: name })) as unknown as Reply).code).toBe(0);
    expect(
      ((await client.hasCollection({ collectionName: name, dbName: 'default' })) as unknown as Reply<{ has: boolean }>)
        .data.has,
    ).toBe(false);
  });

  it('returns Int64 as numbers only when Accept-Type-Allow-Int64 is true', async () => {
    const name = uniqueName('i64');
    const key = await gw.apiKey(['admin']);
    await call(gw, 'POST', '/v2/vectordb/collections/create', { key, body: { collectionName: name, dimension: 2 } });
    await call(gw, 'POST', '/v2/vectordb/entities/insert', {
      key,
      body: { collectionName: name, data: [{ id: 5, vector: [1, 2] }] },
    });
    const asText = await call(gw, 'POST', '/v2/vectordb/entities/query', {
      key,
      body: { collectionName: name, filter: 'id > 0', outputFields: ['id'] },
    });
    expect(asText.text).toBe('{"code":0,"data":[{"id":"5"}]}');
    const asNumber = await call(gw, 'POST', '/v2/vectordb/entities/query', {
      key,
      body: { collectionName: name, filter: 'id > 0', outputFields: ['id'] },
      headers: { 'Accept-Type-Allow-Int64': 'true' },
    });
    expect(asNumber.text).toBe('{"code":0,"data":[{"id":5}]}');
  });

  it('keeps an Int64 beyond 2^53 sent as a bare JSON number exact on insert and in filters', async () => {
    const name = uniqueName('big');
    const key = await gw.apiKey(['admin']);
    await call(gw, 'POST', '/v2/vectordb/collections/create', { key, body: { collectionName: name, dimension: 2 } });
    const ins = await call(gw, 'POST', '/v2/vectordb/entities/insert', {
      key,
      body: `{"collectionName":"${name}","data":[{"id":9007199254740993,"vector":[1,2]}]}`,
    });
    expect(ins.text).toBe('{"code":0,"data":{"insertCount":1,"insertIds":["9007199254740993"]}}');
    const q = await call(gw, 'POST', '/v2/vectordb/entities/query', {
      key,
      body: `{"collectionName":"${name}","filter":"id == 9007199254740993","outputFields":["id"]}`,
      headers: { 'Accept-Type-Allow-Int64': 'true' },
    });
    expect(q.text).toBe('{"code":0,"data":[{"id":9007199254740993}]}');
  });

  it('cancels the active import jobs of a collection before dropping it', async () => {
    const name = uniqueName('drop');
    const key = await gw.apiKey(['admin']);
    await call(gw, 'POST', '/v2/vectordb/collections/create', { key, body: { collectionName: name, dimension: 2 } });
    const job = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
      key,
      body: { collectionName: name, objectUrl: 's3://bkt/a.json' },
    });
    const jobId = (job.body.data as { jobId: string }).jobId;
    await call(gw, 'POST', '/v2/vectordb/collections/drop', { key, body: { collectionName: name } });
    const d = await call(gw, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId } });
    expect(d.body.data).toMatchObject({
      state: 'Failed',
      gatewayState: 'Cancelled',
      reason: 'cancelled: collection dropped',
    });
  });

  it('answers collection routes with the collections scopes', async () => {
    const reader = await gw.apiKey(['collections:read']);
    const r = await call(gw, 'POST', '/v2/vectordb/collections/create', {
      key: reader,
      body: { collectionName: 'x', dimension: 2 },
    });
    expect(r.status).toBe(403);
    expect(r.body.message).toBe('privilege not permitted: requires collections:write');
    expect((await call(gw, 'POST', '/v2/vectordb/collections/list', { key: reader, body: {} })).body.code).toBe(0);
    const missing = await call(gw, 'POST', '/v2/vectordb/collections/describe', {
      key: reader,
      body: { collectionName: 'nope_x' },
    });
    expect(missing.body).toEqual({ code: 100, message: 'collection not found[collection=nope_x]' });
  });

  it('reports the vector storage choice in /health/ready', async () => {
    const r = await call(gw, 'GET', '/health/ready', { key: await gw.apiKey(['collections:read']) });
    expect(r.body).toMatchObject({
      checks: { vectors: { status: 'ok', mode: 'auto', pgvector: false, uses: 'array' } },
    });
  });
});
