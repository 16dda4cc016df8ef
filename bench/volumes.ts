/**
 * Volumes (issue 17): the real API and worker processes from dist/ (bench/e2e-gateway.ts) with a
 * local volume directory under bench/out/ (gitignored), measured against baselines in the same run:
 *
 * 1. upload: a file of BENCH_VOLUME_UPLOAD_BYTES (default 1 GiB) streamed over loopback HTTP to
 *    `PUT /v2/volumes/<v>/files/<path>` (the API writes a temporary file, hashes SHA-256, fsyncs,
 *    renames) vs the same bytes written to a file of the same disk by this process (fsync included).
 *    The bytes are generated, not read, so neither side pays for a source file.
 * 2. import: BENCH_VOLUME_ROWS (default 100,000) rows of 128-d JSONL imported by volumeName +
 *    dataPaths from the local volume vs by objectUrls from the in-repo S3 test server (loopback,
 *    SigV4) holding the same bytes; one worker process, each job timed from create to Completed.
 *
 *   npm run build && node dist/bench/volumes.js
 *   BENCH_VOLUME_UPLOAD_BYTES=268435456 BENCH_VOLUME_ROWS=20000 node dist/bench/volumes.js   quick run
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { S3TestServer } from '../test/support/storage/s3-test-server';
import { writeTextFiles } from './e2e-fixtures';
import { CREATE_SCHEMA, Gateway } from './e2e-gateway';

const REPO = resolve(__dirname, '..', '..'); // dist/bench → repo
const OUT = join(REPO, 'bench', 'out');
const UPLOAD_BYTES = Number(process.env.BENCH_VOLUME_UPLOAD_BYTES ?? 2 ** 30);
const ROWS = Number(process.env.BENCH_VOLUME_ROWS ?? 100_000);
const CHUNK = 1 << 20;
const out = (s: string) => process.stdout.write(`${s}\n`);
const mbps = (bytes: number, ms: number) => bytes / 2 ** 20 / (ms / 1000);

/** The same 1 MiB of random bytes, `total` bytes in all (generated at memory speed). */
function* chunks(total: number): Generator<Buffer> {
  const block = randomBytes(CHUNK);
  for (let sent = 0; sent < total; sent += CHUNK) yield sent + CHUNK <= total ? block : block.subarray(0, total - sent);
}

async function diskBaseline(path: string): Promise<number> {
  const t0 = performance.now();
  const ws = createWriteStream(path);
  for (const c of chunks(UPLOAD_BYTES)) if (!ws.write(c)) await once(ws, 'drain');
  ws.end();
  await once(ws, 'finish');
  const fh = await open(path, 'r+');
  await fh.sync();
  await fh.close();
  return performance.now() - t0;
}

async function uploadThroughApi(gw: Gateway, volume: string): Promise<number> {
  const t0 = performance.now();
  const it = chunks(UPLOAD_BYTES);
  const res = await fetch(`${gw.url}/v2/volumes/${volume}/files/big/upload.bin`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${gw.apiKey}`, 'content-length': String(UPLOAD_BYTES) },
    body: new ReadableStream({
      pull(c) {
        const n = it.next();
        if (n.done === true) c.close();
        else c.enqueue(n.value);
      },
    }),
    duplex: 'half',
  });
  const body = (await res.json()) as { code: number; data?: { size: number } };
  const ms = performance.now() - t0;
  if (body.code !== 0 || body.data?.size !== UPLOAD_BYTES) throw new Error(`upload failed: ${JSON.stringify(body)}`);
  return ms;
}

async function main(): Promise<void> {
  const runDir = join(OUT, `volumes-${Date.now().toString(36)}`);
  mkdirSync(runDir, { recursive: true });
  const s3 = new S3TestServer();
  await s3.start();
  s3.createBucket('bench');
  const gw = new Gateway({
    VOLUMES_DIR: join(runDir, 'volumes'),
    VOLUMES_MAX_FILE_BYTES: String(UPLOAD_BYTES * 2),
    STORAGE_S3_ENDPOINT: s3.endpoint,
    STORAGE_S3_FORCE_PATH_STYLE: 'true',
    STORAGE_S3_REGION: 'us-east-1',
  });
  try {
    await gw.start();
    await gw.call('/v2/volumes/create', { volumeName: 'bench' });
    out(`volumes: API + worker processes from dist/, 2 cores shared, load ${loadavg()[0]!.toFixed(2)}`);

    // 1. upload vs direct disk write; the baseline runs before and after, ratios use the mean.
    const base1 = await diskBaseline(join(runDir, 'direct-1.bin'));
    rmSync(join(runDir, 'direct-1.bin'));
    const api = await uploadThroughApi(gw, 'bench');
    const stored = statSync(join(runDir, 'volumes', 'bench', 'big', 'upload.bin')).size;
    if (stored !== UPLOAD_BYTES) throw new Error(`stored ${stored} bytes`);
    rmSync(join(runDir, 'volumes', 'bench', 'big'), { recursive: true });
    const base2 = await diskBaseline(join(runDir, 'direct-2.bin'));
    rmSync(join(runDir, 'direct-2.bin'));
    const base = (base1 + base2) / 2;
    const gib = (UPLOAD_BYTES / 2 ** 30).toFixed(2);
    out(
      `upload ${gib} GiB   api ${mbps(UPLOAD_BYTES, api).toFixed(0)} MiB/s | direct disk write ` +
        `${mbps(UPLOAD_BYTES, base).toFixed(0)} MiB/s (${mbps(UPLOAD_BYTES, base1).toFixed(0)}, ` +
        `${mbps(UPLOAD_BYTES, base2).toFixed(0)}) | api/direct = ${(base / api).toFixed(2)}`,
    );

    // 2. the same JSONL imported from the local volume and from the S3 test server.
    const jsonl = join(runDir, 'rows.jsonl');
    writeTextFiles(ROWS, { jsonl });
    const bytes = readFileSync(jsonl);
    const put = await fetch(`${gw.url}/v2/volumes/bench/files/rows.jsonl`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${gw.apiKey}` },
      body: bytes,
    });
    if (((await put.json()) as { code: number }).code !== 0) throw new Error('upload of rows.jsonl failed');
    s3.putDirect('bench', 'rows.jsonl', bytes);
    await gw.startWorkers(1);
    const rates: Record<string, number[]> = { volume: [], s3: [] };
    const sources: [keyof typeof rates, Record<string, unknown>][] = [
      ['volume', { volumeName: 'bench', dataPaths: [['rows.jsonl']] }],
      ['s3', { objectUrls: [['s3://bench/rows.jsonl']], accessKey: 'S3RVER', secretKey: 'S3RVER' }],
    ];
    // Alternating, twice each: the machine's load drifts between runs.
    for (let round = 0; round < 2; round++) {
      for (const [name, source] of sources) {
        const collection = `vb_${name}_${round}`;
        await gw.call('/v2/vectordb/collections/create', { collectionName: collection, schema: CREATE_SCHEMA });
        const job = await gw.importJob(collection, source, 600_000);
        if (job.rows !== ROWS) throw new Error(`${name}: ${job.rows} rows, expected ${ROWS}`);
        rates[name]!.push((ROWS / job.ms) * 1000);
        await gw.dropCollection(collection);
      }
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const mb = (bytes.length / 2 ** 20).toFixed(0);
    out(
      `import jsonl ${ROWS.toLocaleString('en-US')} rows × 128d (${mb} MB)   local volume ` +
        `${(mean(rates.volume!) / 1000).toFixed(1)}k rows/s | S3 test server ${(mean(rates.s3!) / 1000).toFixed(1)}k rows/s` +
        ` | volume/s3 = ${(mean(rates.volume!) / mean(rates.s3!)).toFixed(2)}`,
    );
  } finally {
    await gw.close();
    await s3.stop();
    rmSync(runDir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
