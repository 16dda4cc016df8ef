import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, startTestWorker, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { S3TestServer } from '../../support/storage/s3-test-server';
import { jsonl, numpy, range } from '../worker/fixtures';

/** File ledger and options.skip_imported (issue 16 point 4, decision 1401), through HTTP and a real worker. */
const V2 = '/v2/vectordb';

interface Detail {
  fileName: string;
  state: string;
  importedRows: number;
  progress: number;
  skippedFiles?: number;
}
interface Describe {
  state: string;
  gatewayState: string;
  reason: string;
  importedRows: number;
  progress: number;
  conflictRows?: number;
  details: Detail[];
}

let s3: S3TestServer;
let web: HttpTestServer;
let gw: TestGateway;
let worker: TestWorker;
let key: string;

beforeAll(async () => {
  s3 = new S3TestServer();
  await s3.start();
  s3.createBucket('data');
  web = new HttpTestServer();
  await web.start();
  gw = await startTestGateway({
    ...s3.gatewayEnv('data'),
    WORKER_RECONCILE_INTERVAL_MS: '500',
    WORKER_CONCURRENCY: '2',
  });
  worker = await startTestWorker(gw.config);
  key = await gw.apiKey(['admin']);
});
afterAll(async () => {
  await worker?.close();
  await gw?.close();
  await s3?.stop();
  await web?.stop();
});

async function newCollection(): Promise<string> {
  const name = uniqueName('ledger');
  const r = await call(gw, 'POST', `${V2}/collections/create`, { key, body: { collectionName: name, dimension: 4 } });
  expect(r.body.code, r.text).toBe(0);
  return name;
}

async function importAndWait(body: Record<string, unknown>): Promise<Describe> {
  const r = await call(gw, 'POST', `${V2}/jobs/import/create`, { key, body });
  expect(r.body.code, r.text).toBe(0);
  const jobId = (r.body.data as { jobId: string }).jobId;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const d = await call(gw, 'POST', `${V2}/jobs/import/describe`, { key, body: { jobId } });
    const data = d.body.data as Describe;
    if (data.gatewayState !== 'Pending' && data.gatewayState !== 'Importing') return data;
    if (Date.now() > deadline)
      throw new Error(`job ${jobId} still ${data.gatewayState}\n${worker.logs().slice(-3000)}`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

async function rowCount(collection: string): Promise<number> {
  const r = await gw.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM "milvus_default"."${collection}"`);
  return r.rows[0]!.n;
}

async function ledger(collection: string): Promise<{ url: string; version: string; size: number }[]> {
  const r = await gw.db.query<{ url: string; version: string; size: number }>(
    `SELECT l.url, l.version, l.size_bytes::int AS size FROM import_file_ledger l
       JOIN gateway_collections g ON g.id = l.collection_id
      WHERE g.db_name = 'default' AND g.name = $1 ORDER BY l.url`,
    [collection],
  );
  return r.rows;
}

describe('file ledger and skip_imported', () => {
  it('records every object a Completed job loaded with its ETag and size, and skips them on a re-run', async () => {
    const c = await newCollection();
    const a = jsonl(range(1, 100));
    const b = jsonl(range(101, 50));
    s3.putDirect('data', `${c}/a.jsonl`, a);
    s3.putDirect('data', `${c}/b.jsonl`, b);
    const urls = [`s3://data/${c}/a.jsonl`, `s3://data/${c}/b.jsonl`];
    const first = await importAndWait({ collectionName: c, objectUrls: [[urls[0]], [urls[1]]] });
    expect(first).toMatchObject({ gatewayState: 'Completed', importedRows: 150, reason: '' });
    const l = await ledger(c);
    expect(l.map((x) => [x.url, x.size])).toEqual([
      [urls[0], a.length],
      [urls[1], b.length],
    ]);
    expect(l.every((x) => /^"[0-9a-f]{32}"$/.test(x.version))).toBe(true);

    // Same two files plus a new one: only the new one is read.
    s3.putDirect('data', `${c}/c.jsonl`, jsonl(range(151, 25)));
    const again = await importAndWait({
      collectionName: c,
      objectUrls: [[urls[0]], [urls[1]], [`s3://data/${c}/c.jsonl`]],
      options: { skip_imported: 'true' },
    });
    expect(again).toMatchObject({ state: 'Completed', importedRows: 25, progress: 100, reason: '' });
    expect(again.details.map((d) => [d.state, d.importedRows, d.progress])).toEqual([
      ['Skipped', 0, 100],
      ['Skipped', 0, 100],
      ['Completed', 25, 100],
    ]);
    expect(await rowCount(c)).toBe(175);
  });

  it('completes with 0 rows when every file was loaded already, and loads a file again once it changed', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/a.jsonl`, jsonl(range(1, 10)));
    const url = `s3://data/${c}/a.jsonl`;
    expect((await importAndWait({ collectionName: c, objectUrl: url })).importedRows).toBe(10);
    const all = await importAndWait({ collectionName: c, objectUrl: url, options: { skip_imported: 'TRUE' } });
    expect(all).toMatchObject({ state: 'Completed', importedRows: 0, progress: 100, reason: '' });
    expect(all.details.map((d) => d.state)).toEqual(['Skipped']);
    expect(await rowCount(c)).toBe(10);

    // A new version of the object (new ETag) is loaded, and the ledger then holds that version.
    const changed = jsonl(range(11, 7));
    s3.putDirect('data', `${c}/a.jsonl`, changed);
    const reloaded = await importAndWait({ collectionName: c, objectUrl: url, options: { skip_imported: 'true' } });
    expect(reloaded).toMatchObject({ state: 'Completed', importedRows: 7 });
    expect(reloaded.details.map((d) => d.state)).toEqual(['Completed']);
    expect((await ledger(c)).map((x) => x.size)).toEqual([changed.length]);
    expect(await rowCount(c)).toBe(17);
  });

  it('skips an HTTPS object by its ETag, and always loads one served without a version', async () => {
    const c = await newCollection();
    web.put(`/${c}/tagged.jsonl`, jsonl(range(1, 10)));
    web.put(`/${c}/bare.jsonl`, jsonl(range(11, 5)), { noEtag: true });
    const files = [[web.url(`/${c}/tagged.jsonl`)], [web.url(`/${c}/bare.jsonl`)]];
    expect((await importAndWait({ collectionName: c, files })).importedRows).toBe(15);
    expect((await ledger(c)).map((x) => [x.url, x.version === ''])).toEqual([
      [web.url(`/${c}/bare.jsonl`), true],
      [web.url(`/${c}/tagged.jsonl`), false],
    ]);
    // Nothing proves the bare object unchanged: it is read again (its rows meet their keys: skipped).
    const again = await importAndWait({
      collectionName: c,
      files,
      options: { skip_imported: 'true', on_conflict: 'skip' },
    });
    expect(again).toMatchObject({ state: 'Completed', importedRows: 0, conflictRows: 5 });
    expect(again.details.map((d) => d.state)).toEqual(['Skipped', 'Completed']);
    expect(await rowCount(c)).toBe(15);
  });

  it('re-runs a folder safely: only objects added since are loaded, and describe counts the skipped ones', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/in/1.jsonl`, jsonl(range(1, 20)));
    s3.putDirect('data', `${c}/in/2.jsonl`, jsonl(range(21, 20)));
    const folder = `s3://data/${c}/in/`;
    expect((await importAndWait({ collectionName: c, objectUrl: folder })).importedRows).toBe(40);
    s3.putDirect('data', `${c}/in/3.jsonl`, jsonl(range(41, 5)));
    const d = await importAndWait({ collectionName: c, objectUrl: folder, options: { skip_imported: 'true' } });
    expect(d).toMatchObject({ state: 'Completed', importedRows: 5, reason: '' });
    expect(d.details).toMatchObject([{ fileName: folder, state: 'Completed', importedRows: 5, skippedFiles: 2 }]);
    expect(await rowCount(c)).toBe(45);
    expect((await ledger(c)).map((x) => x.url)).toEqual([1, 2, 3].map((i) => `${folder}${i}.jsonl`));
  });

  it('skips a NumPy group only whole: one changed field file loads the group again', async () => {
    const c = await newCollection();
    const n = numpy(range(1, 30));
    s3.putDirect('data', `${c}/np/id.npy`, n.id);
    s3.putDirect('data', `${c}/np/vector.npy`, n.vector);
    const group = [`s3://data/${c}/np/id.npy`, `s3://data/${c}/np/vector.npy`];
    expect((await importAndWait({ collectionName: c, objectUrls: [group] })).importedRows).toBe(30);
    const same = await importAndWait({ collectionName: c, objectUrls: [group], options: { skip_imported: 'true' } });
    expect(same.details.map((d) => [d.state, d.importedRows])).toEqual([['Skipped', 0]]);
    // New ids, same vectors file: the id file changed, so both files are read again.
    const m = numpy(range(31, 30));
    s3.putDirect('data', `${c}/np/id.npy`, m.id);
    const changed = await importAndWait({ collectionName: c, objectUrls: [group], options: { skip_imported: 'true' } });
    expect(changed).toMatchObject({ state: 'Completed', importedRows: 30 });
    expect(await rowCount(c)).toBe(60);
  });

  it('forgets the ledger of a dropped collection: a re-created one loads everything', async () => {
    const c = await newCollection();
    s3.putDirect('data', `${c}/a.jsonl`, jsonl(range(1, 10)));
    const url = `s3://data/${c}/a.jsonl`;
    expect((await importAndWait({ collectionName: c, objectUrl: url })).importedRows).toBe(10);
    expect(await ledger(c)).toHaveLength(1);
    const dropped = await call(gw, 'POST', `${V2}/collections/drop`, { key, body: { collectionName: c } });
    expect(dropped.body.code).toBe(0);
    const r = await call(gw, 'POST', `${V2}/collections/create`, { key, body: { collectionName: c, dimension: 4 } });
    expect(r.body.code).toBe(0);
    const d = await importAndWait({ collectionName: c, objectUrl: url, options: { skip_imported: 'true' } });
    expect(d).toMatchObject({ state: 'Completed', importedRows: 10 });
  });
});
