import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { createScratchDatabase, startTestGateway, type RunningProcess, type TestGateway } from '@gw/testing';
import { migrate } from '../../../libs/db/src/migrate';
import { HttpTestServer } from '../../support/storage/http-test-server';
import { jsonl, range } from './fixtures';
import { createJob, jobState, newCollection, WorkerProcesses } from './harness';

/**
 * A worker's operations port (issue 15 point 2): Prometheus metrics of what its runs did and are
 * doing, and liveness/readiness that name the dependency that is down, from a real worker process.
 */
let web: HttpTestServer;
let gw: TestGateway;
let key: string;

const ENV = {
  WORKER_METRICS_PORT: '0',
  WORKER_METRICS_HOST: '127.0.0.1',
  WORKER_RECONCILE_INTERVAL_MS: '500',
  STORAGE_ALLOW_PRIVATE_NETWORKS: 'true',
  STORAGE_ALLOW_HTTP: 'true',
};
const workers = new WorkerProcesses(() => gw, ENV);

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

/** The port a worker logged for its metrics listener (WORKER_METRICS_PORT=0 picks a free one). */
async function opsPort(w: RunningProcess): Promise<number> {
  let port = 0;
  await expect
    .poll(
      () => {
        port = Number(/worker metrics and health on port (\d+)/.exec(w.output())?.[1] ?? 0);
        return port;
      },
      { timeout: 30_000 },
    )
    .toBeGreaterThan(0);
  return port;
}

async function get(port: number, path: string): Promise<{ status: number; text: string; type: string }> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') ?? '' };
}

/** The value of one sample of the exposition text (labels as written), or undefined. */
function sample(text: string, name: string, labels = ''): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels === '' ? '' : `{${labels}}`} `));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('worker metrics and health', () => {
  it('counts runs by outcome, rows and bytes by format, phases, storage retries and error codes; reports slots and queues', async () => {
    const w = workers.start();
    onTestFailed(() => console.log(workers.outputs()));
    const port = await opsPort(w);
    expect(await get(port, '/health/live')).toMatchObject({ status: 200, text: '{"status":"ok"}' });
    await expect
      .poll(async () => (await get(port, '/health/ready')).text, { timeout: 20_000 })
      .toBe('{"status":"ok","checks":{"dispatcher":"ok","postgres":"ok","redis":"ok"}}');

    const c = await newCollection(gw, key, 'metrics');
    const body = jsonl(range(1, 1_500));
    web.put(`/${c}/good.jsonl`, body, { failNext: { count: 2, status: 503 } }); // two retries, then served
    web.put(`/${c}/bad.jsonl`, Buffer.from('{"id": 1, "vector": [1, 2, 3, 4]}\n{"id": 2, "vector": "x"}\n'));
    const good = await createJob(gw, key, { collectionName: c, objectUrl: web.url(`/${c}/good.jsonl`) });
    await expect.poll(() => jobState(gw.db, good), { timeout: 30_000, interval: 100 }).toBe('Completed');
    const bad = await createJob(gw, key, { collectionName: c, objectUrl: web.url(`/${c}/bad.jsonl`) });
    await expect.poll(() => jobState(gw.db, bad), { timeout: 30_000, interval: 100 }).toBe('Failed');

    // The job's state is written before its run returns: wait for the run to be counted.
    await expect
      .poll(async () => sample((await get(port, '/metrics')).text, 'igw_worker_slots', 'state="busy"'), {
        timeout: 10_000,
      })
      .toBe(0);
    const m = await get(port, '/metrics');
    expect(m.status).toBe(200);
    expect(m.type).toMatch(/^text\/plain; version=0\.0\.4/);
    const t = m.text;
    expect(sample(t, 'igw_worker_runs_total', 'outcome="completed"')).toBe(1);
    expect(sample(t, 'igw_worker_runs_total', 'outcome="failed"')).toBe(1);
    expect(sample(t, 'igw_worker_rows_staged_total', 'format="jsonl"')).toBe(1_500);
    expect(sample(t, 'igw_worker_bytes_read_total', 'format="jsonl"')).toBe(body.length);
    expect(sample(t, 'igw_worker_phase_duration_seconds_count', 'phase="stage"')).toBe(1);
    expect(sample(t, 'igw_worker_phase_duration_seconds_count', 'phase="publish"')).toBe(1);
    expect(sample(t, 'igw_worker_run_duration_seconds_count', 'outcome="completed"')).toBe(1);
    expect(sample(t, 'igw_worker_storage_retries_total', 'provider="http",code="STORAGE_TRANSIENT"')).toBe(2);
    const errorLines = t.split('\n').filter((l) => l.startsWith('igw_worker_errors_total{'));
    expect(errorLines, t).toHaveLength(1);
    expect(errorLines[0]).toMatch(/^igw_worker_errors_total\{code="[A-Z][A-Z0-9_]*"\} 1$/);
    expect(sample(t, 'igw_worker_slots', 'state="busy"')).toBe(0);
    expect(sample(t, 'igw_worker_slots', 'state="idle"')).toBe(2);
    expect(sample(t, 'igw_import_queues_consumed')).toBeGreaterThanOrEqual(1);
    expect(t).toMatch(new RegExp(`^igw_import_queue_waiting_jobs\\{queue="[^"]*${c}[^"]*"\\} 0$`, 'm'));
    expect(sample(t, 'igw_worker_process_resident_memory_bytes')).toBeGreaterThan(10_000_000);
    // No job ids or URLs in label values.
    expect(t).not.toContain(good);
    expect(t).not.toContain('127.0.0.1');
    expect((await get(port, '/nowhere')).status).toBe(404);
    // The API's view of the same jobs, from its trigger-kept counters.
    const api = await (await fetch(`${gw.url}/metrics`, { headers: { Authorization: `Bearer ${key}` } })).text();
    expect(api).toContain(`igw_import_completed_rows{db="default",collection="${c}"} 1500`);
    expect(api).toContain(`igw_import_jobs{db="default",collection="${c}",state="Completed"} 1`);
    expect(api).toContain(`igw_import_jobs{db="default",collection="${c}",state="Failed"} 1`);
  }, 90_000);

  it('readiness turns 503 naming PostgreSQL when its database goes away, while liveness stays 200', async () => {
    const db = await createScratchDatabase();
    await migrate(db.url);
    const w = workers.start({ DATABASE_URL: db.url });
    onTestFailed(() => console.log(workers.outputs()));
    const port = await opsPort(w);
    await expect.poll(async () => (await get(port, '/health/ready')).status, { timeout: 20_000 }).toBe(200);
    const admin = new pg.Client({ connectionString: gw.config.databaseUrl });
    await admin.connect();
    try {
      await admin.query(`DROP DATABASE "${new URL(db.url).pathname.slice(1)}" WITH (FORCE)`);
    } finally {
      await admin.end();
    }
    await expect
      .poll(async () => get(port, '/health/ready'), { timeout: 20_000, interval: 200 })
      .toMatchObject({
        status: 503,
        text: '{"status":"unavailable","checks":{"dispatcher":"ok","postgres":"down","redis":"ok"}}',
      });
    expect((await get(port, '/health/live')).status).toBe(200);
    await w.stop('SIGKILL');
  }, 90_000);
});
