import { copyFileSync, createReadStream, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  call,
  freePort,
  gatewayEnv,
  startTestGateway,
  startTestWorker,
  type TestGateway,
  type TestWorker,
  uniqueName,
} from '@gw/testing';
import { CLI, cli, createExampleCollection, EXAMPLES, rowCount, startCli } from './helpers';

let gw: TestGateway;
let worker: TestWorker;
let key: string;
let files: Server;
let filesUrl: string;

/** Serves the example files; `/hang/…` accepts and never answers (a job that stays Importing). */
function startFileServer(): Promise<Server> {
  const srv = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (path.startsWith('/hang/')) return; // left open until the server closes
    const file = resolve(EXAMPLES, `.${path}`);
    if (!file.startsWith(EXAMPLES) || !/\.(parquet|jsonl)$/.test(file)) {
      res.writeHead(404).end();
      return;
    }
    let size: number;
    try {
      size = statSync(file).size;
    } catch {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const end = range && range[2] !== '' ? Math.min(Number(range[2]), size - 1) : size - 1;
    res.writeHead(range ? 206 : 200, {
      'Content-Length': String(end - start + 1),
      'Accept-Ranges': 'bytes',
      ETag: `"${size}"`,
      'Last-Modified': new Date(0).toUTCString(),
      ...(range ? { 'Content-Range': `bytes ${start}-${end}/${size}` } : {}),
    });
    if (req.method === 'HEAD') res.end();
    else createReadStream(file, { start, end }).pipe(res);
  });
  return new Promise((ok) => srv.listen(0, '127.0.0.1', () => ok(srv)));
}

async function createHangingJob(collection: string): Promise<string> {
  const res = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', {
    key,
    body: { collectionName: collection, objectUrls: [[`${filesUrl}/hang/products.parquet`]] },
  });
  expect(res.body.code, res.text).toBe(0);
  return (res.body.data as { jobId: string }).jobId;
}

async function jobState(jobId: string): Promise<string> {
  const res = await call(gw, 'POST', '/v2/vectordb/jobs/import/describe', { key, body: { jobId } });
  return (res.body.data as { gatewayState: string }).gatewayState;
}

describe('import-gateway CLI against a running gateway', () => {
  beforeAll(async () => {
    gw = await startTestGateway();
    worker = await startTestWorker(gw.config);
    key = await gw.apiKey(['admin']);
    files = await startFileServer();
    filesUrl = `http://127.0.0.1:${(files.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    files.closeAllConnections();
    files.close();
    await worker.close();
    await gw.close();
  });

  it('imports a URL with --wait: plain progress lines off a terminal, the outcome, exit 0 and the rows', async () => {
    const name = uniqueName('cli');
    await createExampleCollection(gw, key, name);
    const r = await cli(gw, ['import', name, `${filesUrl}/products.parquet`, '--wait', '--interval', '0.1'], {
      IMPORT_GATEWAY_KEY: key,
    });
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(new RegExp(`^created job-[a-z0-9]{22} \\(collection ${name}\\)$`));
    expect(r.stdout).not.toContain('\r'); // stdout is a pipe: no redrawn bar
    expect(lines.some((l) => /^(Pending|Importing|Completed)\s+\d+%\s+[\d,]+ rows\s+.* \/ .*ETA/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/^Completed job-[a-z0-9]{22}: 4,000 rows, 119 KiB in \d+:\d\d \([\d,]+ rows\/s\)$/);
    expect(await rowCount(gw, key, name)).toBe(4000);
  });

  it('draws one redrawn bar on a terminal (util-linux script gives the CLI a pty)', async () => {
    const name = uniqueName('cli');
    await createExampleCollection(gw, key, name);
    const command = [
      process.execPath,
      CLI,
      'import',
      name,
      `${filesUrl}/products.parquet`,
      '--wait',
      '--interval',
      '0.1',
    ];
    const child = spawn('script', ['-q', '-e', '-c', command.join(' '), '/dev/null'], {
      env: gatewayEnv({ DATABASE_URL: gw.config.databaseUrl, IMPORT_GATEWAY_URL: gw.url, IMPORT_GATEWAY_KEY: key }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((ok) => child.on('close', ok));
    expect(code, out).toBe(0);
    expect(out).toContain('\r\x1b[K[');
    expect(out).toMatch(/\[#{24}\] +Completed +100% +4,000 rows/);
    expect(out).toMatch(/Completed job-[a-z0-9]{22}: 4,000 rows/);
  });

  it('prints only the job id without --wait; jobs wait, describe and list follow it', async () => {
    const name = uniqueName('cli');
    await createExampleCollection(gw, key, name);
    const env = { IMPORT_GATEWAY_KEY: key };
    const created = await cli(gw, ['import', name, `${filesUrl}/products.jsonl`], env);
    expect(created.code, created.stderr).toBe(0);
    const jobId = created.stdout.trim();
    expect(jobId).toMatch(/^job-[a-z0-9]{22}$/);

    const waited = await cli(gw, ['jobs', 'wait', jobId, '--interval', '0.1'], env);
    expect(waited.code, waited.stderr).toBe(0);
    expect(waited.stdout.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^Completed ${jobId}: 4,000 rows`));

    const described = await cli(gw, ['jobs', 'describe', jobId], env);
    expect(described.code).toBe(0);
    expect(JSON.parse(described.stdout)).toMatchObject({
      jobId,
      collectionName: name,
      state: 'Completed',
      progress: 100,
      importedRows: 4000,
    });

    const listed = await cli(gw, ['jobs', 'list', '--collection', name], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')[0]).toMatch(/^JOB\s+COLLECTION\s+STATE\s+PROGRESS\s+CREATED\s+REASON$/);
    expect(listed.stdout).toMatch(new RegExp(`${jobId}\\s+${name}\\s+Completed\\s+100%`));
    const json = await cli(gw, ['jobs', 'list', '--collection', name, '--page-size', '5', '--json'], env);
    expect(JSON.parse(json.stdout)).toMatchObject({ count: 1, records: [{ jobId, state: 'Completed' }] });
  });

  it('lists and describes collections, describe carrying the row count', async () => {
    const name = uniqueName('cli');
    await createExampleCollection(gw, key, name);
    const env = { IMPORT_GATEWAY_KEY: key };
    const listed = await cli(gw, ['collections', 'list'], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout.split('\n')).toContain(name);
    const described = await cli(gw, ['collections', 'describe', name], env);
    expect(described.code).toBe(0);
    const d = JSON.parse(described.stdout) as { collectionName: string; rowCount: number; fields: unknown[] };
    expect(d).toMatchObject({ collectionName: name, rowCount: 0 });
    expect(d.fields).toHaveLength(6);
  });

  it('exits 10 with the reason when the job fails', async () => {
    const name = uniqueName('cli');
    await createExampleCollection(gw, key, name);
    const r = await cli(gw, ['import', name, `${filesUrl}/missing.parquet`, '--wait', '--interval', '0.1'], {
      IMPORT_GATEWAY_KEY: key,
    });
    expect(r.code, r.stdout + r.stderr).toBe(10);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^Failed job-[a-z0-9]{22}: .*missing\.parquet/);
    expect(r.stderr).toMatch(/^error: job job-[a-z0-9]{22} failed: .*missing\.parquet/);
  });

  it('cancels a running job (exit 0) and jobs wait on it then exits 11', async () => {
    const name = uniqueName('cli');
    await createExampleCollection(gw, key, name);
    const jobId = await createHangingJob(name);
    await expect.poll(() => jobState(jobId), { timeout: 15_000 }).toBe('Importing');
    const env = { IMPORT_GATEWAY_KEY: key };
    const cancelled = await cli(gw, ['jobs', 'cancel', jobId], env);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(cancelled.stdout.trim()).toBe(`${jobId}: Cancelled`);
    const waited = await cli(gw, ['jobs', 'wait', jobId], env);
    expect(waited.code).toBe(11);
    expect(waited.stderr).toMatch(new RegExp(`^error: job ${jobId} cancelled: cancelled`));
  });

  it('stops waiting on Ctrl-C with exit 130 and leaves the job running', async () => {
    const name = uniqueName('cli');
    await createExampleCollection(gw, key, name);
    const jobId = await createHangingJob(name);
    const run = startCli(gw, ['jobs', 'wait', jobId, '--interval', '0.1'], { IMPORT_GATEWAY_KEY: key });
    await expect.poll(() => run.stdout(), { timeout: 15_000 }).toMatch(/(Pending|Importing)\s+0%/);
    run.kill('SIGINT');
    const r = await run.done;
    expect(r.code).toBe(130);
    expect(r.stderr).toContain(
      `stopped waiting; ${jobId} keeps running (stop it with: import-gateway jobs cancel ${jobId})`,
    );
    expect(['Pending', 'Importing']).toContain(await jobState(jobId));
    await call(gw, 'POST', '/v2/vectordb/jobs/import/cancel', { key, body: { jobId } });
  });

  it('uses exit codes a script can tell apart: usage 2, API error 3, key 4, unreachable 5', async () => {
    const env = { IMPORT_GATEWAY_KEY: key };
    const usage = await cli(gw, ['jobs', 'list', '--frobnicate'], env);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("Unknown option '--frobnicate'");
    const mixed = await cli(gw, ['import', 'c', 's3://b/x.parquet', resolve(EXAMPLES, 'products.jsonl')], env);
    expect(mixed.code).toBe(2);
    expect(mixed.stderr).toContain('give either URLs or local files in one import, not both');
    const missing = await cli(gw, ['import', 'c', './no/such/file.parquet'], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('no such file or folder: ./no/such/file.parquet');

    const api = await cli(gw, ['collections', 'describe', 'no_such_collection'], env);
    expect(api.code).toBe(3);
    expect(api.stderr.trim()).toBe('error: collection not found[collection=no_such_collection] (code 100)');

    const noKey = await cli(gw, ['jobs', 'list']);
    expect(noKey.code).toBe(4);
    expect(noKey.stderr).toContain("user hasn't authenticated (code 1800); pass --key or set IMPORT_GATEWAY_KEY");
    const readOnly = await gw.apiKey(['import:read']);
    const scope = await cli(gw, ['collections', 'list', '--key', readOnly]);
    expect(scope.code).toBe(4);
    expect(scope.stderr).toContain('(code 1401)');

    const port = await freePort();
    const down = await cli(gw, ['jobs', 'list', '--url', `http://127.0.0.1:${port}`], env);
    expect(down.code).toBe(5);
    expect(down.stderr.trim()).toBe(`error: cannot reach the gateway at http://127.0.0.1:${port}: ECONNREFUSED`);
    const badUrl = await cli(gw, ['jobs', 'list'], { ...env, IMPORT_GATEWAY_URL: 'ftp://x' });
    expect(badUrl.code).toBe(2);
    expect(badUrl.stderr).toContain('IMPORT_GATEWAY_URL: expected a URL starting with http:// or https://');
  });

  it('manages API keys on the local database: create prints the key alone last, list, revoke', async () => {
    const name = uniqueName('clikey');
    const created = await cli(gw, ['apikey', 'create', '--name', name, '--scopes', 'import:read']);
    expect(created.code, created.stderr).toBe(0);
    const newKey = created.stdout.trimEnd().split('\n').at(-1)!;
    expect(newKey).toMatch(/^igw_[A-Za-z0-9]{40}$/);
    const listed = await cli(gw, ['apikey', 'list']);
    expect(listed.stdout).toMatch(new RegExp(`\\t${name}\\t${newKey.slice(0, 8)}.*\\timport:read\\tactive`));
    expect(listed.stdout).not.toContain(newKey);
    expect((await cli(gw, ['jobs', 'list', '--key', newKey])).code).toBe(0);
    const revoked = await cli(gw, ['apikey', 'revoke', name]);
    expect(revoked.code).toBe(0);
    // The API caches a key for API_KEY_CACHE_MS (1 s): revocation is seen within that bound.
    await expect
      .poll(async () => (await cli(gw, ['jobs', 'list', '--key', newKey])).code, { timeout: 5_000, interval: 250 })
      .toBe(4);
    const again = await cli(gw, ['apikey', 'revoke', name]);
    expect(again.code).toBe(3);
    expect(again.stderr.trim()).toBe(`error: no active key matches ${name}`);
  });

  it('uploads local files to the uploads volume and imports them by volumeName + dataPaths', async () => {
    const name = uniqueName('cli');
    await createExampleCollection(gw, key, name);
    const r = await cli(
      gw,
      ['import', name, resolve(EXAMPLES, 'products.parquet'), '--wait', '--interval', '0.1', '--prefix', name],
      { IMPORT_GATEWAY_KEY: key },
    );
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      new RegExp(`uploaded .*products\\.parquet → uploads:${name}/products\\.parquet \\(119 KiB`),
    );
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(/^Completed job-[a-z0-9]{22}: 4,000 rows/);
    expect(await rowCount(gw, key, name)).toBe(4000);
    const job = await gw.db.query(`SELECT request FROM import_jobs ORDER BY created_at DESC LIMIT 1`);
    expect(JSON.stringify(job.rows[0])).toContain(`${name}/products.parquet`);
  });

  it('uploads a local folder as one group (a folder path the gateway expands) into a volume it creates', async () => {
    const name = uniqueName('cli');
    await createExampleCollection(gw, key, name);
    const dir = mkdtempSync(join(tmpdir(), 'igw-cli-'));
    mkdirSync(join(dir, 'part'));
    copyFileSync(resolve(EXAMPLES, 'products.jsonl'), join(dir, 'part', 'products.jsonl'));
    const volume = uniqueName('vol');
    const r = await cli(gw, ['import', name, join(dir, 'part'), '--volume', volume, '--wait', '--interval', '0.1'], {
      IMPORT_GATEWAY_KEY: key,
    });
    rmSync(dir, { recursive: true, force: true });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stderr).toContain(`created volume ${volume}`);
    expect(r.stderr).toMatch(new RegExp(`→ ${volume}:cli/${name}/\\d{8}T\\d{6}Z-[0-9a-f]{6}/part/products\\.jsonl`));
    expect(await rowCount(gw, key, name)).toBe(4000);
    // the upload went to the volume under the default prefix, and the job names the folder
    const files = await call(gw, 'GET', `/v2/volumes/${volume}/files?prefix=cli/${name}/`, { key });
    expect(JSON.stringify(files.body)).toContain('/part/products.jsonl');
  });

  it('a retried import with the same --idempotency-key uploads to the same paths and gets the same job back', async () => {
    const name = uniqueName('cli');
    await createExampleCollection(gw, key, name);
    const args = ['import', name, resolve(EXAMPLES, 'products.parquet'), '--idempotency-key', `retry-${name}`];
    const first = await cli(gw, args, { IMPORT_GATEWAY_KEY: key });
    expect(first.code, first.stderr).toBe(0);
    const second = await cli(gw, args, { IMPORT_GATEWAY_KEY: key });
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).toBe(first.stdout);
    expect(first.stderr).toMatch(new RegExp(`uploads:cli/${name}/key-[0-9a-f]{16}/products\\.parquet`));
    const waited = await cli(gw, ['jobs', 'wait', first.stdout.trim()], { IMPORT_GATEWAY_KEY: key });
    expect(waited.code, waited.stderr).toBe(0);
    expect(await rowCount(gw, key, name)).toBe(4000);
  });
});
