import { expect } from 'vitest';
import { call, gatewayEnv, type RunningProcess, startNode, type TestGateway, uniqueName } from '@gw/testing';

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
