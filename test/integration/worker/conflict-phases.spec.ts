import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, startTestGateway, startTestWorker, type TestGateway, type TestWorker, uniqueName } from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { vectorOf } from './fixtures';

/*
 * on_conflict (issue 16 point 6), the phase timeline (point 7) and the index state (point 8)
 * through the API and a real worker, on HTTP-served JSONL. This machine's PostgreSQL has no
 * pgvector, so the index is reported Skipped with its reason; the build itself is tested on PGlite
 * (test/integration/collections/vector-indexes.spec.ts).
 */

interface Described {
  gatewayState: string;
  reason: string;
  importedRows: number;
  conflictRows?: number;
  indexState?: string;
  indexReason?: string;
  phases?: {
    phase: string;
    state: string;
    startTime: string;
    endTime: string;
    rows?: number;
    rowsPerSecond?: number;
    message?: string;
  }[];
}

const rowsOf = (ids: readonly number[], tag: string): Buffer =>
  Buffer.from(ids.map((i) => JSON.stringify({ id: i, vector: vectorOf(i), tag })).join('\n') + '\n');
const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, k) => a + k);

describe('conflict modes, phases and index state', () => {
  let web: HttpTestServer;
  let gw: TestGateway;
  let worker: TestWorker;
  let key: string;
  let coll: string;

  beforeAll(async () => {
    web = new HttpTestServer();
    await web.start();
    gw = await startTestGateway({ WORKER_LEASE_MS: '3000', LOG_LEVEL: 'warn' });
    worker = await startTestWorker(gw.config);
    key = await gw.apiKey(['admin']);
    coll = uniqueName('conf');
    const r = await call(gw, 'POST', '/v2/vectordb/collections/create', {
      key,
      body: {
        collectionName: coll,
        schema: {
          autoId: false,
          enableDynamicField: false,
          fields: [
            { fieldName: 'id', dataType: 'Int64', isPrimary: true },
            { fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: 4 } },
            { fieldName: 'tag', dataType: 'VarChar', elementTypeParams: { max_length: 16 } },
          ],
        },
        indexParams: [
          { fieldName: 'vector', indexName: 'vidx', metricType: 'L2', indexType: 'HNSW', params: { M: 8 } },
        ],
      },
    });
    expect(r.body.code, r.text).toBe(0);
  }, 120_000);
  afterAll(async () => {
    await worker?.close();
    await gw?.close();
    await web?.stop();
  });

  async function run(files: Buffer[], options: Record<string, string> = {}): Promise<Described> {
    const name = uniqueName('f');
    const urls = files.map((body, i) => {
      web.put(`/${coll}/${name}-${i}.jsonl`, body);
      return [web.url(`/${coll}/${name}-${i}.jsonl`)];
    });
    const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
      key,
      body: { collectionName: coll, files: urls, options },
    });
    expect(r.body.code, r.text).toBe(0);
    const jobId = (r.body.data as { jobId: string }).jobId;
    for (let i = 0; i < 600; i++) {
      const d = (await call(gw, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId } })).body
        .data as Described;
      const indexing = d.phases?.find((p) => p.phase === 'indexing');
      if (d.gatewayState !== 'Pending' && d.gatewayState !== 'Importing' && indexing?.state !== 'Running') return d;
      await new Promise((res) => setTimeout(res, 100));
    }
    throw new Error(`job ${jobId} did not end`);
  }

  const table = () => `"milvus_default"."${coll}"`;
  const tags = async (): Promise<Map<number, string>> => {
    const r = await gw.db.query<{ id: string; tag: string }>(`SELECT id::text, tag FROM ${table()} ORDER BY id`);
    return new Map(r.rows.map((x) => [Number(x.id), x.tag]));
  };

  it('loads two groups through staging with a full phase timeline and reports the index apart', async () => {
    const d = await run([rowsOf(range(1, 50), 'a'), rowsOf(range(51, 100), 'a')]);
    expect(d.gatewayState, d.reason).toBe('Completed');
    expect(d.importedRows).toBe(100);
    expect(d.phases!.map((p) => [p.phase, p.state])).toEqual([
      ['listing', 'Done'],
      ['reading', 'Done'],
      ['validating', 'Done'],
      ['publishing', 'Done'],
      ['indexing', 'Skipped'],
    ]);
    const byPhase = Object.fromEntries(d.phases!.map((p) => [p.phase, p]));
    expect(byPhase.reading!.rows).toBe(100);
    expect(byPhase.publishing!.rows).toBe(100);
    // Per-phase speed: rows over the phase's duration, for the phases that move rows.
    for (const p of ['reading', 'validating', 'publishing']) {
      expect(Number.isInteger(byPhase[p]!.rowsPerSecond), p).toBe(true);
      expect(byPhase[p]!.rowsPerSecond, p).toBeGreaterThan(0);
    }
    expect(byPhase.listing).not.toHaveProperty('rowsPerSecond');
    expect(byPhase.indexing).not.toHaveProperty('rowsPerSecond');
    for (const p of d.phases!) expect(Date.parse(p.endTime)).toBeGreaterThanOrEqual(Date.parse(p.startTime));
    // Phases follow each other in time.
    const starts = d.phases!.map((p) => Date.parse(p.startTime));
    expect([...starts].sort((a, b) => a - b)).toEqual(starts);
    expect(d.indexState).toBe('Skipped');
    expect(d.indexReason).toMatch(/vidx: .*real\[\]/);
    expect(d.conflictRows).toBeUndefined(); // on_conflict=error reports no count
    expect((await tags()).size).toBe(100);
  }, 120_000);

  it('on_conflict=error (the default) fails naming the key, and publishes nothing', async () => {
    const d = await run([rowsOf(range(91, 95), 'e'), rowsOf(range(96, 110), 'e')]);
    expect(d.gatewayState).toBe('Failed');
    expect(d.reason).toMatch(/duplicate primary key: id=(9[1-9]|100)/);
    const failed = d.phases!.find((p) => p.state === 'Failed');
    expect(failed?.phase).toBe('publishing');
    expect((await tags()).size).toBe(100);
  }, 120_000);

  it('on_conflict=skip keeps existing rows and counts the skipped ones', async () => {
    const d = await run([rowsOf(range(91, 100), 's'), rowsOf(range(101, 110), 's')], { on_conflict: 'skip' });
    expect(d.gatewayState, d.reason).toBe('Completed');
    expect(d.conflictRows).toBe(10);
    expect(d.importedRows).toBe(10);
    const t = await tags();
    expect(t.size).toBe(110);
    expect(t.get(95)).toBe('a');
    expect(t.get(105)).toBe('s');
  }, 120_000);

  it('on_conflict=upsert replaces existing rows, the last staged row of a key winning, even for one file', async () => {
    const file = Buffer.concat([rowsOf(range(101, 120), 'u1'), rowsOf([120], 'u2')]);
    const d = await run([file], { on_conflict: 'upsert' });
    expect(d.gatewayState, d.reason).toBe('Completed');
    // 101–110 existed, and 120 came twice in the file.
    expect(d.conflictRows).toBe(11);
    expect(d.importedRows).toBe(20);
    expect(d.phases!.find((p) => p.phase === 'validating')?.state).toBe('Done'); // through staging
    const t = await tags();
    expect(t.size).toBe(120);
    expect(t.get(100)).toBe('a');
    expect(t.get(105)).toBe('u1');
    expect(t.get(120)).toBe('u2');
  }, 120_000);

  it('a one-file job with on_conflict=error copies straight in: validating is folded into reading', async () => {
    const d = await run([rowsOf(range(121, 130), 'd')]);
    expect(d.gatewayState, d.reason).toBe('Completed');
    const v = d.phases!.find((p) => p.phase === 'validating')!;
    expect(v.state).toBe('Skipped');
    expect(v.message).toMatch(/copied straight in/);
    expect(d.phases!.find((p) => p.phase === 'publishing')?.rows).toBe(10);
  }, 120_000);

  it('refuses on_conflict skip/upsert on an autoID collection (1100) and an unknown mode', async () => {
    const auto = uniqueName('auto');
    const c = await call(gw, 'POST', '/v2/vectordb/collections/create', {
      key,
      body: { collectionName: auto, dimension: 4, autoId: true },
    });
    expect(c.body.code, c.text).toBe(0);
    const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
      key,
      body: { collectionName: auto, files: [[web.url('/x.jsonl')]], options: { on_conflict: 'upsert' } },
    });
    expect(r.body.code).toBe(1100);
    expect(r.body.message).toMatch(/on_conflict=upsert .*autoID/);
    const bad = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
      key,
      body: { collectionName: coll, files: [[web.url('/x.jsonl')]], options: { on_conflict: 'merge' } },
    });
    expect(bad.body.code).toBe(1100);
  }, 60_000);
});
