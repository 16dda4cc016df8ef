import { expect } from 'vitest';
import {
  call,
  gatewayEnv,
  type RunningProcess,
  startNode,
  startTestGateway,
  startTestWorker,
  type TestGateway,
  type TestWorker,
  uniqueName,
} from '@gw/testing';
import { HttpTestServer } from '../../support/storage/http-test-server';
import type { Pool } from 'pg';

/** Worker child processes of one test file, on the gateway's database; all killed by `killAll`. */
export class WorkerProcesses {
  readonly all: RunningProcess[] = [];

  constructor(
    private readonly gw: () => TestGateway,
    private readonly env: NodeJS.ProcessEnv,
  ) {}

  start(extra: NodeJS.ProcessEnv = {}): RunningProcess {
    const p = startNode(
      'apps/worker/src/main.js',
      gatewayEnv({ ...this.env, DATABASE_URL: this.gw().config.databaseUrl, ...extra }),
    );
    this.all.push(p);
    return p;
  }

  async killAll(): Promise<void> {
    await Promise.all(this.all.splice(0).map((w) => w.stop('SIGKILL')));
  }

  /** The tail of every worker's output, for a failing test's report. */
  outputs(chars = 4000): string {
    return this.all.map((w, i) => `--- worker ${i}:\n${w.output().slice(-chars)}`).join('\n');
  }
}

/** A 4-dimensional collection (id, vector) created over the API. */
export async function newCollection(gw: TestGateway, key: string, prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  const r = await call(gw, 'POST', '/v2/vectordb/collections/create', {
    key,
    body: { collectionName: name, dimension: 4 },
  });
  expect(r.body.code, r.text).toBe(0);
  return name;
}

export async function createJob(gw: TestGateway, key: string, body: Record<string, unknown>): Promise<string> {
  const r = await call(gw, 'POST', '/v2/vectordb/jobs/import/create', { key, body });
  expect(r.body.code, r.text).toBe(0);
  return (r.body.data as { jobId: string }).jobId;
}

/** A file server, a gateway with `env`, an in-process worker and an admin key: what an import test runs on. */
export interface ImportStack {
  web: HttpTestServer;
  gw: TestGateway;
  worker: TestWorker;
  key: string;
  /** Stops the worker, then the gateway, then the file server. */
  close(): Promise<void>;
}

/** `host`: the file server's loopback address (an SSRF test allows 127.0.0.2 alone). */
export async function startImportStack(env: NodeJS.ProcessEnv = {}, host?: string): Promise<ImportStack> {
  const web = new HttpTestServer(host);
  await web.start();
  let gw: TestGateway | undefined;
  let worker: TestWorker | undefined;
  const close = async (): Promise<void> => {
    await worker?.close();
    await gw?.close();
    await web.stop();
  };
  try {
    gw = await startTestGateway(env);
    worker = await startTestWorker(gw.config);
    return { web, gw, worker, key: await gw.apiKey(['admin']), close };
  } catch (e) {
    await close();
    throw e;
  }
}

/** A job's state in the job table (undefined before the row exists): what tests poll for. */
export async function jobState(db: Pool, jobId: string): Promise<string | undefined> {
  const r = await db.query<{ state: string }>(`SELECT state FROM import_jobs WHERE job_id = $1`, [jobId]);
  return r.rows[0]?.state;
}
