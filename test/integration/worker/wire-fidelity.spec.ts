import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, uniqueName } from '@gw/testing';
import { range, vectorOf } from './fixtures';
import { type ImportStack, startImportStack } from './harness';

/**
 * Issue 15 point 9, wire fidelity: a NumPy group with `$meta.npy` (formats.md §2.5, §7) imported
 * by a real worker, and what describe / get_progress / getProgress and v1 get say about the
 * finished job (import-api.md §6, §7, §10): sizes of the files as written, rows, complete times.
 */
const V2 = '/v2/vectordb';
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

type Detail = {
  fileName: string;
  fileSize: number;
  state: string;
  progress: number;
  importedRows: number;
  totalRows: number;
  reason: string;
  completeTime: string;
};
type Describe = {
  jobId: string;
  fileName?: string;
  fileSize: number;
  state: string;
  gatewayState: string;
  progress: number;
  importedRows: number;
  totalRows: number;
  reason: string;
  createTime: string;
  completeTime: string;
  details: Detail[];
};

/** Row i's dynamic keys: nested values, a unicode key, a large Int64-like number, an empty object for some. */
function metaOf(i: number): Record<string, unknown> {
  if (i % 10 === 0) return {};
  return { color: i % 2 === 0 ? 'red' : 'blue', n: i, nested: { k: [i, `v${i}`] }, clé: `é${i}` };
}
const titleOf = (i: number) => `título ${i}`;

/**
 * One NumPy group written by numpy: id (int64), title ('<U'), vector (float32 n×4) and `$meta.npy`
 * ('<U' JSON object text, as BulkWriter's NumPy writer saves the dynamic field).
 */
function numpyGroupWithMeta(ids: readonly number[]): Record<'id' | 'title' | 'vector' | '$meta', Buffer> {
  const dir = mkdtempSync(join(tmpdir(), 'igw-npy-meta-'));
  writeFileSync(
    join(dir, 'rows.json'),
    JSON.stringify(
      ids.map((i) => ({ id: i, title: titleOf(i), vector: vectorOf(i), meta: JSON.stringify(metaOf(i)) })),
    ),
  );
  execFileSync('python3', [
    '-c',
    `import json, numpy as np, sys
d = sys.argv[1]
rows = json.load(open(d + '/rows.json', encoding='utf-8'))
np.save(d + '/id.npy', np.array([r['id'] for r in rows], dtype='<i8'))
np.save(d + '/title.npy', np.array([r['title'] for r in rows]))
np.save(d + '/vector.npy', np.array([r['vector'] for r in rows], dtype='<f4'))
np.save(d + '/$meta.npy', np.array([r['meta'] for r in rows]))`,
    dir,
  ]);
  const read = (f: string) => readFileSync(join(dir, `${f}.npy`));
  return { id: read('id'), title: read('title'), vector: read('vector'), $meta: read('$meta') };
}

let stack: ImportStack;

beforeAll(async () => {
  stack = await startImportStack({ WORKER_LEASE_MS: '3000', WORKER_RECONCILE_INTERVAL_MS: '500' });
});
afterAll(async () => {
  await stack?.close();
});

async function post(path: string, body: Record<string, unknown>) {
  const r = await call(stack.gw, 'POST', `${V2}/${path}`, { key: stack.key, body });
  expect(r.body.code, r.text).toBe(0);
  return r.body.data;
}

async function dynamicCollection(): Promise<string> {
  const name = uniqueName('dyn');
  await post('collections/create', {
    collectionName: name,
    schema: {
      enableDynamicField: true,
      fields: [
        { fieldName: 'id', dataType: 'Int64', isPrimary: true },
        { fieldName: 'title', dataType: 'VarChar', elementTypeParams: { max_length: 64 } },
        { fieldName: 'vector', dataType: 'FloatVector', elementTypeParams: { dim: 4 } },
      ],
    },
  });
  return name;
}

async function waitTerminal(jobId: string, timeoutMs = 60_000): Promise<Describe> {
  const deadline = Date.now() + timeoutMs;
  let last: Describe | undefined;
  while (Date.now() < deadline) {
    last = (await post('jobs/import/describe', { jobId })) as Describe;
    if (['Completed', 'Failed', 'Cancelled'].includes(last.gatewayState)) return last;
    await new Promise((res) => setTimeout(res, 100));
  }
  throw new Error(`job ${jobId} not terminal: ${JSON.stringify(last)}\n${stack.worker.logs().slice(-3000)}`);
}

describe('a NumPy group with $meta.npy, HTTP create → worker → PostgreSQL', () => {
  let collection: string;
  let groupUrls: string[];
  let jsonlUrl: string;
  let sizes: { numpy: number; jsonl: number };
  let jobId: string;
  let done: Describe;
  const ids = range(1, 250);
  const jsonlIds = range(1001, 40);

  beforeAll(async () => {
    collection = await dynamicCollection();
    const files = numpyGroupWithMeta(ids);
    groupUrls = (['id', 'title', 'vector', '$meta'] as const).map((f) => {
      stack.web.put(`/${collection}/npy/${f}.npy`, files[f]);
      return stack.web.url(`/${collection}/npy/${f}.npy`);
    });
    // A second group, JSON Lines, whose unknown key `tag` goes to $meta (formats.md §2.4).
    const jsonl = Buffer.from(
      jsonlIds.map((i) => JSON.stringify({ id: i, title: titleOf(i), vector: vectorOf(i), tag: `t${i}` })).join('\n') +
        '\n',
    );
    stack.web.put(`/${collection}/rows.jsonl`, jsonl);
    jsonlUrl = stack.web.url(`/${collection}/rows.jsonl`);
    sizes = { numpy: Object.values(files).reduce((a, b) => a + b.length, 0), jsonl: jsonl.length };
    const created = (await post('jobs/import/create', {
      collectionName: collection,
      objectUrls: [groupUrls, [jsonlUrl]],
    })) as { jobId: string };
    jobId = created.jobId;
    done = await waitTerminal(jobId);
  }, 120_000);

  it('completes and stores each row’s $meta.npy object as its dynamic field', async () => {
    expect(done.reason).toBe('');
    expect(done.gatewayState).toBe('Completed');
    const r = await stack.gw.db.query<{ id: string; title: string; meta: Record<string, unknown> }>(
      `SELECT id::text, title, "$meta" AS meta FROM "milvus_default"."${collection}" ORDER BY id + 0`,
    );
    expect(r.rows).toEqual([
      ...ids.map((i) => ({ id: String(i), title: titleOf(i), meta: metaOf(i) })),
      ...jsonlIds.map((i) => ({ id: String(i), title: titleOf(i), meta: { tag: `t${i}` } })),
    ]);
  });

  it('serves the dynamic keys through entities/query: filters on them and returns them as top-level keys', async () => {
    const red = ids.filter((i) => i % 10 !== 0 && i % 2 === 0).length;
    expect(
      await post('entities/query', {
        collectionName: collection,
        filter: 'color == "red"',
        outputFields: ['count(*)'],
      }),
    ).toEqual([{ 'count(*)': String(red) }]);
    const rows = await post('entities/query', { collectionName: collection, filter: 'id in [7, 10]' });
    expect(rows).toEqual([
      { id: '7', title: titleOf(7), vector: vectorOf(7), ...metaOf(7) },
      { id: '10', title: titleOf(10), vector: vectorOf(10) },
    ]);
  });

  it('describes the finished job with the sizes of the files written, their rows and RFC 3339 complete times', async () => {
    const row = await stack.gw.db.query<{ created_at: Date; completed_at: Date }>(
      `SELECT created_at, completed_at FROM import_jobs WHERE job_id = $1`,
      [jobId],
    );
    const { created_at: createdAt, completed_at: completedAt } = row.rows[0]!;
    const seconds = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, 'Z');
    expect(done).toMatchObject({
      state: 'Completed',
      progress: 100,
      fileSize: sizes.numpy + sizes.jsonl,
      importedRows: ids.length + jsonlIds.length,
      totalRows: ids.length + jsonlIds.length,
      createTime: seconds(createdAt),
      completeTime: seconds(completedAt),
    });
    expect(done.fileName).toBeUndefined(); // two groups: no top-level fileName (§7)
    expect(done.details.map(({ completeTime: _t, ...d }) => d)).toEqual([
      {
        fileName: groupUrls.join(','),
        fileSize: sizes.numpy,
        state: 'Completed',
        progress: 100,
        importedRows: ids.length,
        totalRows: ids.length,
        reason: '',
      },
      {
        fileName: jsonlUrl,
        fileSize: sizes.jsonl,
        state: 'Completed',
        progress: 100,
        importedRows: jsonlIds.length,
        totalRows: jsonlIds.length,
        reason: '',
      },
    ]);
    for (const t of [done.createTime, done.completeTime, ...done.details.map((d) => d.completeTime)]) {
      expect(t).toMatch(RFC3339);
      expect(new Date(t).toISOString().replace(/\.000Z$/, 'Z')).toBe(t); // a real instant, printed back the same
    }
    // Each group's completeTime is its own (when it was fully staged), the job's when it was published.
    const groups = await stack.gw.db.query<{ completed_at: Date }>(
      `SELECT f.completed_at FROM import_job_files f JOIN import_jobs j ON j.id = f.job_id
        WHERE j.job_id = $1 ORDER BY f.group_index`,
      [jobId],
    );
    expect(done.details.map((d) => d.completeTime)).toEqual(groups.rows.map((g) => seconds(g.completed_at)));
    // create ≤ group ≤ job ≤ now.
    for (const d of done.details) {
      expect(Date.parse(d.completeTime)).toBeGreaterThanOrEqual(Date.parse(done.createTime));
      expect(Date.parse(d.completeTime)).toBeLessThanOrEqual(Date.parse(done.completeTime));
    }
    expect(Date.parse(done.completeTime)).toBeLessThanOrEqual(Date.now());
  });

  it('answers the same object on get_progress (Milvus) and getProgress (Zilliz), GET and POST', async () => {
    for (const path of ['get_progress', 'getProgress']) {
      expect(await post(`jobs/import/${path}`, { jobId })).toEqual(done);
      const g = await call(stack.gw, 'GET', `${V2}/jobs/import/${path}?jobId=${jobId}`, { key: stack.key });
      expect(g.body).toEqual({ code: 0, data: done });
    }
  });

  it('answers v1 get (Zilliz v1) with the same sizes and times, readyPercentage 1', async () => {
    const r = await call(stack.gw, 'GET', `/v1/vector/collections/import/get?jobId=${jobId}&clusterId=in01-x`, {
      key: stack.key,
    });
    expect(r.body).toEqual({
      code: 200,
      data: {
        collectionName: collection,
        jobId,
        fileName: [groupUrls.join(','), jsonlUrl].join(','),
        fileSize: sizes.numpy + sizes.jsonl,
        readyPercentage: 1,
        completeTime: done.completeTime,
        errorMessage: null,
        details: done.details.map((d) => ({
          fileName: d.fileName,
          fileSize: d.fileSize,
          readyPercentage: 1,
          completeTime: d.completeTime,
          errorMessage: null,
        })),
      },
    });
  });
});

describe('$meta.npy refused where the spec refuses it', () => {
  it('fails the job naming $meta.npy, row and field when a row of it is not a JSON object, leaving no rows', async () => {
    const collection = await dynamicCollection();
    const files = numpyGroupWithMeta(range(1, 5));
    // A `$meta.npy` whose row 3 is a JSON array, not an object (formats.md §2.5).
    const dir = mkdtempSync(join(tmpdir(), 'igw-npy-meta-bad-'));
    execFileSync('python3', [
      '-c',
      `import numpy as np, sys
np.save(sys.argv[1] + '/$meta.npy', np.array(['{}', '{}', '[1, 2]', '{}', '{}']))`,
      dir,
    ]);
    const urls = (['id', 'title', 'vector'] as const).map((f) => {
      stack.web.put(`/${collection}/bad/${f}.npy`, files[f]);
      return stack.web.url(`/${collection}/bad/${f}.npy`);
    });
    stack.web.put(`/${collection}/bad/$meta.npy`, readFileSync(join(dir, '$meta.npy')));
    urls.push(stack.web.url(`/${collection}/bad/$meta.npy`));
    const { jobId } = (await post('jobs/import/create', { collectionName: collection, objectUrls: [urls] })) as {
      jobId: string;
    };
    const d = await waitTerminal(jobId);
    expect(d.gatewayState).toBe('Failed');
    expect(d.reason).toMatch(/\$meta\.npy: row 3, field '\$meta'/);
    expect(d.completeTime).toMatch(RFC3339);
    const n = await stack.gw.db.query(`SELECT count(*)::int AS n FROM "milvus_default"."${collection}"`);
    expect(n.rows[0].n).toBe(0);
  });
});
