import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, type TestGateway } from '@gw/testing';
import { makeCollection } from './helpers';

const V2 = '/v2/vectordb/jobs/import';

let gw: TestGateway;
let admin: string;
let collection: string;

beforeAll(async () => {
  gw = await startTestGateway({ STORAGE_DEFAULT_URL: 's3://milvus-bucket/' });
  admin = await gw.apiKey(['admin']);
  collection = await makeCollection(gw.db);
});
afterAll(async () => {
  await gw.close();
});

async function createJob(name = collection): Promise<string> {
  const r = await call(gw, 'POST', `${V2}/create`, {
    key: admin,
    body: { collectionName: name, files: [['a.parquet']] },
  });
  expect(r.body.code, r.text).toBe(0);
  return (r.body.data as { jobId: string }).jobId;
}

describe('job events (gateway extension)', () => {
  it('lists a job’s state changes oldest first, with who made them, by POST and GET', async () => {
    const jobId = await createJob();
    expect((await call(gw, 'POST', `${V2}/cancel`, { key: admin, body: { jobId } })).body.code).toBe(0);
    const r = await call(gw, 'POST', `${V2}/events`, { key: admin, body: { jobId } });
    expect(r.body.code, r.text).toBe(0);
    const data = r.body.data as { jobId: string; startTime: string; events: Record<string, string>[] };
    expect(data.jobId).toBe(jobId);
    expect(data.startTime).toBe('');
    expect(data.events.map((e) => [e.fromState, e.toState])).toEqual([
      ['', 'Pending'],
      ['Pending', 'Cancelled'],
    ]);
    expect(data.events[0]).toMatchObject({ message: 'created', actor: 'api' });
    expect(data.events[1]).toMatchObject({ message: 'cancelled by request', actor: 'api' });
    expect(Date.parse(data.events[0]!.time!)).not.toBeNaN();
    const byGet = await call(gw, 'GET', `${V2}/events?jobId=${jobId}`, { key: admin });
    expect(byGet.body).toEqual(r.body);
  });

  it('answers an unknown job like describe does, and needs import:read and access to the collection', async () => {
    const unknown = await call(gw, 'POST', `${V2}/events`, { key: admin, body: { jobId: 'job-nope' } });
    const describe = await call(gw, 'POST', `${V2}/describe`, { key: admin, body: { jobId: 'job-nope' } });
    expect(unknown.body).toEqual(describe.body);
    expect(unknown.body.code).not.toBe(0);
    const jobId = await createJob();
    expect((await call(gw, 'POST', `${V2}/events`, { body: { jobId } })).status).toBe(401);
    const volumesOnly = await gw.apiKey(['volumes:read']);
    expect((await call(gw, 'POST', `${V2}/events`, { key: volumesOnly, body: { jobId } })).status).toBe(403);
    const elsewhere = await gw.apiKey(['import:read'], { collections: ['other'] });
    const denied = await call(gw, 'POST', `${V2}/events`, { key: elsewhere, body: { jobId } });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toContain(collection);
  });
});

describe('list by creation time (gateway extension)', () => {
  it('keeps jobs created at or after createdAfter and before createdBefore', async () => {
    const name = await makeCollection(gw.db);
    const ids = [await createJob(name), await createJob(name), await createJob(name)];
    const times = ['2026-01-01T00:00:00Z', '2026-01-02T00:00:00Z', '2026-01-03T00:00:00Z'];
    for (const [i, id] of ids.entries()) {
      await gw.db.query(`UPDATE import_jobs SET created_at = $2 WHERE job_id = $1`, [id, times[i]]);
    }
    const list = async (extra: Record<string, unknown>) => {
      const r = await call(gw, 'POST', `${V2}/list`, { key: admin, body: { collectionName: name, ...extra } });
      expect(r.body.code, r.text).toBe(0);
      return (r.body.data as { records: { jobId: string }[] }).records.map((x) => x.jobId);
    };
    expect(await list({ createdAfter: '2026-01-02T00:00:00Z' })).toEqual([ids[2], ids[1]]);
    expect(await list({ createdBefore: '2026-01-02T00:00:00Z' })).toEqual([ids[0]]);
    expect(await list({ createdAfter: '2026-01-01T12:00:00+01:00', createdBefore: '2026-01-03T00:00:00Z' })).toEqual([
      ids[1],
    ]);
    const paged = await call(gw, 'POST', `${V2}/list`, {
      key: admin,
      body: { collectionName: name, createdAfter: '2026-01-02T00:00:00Z', pageSize: 1 },
    });
    expect((paged.body.data as { count: number }).count).toBe(2);
    const byGet = await call(gw, 'GET', `${V2}/list?collectionName=${name}&createdBefore=2026-01-02T00:00:00Z`, {
      key: admin,
    });
    expect((byGet.body.data as { records: { jobId: string }[] }).records.map((x) => x.jobId)).toEqual([ids[0]]);
  });

  it('refuses a time that is not RFC 3339 with 1100 naming the field', async () => {
    for (const bad of ['yesterday', '2026-01-01', '2026-01-01T00:00:00']) {
      const r = await call(gw, 'POST', `${V2}/list`, { key: admin, body: { createdAfter: bad } });
      expect(r.body).toEqual({
        code: 1100,
        message: 'invalid parameter: createdAfter must be an RFC 3339 time such as 2026-12-07T14:00:00Z',
      });
    }
  });
});
