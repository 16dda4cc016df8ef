import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, type TestGateway } from '@gw/testing';
import { makeCollection, makeDatabase } from './helpers';

const V2 = '/v2/vectordb/jobs/import';
const NODB = 'no_such_db';
const NOT_FOUND = { code: 800, message: `database not found[database=${NODB}]` };

/**
 * import-api.md §2: "An unknown database fails with code 800", on every route that works inside a
 * database (decision 1701 lists the ones that do not). Each route is driven with otherwise valid
 * input — a job or schedule that exists in `default` — so that nothing but the database can fail.
 */
describe('an unknown dbName answers 800 on every database route', () => {
  let gw: TestGateway;
  let key: string;
  let collection: string;
  let jobId: string;
  let scheduleId: string;

  beforeAll(async () => {
    gw = await startTestGateway();
    key = await gw.apiKey(['admin']);
    collection = await makeCollection(gw.db);
    const job = await call(gw, 'POST', `${V2}/create`, {
      key,
      body: { collectionName: collection, objectUrl: 's3://bkt/a.json' },
    });
    expect(job.body.code, job.text).toBe(0);
    jobId = (job.body.data as { jobId: string }).jobId;
    const sched = await call(gw, 'POST', `${V2}/schedules/create`, {
      key,
      body: { collectionName: collection, objectUrl: 's3://bkt/incoming/', interval: '1h' },
    });
    expect(sched.body.code, sched.text).toBe(0);
    scheduleId = (sched.body.data as { scheduleId: string }).scheduleId;
  });
  afterAll(async () => {
    await gw.close();
  });

  /** [method, path, fields]: fields are the body of a POST, the query string of a GET. */
  const routes = (): [string, string, Record<string, unknown>][] => {
    const createBody = { collectionName: collection, objectUrl: 's3://bkt/b.json' };
    const importRoutes: [string, string, Record<string, unknown>][] = [
      ['POST', `${V2}/create`, createBody],
      ['POST', `${V2}/validate`, createBody],
      ['POST', `${V2}/list`, {}],
      ['GET', `${V2}/list`, {}],
      ['POST', `${V2}/list`, { collectionName: collection, pageSize: 10, currentPage: 1 }],
      ['POST', `${V2}/describe`, { jobId }],
      ['GET', `${V2}/describe`, { jobId }],
      ['POST', `${V2}/get_progress`, { jobId }],
      ['GET', `${V2}/get_progress`, { jobId }],
      ['POST', `${V2}/getProgress`, { jobId }],
      ['GET', `${V2}/getProgress`, { jobId }],
      ['POST', `${V2}/cancel`, { jobId }],
      ['GET', `${V2}/rejects`, { jobId }],
      ['POST', `${V2}/events`, { jobId }],
      ['GET', `${V2}/events`, { jobId }],
      ['POST', `${V2}/schedules/create`, { ...createBody, objectUrl: 's3://bkt/more/', interval: '1h' }],
      ['POST', `${V2}/schedules/list`, {}],
      ['GET', `${V2}/schedules/list`, {}],
      ['POST', `${V2}/schedules/describe`, { scheduleId }],
      ['GET', `${V2}/schedules/describe`, { scheduleId }],
      ['POST', `${V2}/schedules/drop`, { scheduleId }],
      ['POST', '/v1/vector/collections/import', { ...createBody, clusterId: 'in01-x' }],
      ['GET', '/v1/vector/collections/import/get', { jobId, clusterId: 'in01-x' }],
      ['GET', '/v1/vector/collections/import/list', { clusterId: 'in01-x' }],
    ];
    const c = { collectionName: collection };
    const p = { ...c, partitionName: '_default' };
    const collectionRoutes: [string, string, Record<string, unknown>][] = [
      ['collections/create', { collectionName: 'fresh', dimension: 4 }],
      ['collections/describe', c],
      ['collections/list', {}],
      ['collections/has', c],
      ['collections/drop', c],
      ['collections/get_stats', c],
      ['collections/load', c],
      ['collections/release', c],
      ['collections/flush', c],
      ['collections/get_load_state', c],
      ['indexes/create', { ...c, indexParams: [{ fieldName: 'vector', indexName: 'v', metricType: 'L2' }] }],
      ['indexes/list', c],
      ['partitions/create', { ...c, partitionName: 'p1' }],
      ['partitions/list', c],
      ['partitions/has', p],
      ['partitions/drop', { ...c, partitionName: 'p1' }],
      ['partitions/get_stats', p],
      ['databases/drop', {}],
      ['entities/insert', { ...c, data: [{ id: 1, vector: [1, 2, 3, 4] }] }],
      ['entities/query', { ...c, filter: '' }],
      ['entities/get', { ...c, id: 1 }],
      ['entities/delete', { ...c, filter: 'id in [1]' }],
    ].map(([path, body]) => ['POST', `/v2/vectordb/${path as string}`, body as Record<string, unknown>]);
    return [...importRoutes, ...collectionRoutes];
  };

  const send = (method: string, path: string, fields: Record<string, unknown>, headers: Record<string, string>) => {
    if (method === 'POST') return call(gw, method, path, { key, body: fields, headers });
    const q = new URLSearchParams(Object.entries(fields).map(([k, v]): [string, string] => [k, String(v)]));
    return call(gw, method, `${path}?${q.toString()}`, { key, headers });
  };

  it('answers 800 naming the database when dbName is in the body or query string', async () => {
    const wrong: string[] = [];
    for (const [method, path, fields] of routes()) {
      const r = await send(method, path, { ...fields, dbName: NODB }, {});
      if (r.status !== 200 || r.body.code !== 800 || r.body.message !== NOT_FOUND.message)
        wrong.push(`${method} ${path} → ${r.status} ${r.text.slice(0, 200)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('answers 800 when the database comes from the DB-Name header', async () => {
    const wrong: string[] = [];
    // databases/drop names the database to drop in its body: a header never picks what to drop
    // (it answers 1802 without dbName, decision 1701).
    for (const [method, path, fields] of routes().filter(([, path]) => !path.endsWith('databases/drop'))) {
      const r = await send(method, path, fields, { 'DB-Name': NODB });
      if (r.status !== 200 || r.body.code !== 800 || r.body.message !== NOT_FOUND.message)
        wrong.push(`${method} ${path} → ${r.status} ${r.text.slice(0, 200)}`);
    }
    expect(wrong).toEqual([]);
  });

  it('still finds a job by id alone when dbName names another database that exists (§7)', async () => {
    const other = await makeDatabase(gw.db);
    const r = await call(gw, 'POST', `${V2}/describe`, { key, body: { jobId, dbName: other } });
    expect(r.body).toMatchObject({ code: 0, data: { jobId } });
    const list = await call(gw, 'POST', `${V2}/list`, { key, body: { dbName: other } });
    expect(list.body).toEqual({ code: 0, data: { records: [] } });
  });

  it('changed nothing: the job is still Pending, the schedule and the collection still exist', async () => {
    const job = await call(gw, 'POST', `${V2}/describe`, { key, body: { jobId } });
    expect(job.body.data).toMatchObject({ jobId, gatewayState: 'Pending' });
    const sched = await call(gw, 'POST', `${V2}/schedules/describe`, { key, body: { scheduleId } });
    expect(sched.body.code, sched.text).toBe(0);
    const has = await call(gw, 'POST', '/v2/vectordb/collections/has', { key, body: { collectionName: collection } });
    expect(has.body.data).toEqual({ has: true });
    const jobs = await gw.db.query(`SELECT count(*)::int AS n FROM import_jobs`);
    expect(jobs.rows[0].n).toBe(1);
  });
});
