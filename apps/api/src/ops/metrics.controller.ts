import { Controller, Get, Inject, Injectable, Req, Res } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { Pool } from 'pg';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JOB_DB_POOL } from '@gw/db';
import { UnbufferedBody } from '../http/raw-body.middleware';
import { seesOperatorDetail, stateOf } from '../http/request-context';

/** Seconds, from a millisecond to a minute: API answers of every route. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

interface JobCounts {
  byCollection: { db: string; collection: string; state: string; jobs: number; rows: number }[];
  active: { db: string; collection: string; n: number }[];
}

/**
 * The API process's Prometheus metrics (prom-client). HTTP requests and latency by method and
 * matched route pattern (never a raw URL), Node process metrics, and the job tables seen through
 * the trigger-kept counters (`import_job_state_counts`, `import_collection_counters`): one read of
 * two small tables per scrape, whatever the size of `import_jobs`. Two views: `detailed` labels
 * jobs by database and collection; `summary` (anonymous or limited keys, decision 0901) only totals.
 */
@Injectable()
export class ApiMetrics {
  readonly detailed: Registry;
  readonly summary: Registry;
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly latency: Histogram<'method' | 'route'>;
  private reading: Promise<JobCounts> | undefined;

  constructor(@Inject(JOB_DB_POOL) private readonly pool: Pool) {
    const shared = new Registry();
    collectDefaultMetrics({ register: shared, prefix: 'igw_api_' });
    this.requests = new Counter({
      name: 'igw_http_requests_total',
      help: 'HTTP requests answered by this API process, by method, route pattern and status.',
      labelNames: ['method', 'route', 'status'],
      registers: [shared],
    });
    this.latency = new Histogram({
      name: 'igw_http_request_duration_seconds',
      help: 'Time to answer HTTP requests in this API process, by method and route pattern.',
      labelNames: ['method', 'route'],
      buckets: LATENCY_BUCKETS,
      registers: [shared],
    });
    const named = new Registry();
    const totals = new Registry();
    this.jobGauges(named, true);
    this.jobGauges(totals, false);
    this.detailed = Registry.merge([shared, named]);
    this.summary = Registry.merge([shared, totals]);
  }

  /** Express middleware: counts and times every answer under its matched route pattern. */
  use(req: Request, res: Response, next: NextFunction): void {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const route = `${req.baseUrl}${(req.route as { path?: string } | undefined)?.path ?? 'unmatched'}`;
      this.requests.inc({ method: req.method, route, status: String(res.statusCode) });
      this.latency.observe({ method: req.method, route }, Number(process.hrtime.bigint() - start) / 1e9);
    });
    next();
  }

  private jobGauges(register: Registry, withNames: boolean): void {
    const registers = [register];
    const nameLabels = withNames ? (['db', 'collection'] as const) : ([] as const);
    const jobs: Gauge = new Gauge({
      name: 'igw_import_jobs',
      help: 'Import jobs in the job tables, by state (and database and collection for unlimited keys).',
      labelNames: [...nameLabels, 'state'],
      registers,
      collect: async () => {
        jobs.reset();
        const sums = new Map<string, number>();
        for (const r of (await this.read()).byCollection) {
          if (withNames) jobs.set({ db: r.db, collection: r.collection, state: r.state }, r.jobs);
          else sums.set(r.state, (sums.get(r.state) ?? 0) + r.jobs);
        }
        for (const [state, n] of sums) jobs.set({ state }, n);
      },
    });
    const rows: Gauge = new Gauge({
      name: 'igw_import_completed_rows',
      help: 'Rows imported by Completed jobs still in the job tables (IMPORT_JOB_RETENTION removes old ones).',
      labelNames: [...nameLabels],
      registers,
      collect: async () => {
        rows.reset();
        let total = 0;
        for (const r of (await this.read()).byCollection) {
          if (r.state !== 'Completed') continue;
          if (withNames) rows.set({ db: r.db, collection: r.collection }, r.rows);
          total += r.rows;
        }
        if (!withNames) rows.set(total);
      },
    });
    const active: Gauge = new Gauge({
      name: 'igw_import_active_jobs',
      help: 'Import jobs Pending or Importing (the admission counters), per collection for unlimited keys.',
      labelNames: [...nameLabels],
      registers,
      collect: async () => {
        active.reset();
        const rowsOf = (await this.read()).active;
        if (withNames) for (const r of rowsOf) active.set({ db: r.db, collection: r.collection }, r.n);
        else active.set(rowsOf.reduce((a, r) => a + r.n, 0));
      },
    });
  }

  /** One read of the counters per scrape, shared by the gauges collected concurrently. */
  private read(): Promise<JobCounts> {
    if (this.reading === undefined) {
      const p = this.query();
      this.reading = p;
      void p
        .finally(() => {
          if (this.reading === p) this.reading = undefined;
        })
        .catch(() => undefined);
    }
    return this.reading;
  }

  private async query(): Promise<JobCounts> {
    const [states, active] = await Promise.all([
      this.pool.query<{ db: string; collection: string; state: string; jobs: string; rows: string }>(
        `SELECT db_name AS db, collection_name AS collection, state, jobs::text, rows::text
           FROM import_job_state_counts WHERE jobs > 0`,
      ),
      this.pool.query<{ db: string; collection: string; n: number }>(
        `SELECT db_name AS db, collection_name AS collection, active_jobs AS n
           FROM import_collection_counters WHERE active_jobs > 0`,
      ),
    ]);
    return {
      byCollection: states.rows.map((r) => ({ ...r, jobs: Number(r.jobs), rows: Number(r.rows) })),
      active: active.rows,
    };
  }
}

/** `GET /metrics`: the detailed view for a valid key not limited to some databases or collections. */
@Controller('metrics')
@UnbufferedBody()
export class MetricsController {
  constructor(@Inject(ApiMetrics) private readonly metrics: ApiMetrics) {}

  @Get()
  async metricsText(@Req() req: Request, @Res() res: Response): Promise<void> {
    const registry = seesOperatorDetail(stateOf(req).principal) ? this.metrics.detailed : this.metrics.summary;
    const text = await registry.metrics();
    res.status(200).type(registry.contentType).send(text);
  }
}
