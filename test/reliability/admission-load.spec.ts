import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'pg';
import { ApiKeysRepository, migrate } from '@gw/db';
import {
  call,
  createScratchDatabase,
  freePort,
  gatewayEnv,
  type RunningProcess,
  startNode,
  uniqueName,
  waitForStatus,
} from '@gw/testing';
import { reportFigure, scale } from './suite';

/**
 * Admission under load (issue 13, the suite): concurrent creates for one collection spread over
 * three API processes on one database. The per-collection cap is enforced inside PostgreSQL, so
 * exactly `CAP` are admitted and every other create is refused with 2101 — no 5xx, no 65535, no
 * over-admission. Full: 10,050 creates against the default 10,000; CI: 260 against 200.
 */
const CAP = scale(200, 10_000);
const CREATES = scale(260, 10_050);
const IN_FLIGHT = 150;
let scratch: { url: string; drop: () => Promise<void> };
let pool: Pool;
const apis: { proc: RunningProcess; url: string }[] = [];
let key: string;

beforeAll(async () => {
  scratch = await createScratchDatabase();
  await migrate(scratch.url);
  pool = new Pool({ connectionString: scratch.url, max: 2 });
  key = (await new ApiKeysRepository(pool).create({ name: 'load', scopes: ['admin'] })).key;
  for (let i = 0; i < 3; i++) {
    const port = await freePort();
    const proc = startNode(
      'apps/api/src/main.js',
      gatewayEnv({
        DATABASE_URL: scratch.url,
        PORT: String(port),
        IMPORT_MAX_ACTIVE_JOBS_PER_COLLECTION: String(CAP),
        LOG_LEVEL: 'warn',
      }),
    );
    apis.push({ proc, url: `http://127.0.0.1:${port}` });
  }
  for (const a of apis) await waitForStatus(`${a.url}/health/live`, 200, 90_000);
}, 180_000);
afterAll(async () => {
  await Promise.all(apis.map((a) => a.proc.stop('SIGTERM')));
  await pool?.end();
  await scratch?.drop();
});

describe('admission under load over three API processes', () => {
  it(`${CREATES} concurrent creates → exactly ${CAP} admitted, the rest refused with 2101`, async () => {
    const collection = uniqueName('load');
    const c = await call(apis[0]!, 'POST', '/v2/vectordb/collections/create', {
      key,
      body: { collectionName: collection, dimension: 4 },
    });
    expect(c.body.code, c.text).toBe(0);
    const answers = new Map<string, number>();
    const latencies: number[] = [];
    const clientErrors = new Map<string, number>();
    let next = 0;
    const started = Date.now();
    const lane = async () => {
      for (;;) {
        const i = next++;
        if (i >= CREATES) return;
        const api = apis[i % apis.length]!;
        const t0 = Date.now();
        const r = await call(api, 'POST', '/v2/vectordb/jobs/import/create', {
          key,
          body: { collectionName: collection, files: [[`s3://bucket/${i}.json`]] },
        }).catch((e: unknown) => {
          const cause = (e as { cause?: { code?: string; message?: string } }).cause;
          const why = `${String(e)} ${cause?.code ?? ''} ${cause?.message ?? ''}`.trim();
          clientErrors.set(why, (clientErrors.get(why) ?? 0) + 1);
          return { status: -1, body: { code: -1 }, text: why };
        });
        latencies.push(Date.now() - t0);
        const k = `${r.status}/${r.body.code}`;
        answers.set(k, (answers.get(k) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
    const seconds = (Date.now() - started) / 1000;
    latencies.sort((a, b) => a - b);
    const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
    reportFigure('admission-load', {
      creates: CREATES,
      cap: CAP,
      apis: apis.length,
      inFlight: IN_FLIGHT,
      seconds: Math.round(seconds * 10) / 10,
      createsPerSecond: Math.round(CREATES / seconds),
      p50ms: pct(0.5),
      p99ms: pct(0.99),
      answers: Object.fromEntries(answers),
      clientErrors: Object.fromEntries(clientErrors),
      pendingInDb: (
        await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM import_jobs WHERE state = 'Pending'`)
      ).rows[0]!.n,
    });
    expect(Object.fromEntries(answers)).toEqual({ '200/0': CAP, '200/2101': CREATES - CAP });
    const inDb = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM import_jobs WHERE state = 'Pending'`);
    expect(inDb.rows[0]!.n).toBe(CAP);
  }, 1_500_000);
});
