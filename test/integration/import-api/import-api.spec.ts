import Redis from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importQueueName } from '@gw/jobs';
import { call, callRaw, startTestGateway, testEnv, type TestGateway } from '@gw/testing';
import { makeCollection, makeDatabase } from './helpers';

const V2 = '/v2/vectordb/jobs/import';
const JOB_ID = /^job-[a-z0-9]{22}$/;

let gw: TestGateway;
let admin: string;
let collection: string;

beforeAll(async () => {
  gw = await startTestGateway({ STORAGE_DEFAULT_URL: 's3://milvus-bucket/' });
  admin = await gw.apiKey(['admin']);
  collection = await makeCollection(gw.db, { partitions: ['p1'] });
});
afterAll(async () => {
  await gw.close();
});

const create = (body: unknown, extra: { key?: string; headers?: Record<string, string> } = {}) =>
  call(gw, 'POST', `${V2}/create`, {
    key: extra.key ?? admin,
    body,
    ...(extra.headers ? { headers: extra.headers } : {}),
  });

describe('authentication and scopes', () => {
  it('answers 401 / 1800 without a key, with an unknown key and with a revoked key', async () => {
    const body = { collectionName: collection, files: [['a.json']] };
    for (const key of [undefined, 'igw_nonsense']) {
      const r = await call(gw, 'POST', `${V2}/create`, { ...(key ? { key } : {}), body });
      expect(r.status).toBe(401);
      expect(r.body).toEqual({ code: 1800, message: "user hasn't authenticated" });
    }
    const key = await gw.apiKey(['import:write']);
    await gw.db.query(`UPDATE api_keys SET revoked_at = now() WHERE key_prefix = $1`, [key.slice(0, 12)]);
    expect((await create(body, { key })).status).toBe(401);
  });

  it('answers 403 / 1401 naming the scope a key lacks, and lets import:write read', async () => {
    const reader = await gw.apiKey(['import:read']);
    const r = await create({ collectionName: collection, files: [['a.json']] }, { key: reader });
    expect(r.status).toBe(403);
    expect(r.body).toEqual({ code: 1401, message: 'privilege not permitted: requires import:write' });
    const writer = await gw.apiKey(['import:write']);
    expect((await call(gw, 'POST', `${V2}/list`, { key: writer, body: {} })).body.code).toBe(0);
    const collectionsOnly = await gw.apiKey(['collections:write']);
    expect((await call(gw, 'POST', `${V2}/list`, { key: collectionsOnly, body: {} })).status).toBe(403);
  });

  it('takes the text after the first colon of "Bearer user:password" as the key', async () => {
    const key = await gw.apiKey(['import:read']);
    const r = await call(gw, 'POST', `${V2}/list`, { headers: { Authorization: `Bearer root:${key}` }, body: {} });
    expect(r.body.code).toBe(0);
  });

  it('limits a key to its collections', async () => {
    const other = await makeCollection(gw.db);
    const key = await gw.apiKey(['import:write'], { collections: [collection] });
    expect((await create({ collectionName: collection, files: [['a.json']] }, { key })).body.code).toBe(0);
    const r = await create({ collectionName: other, files: [['a.json']] }, { key });
    expect(r.status).toBe(403);
    expect(r.body.message).toBe(`privilege not permitted: requires access to collection ${other}`);
  });

  it('lists, in both flavours, only the jobs of collections the key may read', async () => {
    const other = await makeCollection(gw.db);
    const mine = await create({ collectionName: collection, files: [['mine.json']] });
    const theirs = await create({ collectionName: other, files: [['theirs.json']] });
    const key = await gw.apiKey(['import:read'], { collections: [collection] });
    const v2 = await call(gw, 'POST', `${V2}/list`, { key, body: { pageSize: 100 } });
    const v2Jobs = (v2.body.data as { records: { jobId: string; collectionName: string }[] }).records;
    const v1 = await call(gw, 'GET', '/v1/vector/collections/import/list?pageSize=100', { key });
    const v1Jobs = (v1.body.data as { tasks: { jobId: string; collectionName: string }[] }).tasks;
    for (const jobs of [v2Jobs, v1Jobs]) {
      const ids = jobs.map((j) => j.jobId);
      expect(ids).toContain((mine.body.data as { jobId: string }).jobId);
      expect(ids).not.toContain((theirs.body.data as { jobId: string }).jobId);
      expect(new Set(jobs.map((j) => j.collectionName))).toEqual(new Set([collection]));
    }
  });
});

describe('request parsing', () => {
  it('parses JSON whatever the Content-Type, with a BOM, trailing commas and duplicate keys', async () => {
    const text = '\ufeff{"collectionName":"nope","collectionName":"' + collection + '","files":[["a.json"],],}';
    for (const ct of [undefined, 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'application/json']) {
      const r = await call(gw, 'POST', `${V2}/create`, {
        key: admin,
        body: text,
        ...(ct ? { headers: { 'Content-Type': ct } } : {}),
      });
      expect(r.body.code, `${ct ?? 'no content-type'}: ${r.text}`).toBe(0);
    }
  });

  it('refuses a body that is not a JSON object with 1801', async () => {
    for (const body of ['{"collectionName": ', '[1,2]', '"x"', '{"a":1} /* c */']) {
      const r = await call(gw, 'POST', `${V2}/list`, { key: admin, body });
      expect(r.body).toEqual({ code: 1801, message: 'can only accept json format request' });
    }
  });

  it('treats "", null, [] and {} as absent, as pymilvus sends every key', async () => {
    const r = await create({
      collectionName: collection,
      partitionName: '',
      files: [['a.parquet']],
      objectUrl: '',
      objectUrls: [],
      accessKey: null,
      secretKey: '',
      options: {},
      clusterId: '',
    });
    expect(r.body.code).toBe(0);
  });

  it('authenticates before parsing: a bad body without a key is a 401', async () => {
    const r = await call(gw, 'POST', `${V2}/list`, { body: 'not json' });
    expect(r.status).toBe(401);
  });

  it('answers 404 / 404 for an unknown route or method under /v1 and /v2', async () => {
    for (const [m, p] of [
      ['POST', '/v2/vectordb/jobs/import/nothing'],
      ['GET', `${V2}/create`],
      ['POST', '/v1/vector/collections/import/get'],
    ] as const) {
      const r = await call(gw, m, p, { key: admin });
      expect(r.status).toBe(404);
      expect(r.body).toEqual({ code: 404, message: 'route not found' });
    }
  });

  it('echoes a valid X-Request-Id and makes one up otherwise', async () => {
    const r = await call(gw, 'POST', `${V2}/list`, { key: admin, body: {}, headers: { 'X-Request-Id': 'abc-123' } });
    expect(r.headers.get('x-request-id')).toBe('abc-123');
    const r2 = await call(gw, 'POST', `${V2}/list`, { key: admin, body: {} });
    expect(r2.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('create validation, in the order of the spec', () => {
  const cases: [string, unknown, number, string | RegExp][] = [
    ['no collectionName', { files: [['a.json']] }, 1802, 'missing required parameters: collectionName'],
    ['no files at all', { collectionName: 'x' }, 1802, 'missing required parameters: files'],
    [
      'unknown database',
      { dbName: 'nodb', collectionName: 'x', files: [['a.json']] },
      800,
      'database not found[database=nodb]',
    ],
    [
      'unknown collection',
      { collectionName: 'missing_c', files: [['a.json']] },
      100,
      'collection not found[collection=missing_c]',
    ],
  ];
  it.each(cases)('%s', async (_name, body, code, message) => {
    const r = await create(body);
    expect(r.body.code).toBe(code);
    expect(r.body.message).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
  });

  it('checks partition existence (200) and refuses a partition on a partition-key collection (1100)', async () => {
    expect((await create({ collectionName: collection, partitionName: 'p9', files: [['a.json']] })).body).toEqual({
      code: 200,
      message: 'partition not found[partition=p9]',
    });
    expect((await create({ collectionName: collection, partitionName: 'p1', files: [['a.json']] })).body.code).toBe(0);
    const pk = await makeCollection(gw.db, { partitionKey: true });
    const r = await create({ collectionName: pk, partitionName: '_default', files: [['a.json']] });
    expect(r.body.code).toBe(0);
    await gw.db.query(
      `INSERT INTO gateway_partitions (collection_id, name) SELECT id, 'p2' FROM gateway_collections WHERE name = $1`,
      [pk],
    );
    const r2 = await create({ collectionName: pk, partitionName: 'p2', files: [['a.json']] });
    expect(r2.body.code).toBe(1100);
  });

  it('finds collections in the database named by dbName or the DB-Name header', async () => {
    const db = await makeDatabase(gw.db);
    const c = await makeCollection(gw.db, { db });
    expect((await create({ dbName: db, collectionName: c, files: [['a.json']] })).body.code).toBe(0);
    expect((await create({ collectionName: c, files: [['a.json']] }, { headers: { 'DB-Name': db } })).body.code).toBe(
      0,
    );
    expect((await create({ collectionName: c, files: [['a.json']] })).body.code).toBe(100);
  });

  const shape: [string, Record<string, unknown>, number, string | RegExp][] = [
    ['files and objectUrl together', { files: [['a.json']], objectUrl: 's3://bkt/a.json' }, 1100, /give only one of/],
    ['an empty file group', { files: [[]] }, 1100, /empty file group/],
    [
      'an unsupported scheme',
      { objectUrl: 'ftp://host/a.json' },
      1100,
      'invalid parameter: unsupported object URL: ftp://host/a.json',
    ],
    ['a bad timeout', { files: [['a.json']], options: { timeout: '5 minutes' } }, 1100, /options.timeout "5 minutes"/],
    ['a zero timeout', { files: [['a.json']], options: { timeout: '0s' } }, 1100, /options.timeout/],
    [
      'backup=true',
      { files: [['a.json']], options: { backup: 'true' } },
      1100,
      'invalid parameter: options.backup=true is not supported',
    ],
    ['auto_commit=false', { files: [['a.json']], options: { auto_commit: false } }, 1100, /auto_commit=false/],
    ['a two-character sep', { files: [['a.csv']], options: { sep: ';;' } }, 1100, /sep/],
    ['an invalid dry_run', { files: [['a.json']], options: { dry_run: 'yes' } }, 1100, /options\.dry_run/],
    ['an invalid error_mode', { files: [['a.json']], options: { error_mode: 'skip' } }, 1100, /options\.error_mode/],
    ['an invalid max_bad_rows', { files: [['a.json']], options: { max_bad_rows: 'ten' } }, 1100, /max_bad_rows/],
    ['an invalid on_conflict', { files: [['a.json']], options: { on_conflict: 'merge' } }, 1100, /on_conflict/],
    ['an invalid skip_imported', { files: [['a.json']], options: { skip_imported: 1 } }, 1100, /skip_imported/],
    ['a non-http webhook_url', { files: [['a.json']], options: { webhook_url: 'file:///x' } }, 1100, /webhook_url/],
    [
      'a volume name with files instead of dataPaths',
      { volumeName: 'v1', files: [['a.json']] },
      1100,
      'invalid parameter: volumeName needs dataPaths (the paths inside the volume)',
    ],
    [
      'accessKey without secretKey',
      { files: [['a.json']], accessKey: 'AK' },
      1100,
      /accessKey given without secretKey/,
    ],
    [
      'an unknown extension',
      { files: [['data/a.txt']] },
      2100,
      'importing data failed: unsupported file type: data/a.txt',
    ],
    ['two json files in one group', { files: [['a.json', 'b.json']] }, 2100, /unsupported file type/],
  ];
  it.each(shape)('refuses %s', async (_name, extra, code, message) => {
    const r = await create({ collectionName: collection, ...extra });
    expect(r.body.code, r.text).toBe(code);
    expect(r.body.message).toEqual(typeof message === 'string' ? message : expect.stringMatching(message));
  });

  it('accepts the timeout forms of the spec', async () => {
    for (const t of ['300s', '1.5h', '1h45', '1h45m', '90']) {
      const r = await create({ collectionName: collection, files: [['a.json']], options: { timeout: t } });
      expect(r.body.code, t).toBe(0);
    }
  });

  it('refuses more than 1,024 file groups with 2100', async () => {
    const files = Array.from({ length: 1025 }, (_, i) => [`f${i}.json`]);
    const r = await create({ collectionName: collection, files });
    expect(r.body.code).toBe(2100);
    expect(r.body.message).toMatch(/too many file groups: 1025, at most 1024/);
  });

  it('refuses a bad Idempotency-Key with 1100', async () => {
    const r = await create(
      { collectionName: collection, files: [['a.json']] },
      { headers: { 'Idempotency-Key': 'x'.repeat(257) } },
    );
    expect(r.body.code).toBe(1100);
  });

  it('refuses a relative path when no default bucket is configured', async () => {
    const bare = await startTestGateway({ DATABASE_URL: gw.config.databaseUrl });
    try {
      const key = await bare.apiKey(['admin']);
      const r = await call(bare, 'POST', `${V2}/create`, {
        key,
        body: { collectionName: collection, files: [['a.json']] },
      });
      expect(r.body.code).toBe(1100);
      expect(r.body.message).toMatch(/STORAGE_DEFAULT_URL/);
    } finally {
      await bare.close();
    }
  });
});

describe('create, describe, list and cancel', () => {
  it('creates a job that describe, get_progress and getProgress show as Pending with one detail per group', async () => {
    const r = await create({
      collectionName: collection,
      files: [['data/1.parquet'], ['np/1/id.npy', 'np/1/vector.npy'], ['folder/']],
      options: { timeout: '300s' },
    });
    expect(r.body.code).toBe(0);
    const jobId = (r.body.data as { jobId: string }).jobId;
    expect(jobId).toMatch(JOB_ID);
    for (const route of ['describe', 'get_progress', 'getProgress']) {
      const d = await call(gw, 'POST', `${V2}/${route}`, { key: admin, body: { jobId } });
      expect(d.body.code).toBe(0);
      expect(d.body.data).toMatchObject({
        jobId,
        collectionName: collection,
        state: 'Pending',
        gatewayState: 'Pending',
        progress: 0,
        importedRows: 0,
        totalRows: 0,
        reason: '',
        completeTime: '',
        details: [
          { fileName: 'data/1.parquet', state: 'Pending', progress: 0 },
          { fileName: 'np/1/id.npy,np/1/vector.npy', state: 'Pending' },
          { fileName: 'folder/', state: 'Pending' },
        ],
      });
      expect((d.body.data as Record<string, unknown>).fileName).toBeUndefined();
      expect((d.body.data as { createTime: string }).createTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    }
    // GET with a JSON body, as the Zilliz guide sends it
    const g = await callRaw(gw, 'GET', `${V2}/getProgress`, JSON.stringify({ jobId }), {
      Authorization: `Bearer ${admin}`,
    });
    expect((g.body.data as { jobId: string }).jobId).toBe(jobId);
  });

  it('answers 2100 for an unknown job id and 1802 without one', async () => {
    expect((await call(gw, 'POST', `${V2}/describe`, { key: admin, body: { jobId: 'job-nothere' } })).body).toEqual({
      code: 2100,
      message: 'importing data failed: import job not found, jobId=job-nothere',
    });
    expect((await call(gw, 'POST', `${V2}/describe`, { key: admin, body: {} })).body.code).toBe(1802);
  });

  it('lists newest first, paged with count when pageSize/currentPage are given, and up to 1,000 records otherwise', async () => {
    const c = await makeCollection(gw.db);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++)
      ids.push(
        ((await create({ collectionName: c, objectUrl: `s3://bkt/${i}.json` })).body.data as { jobId: string }).jobId,
      );
    const paged = await call(gw, 'POST', `${V2}/list`, {
      key: admin,
      body: { collectionName: c, pageSize: 2, currentPage: '1' },
    });
    expect(paged.body.data).toMatchObject({ count: 3, currentPage: 1, pageSize: 2 });
    const recs = (paged.body.data as { records: { jobId: string; state: string; collectionName: string }[] }).records;
    expect(recs.map((x) => x.jobId)).toEqual([ids[2], ids[1]]);
    expect(recs[0]).toMatchObject({ collectionName: c, state: 'Pending', gatewayState: 'Pending', progress: 0 });
    const page2 = await call(gw, 'POST', `${V2}/list`, {
      key: admin,
      body: { collectionName: c, pageSize: 2, currentPage: 2 },
    });
    expect((page2.body.data as { records: unknown[] }).records).toHaveLength(1);
    const past = await call(gw, 'POST', `${V2}/list`, {
      key: admin,
      body: { collectionName: c, pageSize: 2, currentPage: 9 },
    });
    expect((past.body.data as { records: unknown[] }).records).toEqual([]);
    const clamped = await call(gw, 'POST', `${V2}/list`, { key: admin, body: { collectionName: c, pageSize: 500 } });
    expect((clamped.body.data as { pageSize: number }).pageSize).toBe(100);
    expect((await call(gw, 'POST', `${V2}/list`, { key: admin, body: { pageSize: 0 } })).body.code).toBe(1100);
    const milvus = await call(gw, 'POST', `${V2}/list`, { key: admin, body: { collectionName: c } });
    expect(Object.keys(milvus.body.data as object)).toEqual(['records']);
    expect((milvus.body.data as { records: unknown[] }).records).toHaveLength(3);
    const zilliz = await call(gw, 'POST', `${V2}/list`, {
      key: admin,
      body: `{"collectionName":"${c}","pageSize":10,}`,
    });
    expect(zilliz.body.data).toMatchObject({ count: 3 });
  });

  it('cancels a Pending job (state Failed, gatewayState Cancelled), then treats a second cancel as a no-op', async () => {
    const jobId = (
      (await create({ collectionName: collection, objectUrl: 's3://bkt/x.json', accessKey: 'AKIAX', secretKey: 'sk' }))
        .body.data as { jobId: string }
    ).jobId;
    const c1 = await call(gw, 'POST', `${V2}/cancel`, { key: admin, body: { jobId } });
    expect(c1.body.data).toMatchObject({
      state: 'Failed',
      gatewayState: 'Cancelled',
      progress: 0,
      details: [{ state: 'Failed' }],
    });
    expect((c1.body.data as { reason: string }).reason).toMatch(/^cancelled/);
    expect((c1.body.data as { completeTime: string }).completeTime).not.toBe('');
    const c2 = await call(gw, 'POST', `${V2}/cancel`, { key: admin, body: { jobId } });
    expect(c2.body.code).toBe(0);
    const creds = await gw.db.query(`SELECT credentials_id FROM import_jobs WHERE job_id = $1`, [jobId]);
    expect(creds.rows[0].credentials_id).toBeNull();
    const filtered = await call(gw, 'POST', `${V2}/list`, {
      key: admin,
      body: { collectionName: collection, state: 'Cancelled' },
    });
    expect((filtered.body.data as { records: { jobId: string }[] }).records.map((x) => x.jobId)).toContain(jobId);
    const events = await gw.db.query(
      `SELECT to_state FROM import_job_events e JOIN import_jobs j ON j.id = e.job_id WHERE j.job_id = $1 ORDER BY e.id`,
      [jobId],
    );
    expect(events.rows.map((x: { to_state: string }) => x.to_state)).toEqual(['Pending', 'Cancelled']);
  });

  it('refuses to cancel a Completed job with 1100', async () => {
    const jobId = (
      (await create({ collectionName: collection, objectUrl: 's3://bkt/y.json' })).body.data as { jobId: string }
    ).jobId;
    await gw.db.query(`UPDATE import_jobs SET state = 'Completed', completed_at = now() WHERE job_id = $1`, [jobId]);
    const r = await call(gw, 'POST', `${V2}/cancel`, { key: admin, body: { jobId } });
    expect(r.body).toEqual({
      code: 1100,
      message: `invalid parameter: job ${jobId} is Completed and cannot be cancelled`,
    });
  });
});

describe('legacy v1 routes', () => {
  it('creates with objectUrl, reports progress as a fraction and lists tasks with v1 states', async () => {
    const c = await makeCollection(gw.db);
    const r = await call(gw, 'POST', '/v1/vector/collections/import', {
      key: admin,
      body: { clusterId: 'in01-x', collectionName: c, objectUrl: 's3://bkt/v1.json' },
    });
    expect(r.body.code).toBe(200);
    const jobId = (r.body.data as { jobId: string }).jobId;
    const g = await call(gw, 'GET', `/v1/vector/collections/import/get?jobId=${jobId}&clusterId=in01-x`, {
      key: admin,
    });
    expect(g.body).toMatchObject({
      code: 200,
      data: {
        jobId,
        collectionName: c,
        fileName: 's3://bkt/v1.json',
        readyPercentage: 0,
        completeTime: null,
        errorMessage: null,
      },
    });
    const l = await call(
      gw,
      'GET',
      `/v1/vector/collections/import/list?clusterId=x&pageSize=5&currentPage=1&collectionName=${c}`,
      {
        key: admin,
      },
    );
    expect(l.body).toMatchObject({
      code: 200,
      data: { count: 1, currentPage: 1, pageSize: 5, tasks: [{ jobId, state: 'ImportRunning' }] },
    });
    const missing = await call(gw, 'POST', '/v1/vector/collections/import', {
      key: admin,
      body: { collectionName: c },
    });
    expect(missing.body).toEqual({ code: 1802, message: 'missing required parameters: objectUrl' });
  });
});

describe('idempotency', () => {
  it('replays the original job for the same key and body, and refuses the key with a different body', async () => {
    const c = await makeCollection(gw.db);
    const headers = { 'Idempotency-Key': `k-${c}` };
    const a = await create(
      { collectionName: c, objectUrl: 's3://bkt/i.json', accessKey: 'A', secretKey: 'one' },
      { headers },
    );
    const b = await create(
      { collectionName: c, objectUrl: 's3://bkt/i.json', accessKey: 'A', secretKey: 'two' },
      { headers },
    );
    expect(b.body.data).toEqual(a.body.data);
    expect(b.headers.get('idempotent-replayed')).toBe('true');
    expect(a.headers.get('idempotent-replayed')).toBeNull();
    const d = await create({ collectionName: c, objectUrl: 's3://bkt/other.json' }, { headers });
    expect(d.body).toEqual({
      code: 1100,
      message: 'invalid parameter: idempotency key reused with a different request',
    });
  });

  it('creates exactly one job for 50 parallel creates with one key', async () => {
    const c = await makeCollection(gw.db);
    const headers = { 'Idempotency-Key': 'parallel-1' };
    const rs = await Promise.all(
      Array.from({ length: 50 }, () => create({ collectionName: c, objectUrl: 's3://bkt/p.json' }, { headers })),
    );
    const ids = new Set(rs.map((r) => (r.body.data as { jobId: string }).jobId));
    expect(rs.every((r) => r.body.code === 0)).toBe(true);
    expect(ids.size).toBe(1);
    const n = await gw.db.query(`SELECT count(*)::int AS n FROM import_jobs WHERE collection_name = $1`, [c]);
    expect(n.rows[0].n).toBe(1);
  });
});

describe('enqueueing and secrets', () => {
  it('commits the job, enqueues only its id on the collection queue, and never lets credentials out', async () => {
    const secret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
    const token = 'FwoGZXIvYXdzEXAMPLESESSIONTOKEN';
    const sig = 'X-Amz-Signature=deadbeefcafe1234';
    const r = await create({
      collectionName: collection,
      objectUrls: [
        ['s3://bkt/a.parquet'],
        [`https://bkt.s3.us-east-1.amazonaws.com/b.parquet?${sig}&X-Amz-Credential=AKIAPRESIGNED`],
      ],
      accessKey: 'AKIAIOSFODNN7EXAMPLE',
      secretKey: secret,
      token,
    });
    expect(r.body.code).toBe(0);
    const jobId = (r.body.data as { jobId: string }).jobId;
    const d = await call(gw, 'POST', `${V2}/describe`, { key: admin, body: { jobId } });

    const redis = new Redis(testEnv().redisUrl);
    try {
      const prefix = `${gw.config.queuePrefix}:${importQueueName('default', collection)}`;
      const data = await redis.hget(`${prefix}:${jobId}`, 'data');
      expect(JSON.parse(data!)).toEqual({ jobId });
      let dump = '';
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(cursor, 'MATCH', `${testEnv().queuePrefix}*`, 'COUNT', 500);
        cursor = next;
        for (const k of keys) {
          const type = await redis.type(k);
          if (type === 'hash') dump += JSON.stringify(await redis.hgetall(k));
          else if (type === 'string') dump += (await redis.get(k)) ?? '';
          else if (type === 'list') dump += (await redis.lrange(k, 0, -1)).join();
        }
      } while (cursor !== '0');
      const row = await gw.db.query(
        `SELECT j.*, f.* FROM import_jobs j JOIN import_job_files f ON f.job_id = j.id WHERE j.job_id = $1`,
        [jobId],
      );
      const sealed = await gw.db.query(
        `SELECT c.* FROM import_job_credentials c JOIN import_jobs j ON j.credentials_id = c.id WHERE j.job_id = $1`,
        [jobId],
      );
      expect(sealed.rows).toHaveLength(1);
      for (const [where, text] of [
        ['redis', dump],
        ['logs', gw.logs()],
        ['create response', r.text],
        ['describe response', d.text],
        ['job rows', JSON.stringify(row.rows)],
        ['sealed credentials', JSON.stringify(sealed.rows)],
      ] as const) {
        for (const s of [secret, token, 'deadbeefcafe1234', 'AKIAPRESIGNED'])
          expect(text, `${s} in ${where}`).not.toContain(s);
      }
      expect(d.text).toContain('https://bkt.s3.us-east-1.amazonaws.com/b.parquet');
    } finally {
      redis.disconnect();
    }
  });

  it('still creates the job (Pending) when Redis is down', async () => {
    const down = await startTestGateway({ REDIS_URL: 'redis://127.0.0.1:1', DATABASE_URL: gw.config.databaseUrl });
    try {
      const key = await down.apiKey(['admin']);
      const t0 = Date.now();
      const r = await call(down, 'POST', `${V2}/create`, {
        key,
        body: { collectionName: collection, objectUrl: 's3://bkt/r.json' },
      });
      expect(r.body.code).toBe(0);
      expect(Date.now() - t0).toBeLessThan(5_000);
      const jobId = (r.body.data as { jobId: string }).jobId;
      const row = await down.db.query(`SELECT state FROM import_jobs WHERE job_id = $1`, [jobId]);
      expect(row.rows[0].state).toBe('Pending');
      expect(down.logs()).toContain('stays Pending');
    } finally {
      await down.close();
    }
  });
});
