import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { startTestGateway, type TestGateway } from '@gw/testing';
import {
  duckdbParquet,
  firstPageOffset,
  gzipZeros,
  numpyIds,
  numpyVectors,
  pageHeader,
  patchFirstPage,
  patchNpyHeader,
  virtualBody,
  zstdRleBomb,
} from '../../support/hostile-files';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { jsonl, range } from './fixtures';
import { createJob, newCollection, WorkerProcesses } from './harness';

/**
 * Issue 13 point 1 through the real API and a worker process: every crafted file (decision 0801)
 * ends Failed naming file, field and the declared size, a normal job beside them completes, and
 * the worker's peak RSS stays under 300 MB, with parsing on the main thread and in a parse thread
 * (pieces cut and shipped).
 */
let web: HttpTestServer;
let gw: TestGateway;
let key: string;
const ENV = {
  WORKER_PARSE_THREADS: '1',
  WORKER_CONCURRENCY: '2',
  WORKER_LEASE_MS: '3000',
  WORKER_RECONCILE_INTERVAL_MS: '500',
  STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
  STORAGE_ALLOW_HTTP: 'true',
};
const workers = new WorkerProcesses(() => gw, ENV);
const RSS_LIMIT_MB = 300;

beforeAll(async () => {
  web = new HttpTestServer();
  await web.start();
  gw = await startTestGateway(ENV);
  key = await gw.apiKey(['admin']);
});
afterAll(async () => {
  await workers.killAll();
  await gw?.close();
  await web?.stop();
});

async function finished(jobId: string): Promise<{ state: string; reason: string }> {
  let row: { state: string; reason: string } | undefined;
  await expect
    .poll(
      async () => {
        row = (await gw.db.query(`SELECT state, reason FROM import_jobs WHERE job_id = $1`, [jobId])).rows[0] as {
          state: string;
          reason: string;
        };
        return row.state;
      },
      { timeout: 60_000, interval: 100 },
    )
    .toMatch(/^(Completed|Failed)$/);
  return row!;
}

/** Peak and current resident set of a process, in MB (VmHWM / VmRSS of /proc/<pid>/status). */
function rssOf(pid: number): { peak: number; now: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peak: Math.round(kb('VmHWM') / 1024), now: Math.round(kb('VmRSS') / 1024) };
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('hostile files through the API and a worker', () => {
  // 0: parsed on the worker's main thread (the default on 2 cores); 1: pieces in a parse thread.
  it.each(['0', '1'])(
    'fails each crafted file with its reason while a normal job completes and worker RSS stays ≤ 300 MB (parse threads: %s)',
    async (threads) => {
      onTestFailed(() => console.log(workers.outputs()));
      const c = await newCollection(gw, key, 'hostile');
      const url = (name: string): string => web.url(`/${c}/${name}`);

      // Parquet from DuckDB, patched (the first page of `id` replaced in place).
      const [snappy, zstd, gzip] = await Promise.all([
        duckdbParquet(60_000, 'snappy'),
        duckdbParquet(60_000, 'zstd'),
        duckdbParquet(60_000, 'gzip'),
      ]);
      const at = firstPageOffset(snappy, 'id');
      const some = snappy.subarray(at + 64, at + 1064);
      const zBomb = zstdRleBomb(2 ** 31, false);
      const gBomb = await gzipZeros(256 << 20);
      web.put(
        `/${c}/size-lie.parquet`,
        patchFirstPage(
          snappy,
          'id',
          pageHeader({ type: 'DATA_PAGE', uncompressed: 2 ** 31 - 1, compressed: 1000, values: 100 }),
          some,
        ),
      );
      web.put(
        `/${c}/zstd-bomb.parquet`,
        patchFirstPage(
          zstd,
          'id',
          pageHeader({ type: 'DATA_PAGE', uncompressed: 100_000, compressed: zBomb.length, values: 100 }),
          zBomb,
        ),
      );
      web.put(
        `/${c}/gzip-bomb.parquet`,
        patchFirstPage(
          gzip,
          'id',
          pageHeader({ type: 'DATA_PAGE', uncompressed: 1 << 20, compressed: gBomb.length, values: 100 }),
          gBomb,
        ),
      );
      web.put(
        `/${c}/values-lie.parquet`,
        patchFirstPage(
          snappy,
          'id',
          pageHeader({ type: 'DATA_PAGE', uncompressed: 1000, compressed: 1000, values: 2 ** 31 - 1 }),
          some,
        ),
      );
      const footerTail = Buffer.alloc(8);
      footerTail.writeUInt32LE(600_000_000, 0);
      footerTail.write('PAR1', 4, 'latin1');
      web.putGenerated(`/${c}/footer-lie.parquet`, virtualBody(Buffer.from('PAR1'), 0, 700_000_000, footerTail));

      // NumPy from numpy, patched: a shape lying about its rows; a 400 MB-per-row dtype in an 800 MB object.
      web.put(`/${c}/npy-shape/id.npy`, patchNpyHeader(numpyIds(10), 'shape', '(1000000000,)'));
      web.put(`/${c}/npy-shape/vector.npy`, numpyVectors(10, 4));
      web.put(`/${c}/npy-wide/id.npy`, numpyIds(2));
      web.put(`/${c}/npy-wide/vector.npy`, numpyVectors(2, 4));
      const wideHead = patchNpyHeader(numpyVectors(2, 4), 'descr', '<U100000000').subarray(0, 128);
      web.putGenerated(`/${c}/npy-wide/extra.npy`, virtualBody(wideHead, 0, 128 + 2 * 1_600_000_000));

      // Text that never ends, made as it is served: nothing of it is held by the server either.
      const jsonHead = Buffer.from('[{"id": 1, "vector": [1, 2, 3, 4], "note": "');
      web.putGenerated(`/${c}/string.json`, virtualBody(jsonHead, 0x61, jsonHead.length + 2 ** 30));
      const csvHead = Buffer.from('id,vector,note\n1,"[1,2,3,4]",ok\n2,"[1,2,3,4]","never');
      web.putGenerated(`/${c}/open.csv`, virtualBody(csvHead, 0x62, csvHead.length + 2 ** 30));
      const lineHead = Buffer.from('{"id": 1, "vector": [1, 2, 3, 4]}\n{"id": 2, "vector": [1, 2, 3, 4], "pad": "');
      web.putGenerated(`/${c}/long.jsonl`, virtualBody(lineHead, 0x61, lineHead.length + (256 << 20)));

      const normalIds = range(1, 20_000);
      web.put(`/${c}/normal.jsonl`, jsonl(normalIds));

      const cases: { files: string[]; reason: RegExp }[] = [
        {
          files: ['size-lie.parquet'],
          reason: new RegExp(
            `^${escape(url('size-lie.parquet'))}: field 'id': page at byte ${at} declares 2147483647 bytes uncompressed, more than IMPORT_MAX_PAGE_BYTES \\(268435456\\)`,
          ),
        },
        {
          files: ['zstd-bomb.parquet'],
          reason: new RegExp(
            `^${escape(url('zstd-bomb.parquet'))}: field 'id': zstd data expands to more than its page's 100000 bytes`,
          ),
        },
        {
          files: ['gzip-bomb.parquet'],
          reason: new RegExp(
            `^${escape(url('gzip-bomb.parquet'))}: field 'id': page decompresses to more than its 1048576 bytes`,
          ),
        },
        {
          files: ['values-lie.parquet'],
          reason: new RegExp(
            `^${escape(url('values-lie.parquet'))}: field 'id': page at byte ${at} declares 2147483647 values`,
          ),
        },
        {
          files: ['footer-lie.parquet'],
          reason: new RegExp(
            `^${escape(url('footer-lie.parquet'))}: parquet footer declares 600000000 bytes, more than the 67108864 a footer may take`,
          ),
        },
        {
          files: ['npy-shape/id.npy', 'npy-shape/vector.npy'],
          reason: new RegExp(
            `^${escape(url('npy-shape/id.npy'))}: field 'id': file is truncated: 1000000000 rows need 8000000128 bytes`,
          ),
        },
        {
          files: ['npy-wide/id.npy', 'npy-wide/vector.npy', 'npy-wide/extra.npy'],
          reason: new RegExp(
            `^${escape(url('npy-wide/extra.npy'))}: field 'extra': NumPy shape \\(2, 4\\) of '<U100000000' declares rows of 1600000000 bytes, more than IMPORT_MAX_PAGE_BYTES \\(268435456\\)`,
          ),
        },
        {
          files: ['string.json'],
          reason: new RegExp(
            `^${escape(url('string.json'))}: row 1 \\(byte 1\\), field 'note': row is larger than 16777216 bytes`,
          ),
        },
        {
          files: ['open.csv'],
          reason: new RegExp(
            `^${escape(url('open.csv'))}: row 2 \\(line 3\\), field 'note': row is larger than 16777216 bytes`,
          ),
        },
        {
          files: ['long.jsonl'],
          reason: new RegExp(
            `^${escape(url('long.jsonl'))}: row 2 \\(byte 34\\), field 'pad': row is larger than 16777216 bytes`,
          ),
        },
      ];

      const normal = await createJob(gw, key, { collectionName: c, objectUrl: url('normal.jsonl') });
      const jobs = [];
      for (const k of cases)
        jobs.push(await createJob(gw, key, { collectionName: c, files: [k.files.map((f) => url(f))] }));
      const worker = workers.start({ WORKER_PARSE_THREADS: threads });

      let peak = 0;
      const sampler = setInterval(() => {
        if (worker.child.pid !== undefined) peak = Math.max(peak, rssOf(worker.child.pid).now);
      }, 50);
      try {
        const results = await Promise.all(jobs.map(finished));
        results.forEach((r, i) => {
          expect(r.state, cases[i]!.files.join(',')).toBe('Failed');
          expect(r.reason).toMatch(cases[i]!.reason);
        });
        expect(await finished(normal)).toEqual({ state: 'Completed', reason: '' });
        const rows = await gw.db.query(`SELECT count(*)::int AS n FROM "milvus_default"."${c}"`);
        expect(rows.rows[0].n).toBe(normalIds.length);
      } finally {
        clearInterval(sampler);
      }
      const rss = rssOf(worker.child.pid!);
      console.log(
        `hostile files, ${threads} parse threads: worker peak RSS ${rss.peak} MB (VmHWM), sampled ${peak} MB`,
      );
      await workers.killAll();
      expect(rss.peak).toBeLessThanOrEqual(RSS_LIMIT_MB);
    },
    120_000,
  );
});
