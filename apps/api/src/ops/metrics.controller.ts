import { Controller, Get, Header, Inject, Injectable, Req } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import type { Pool } from 'pg';
import { JOB_DB_POOL } from '@gw/db';
import { UnbufferedBody } from '../http/raw-body.middleware';
import { seesOperatorDetail, stateOf } from '../http/request-context';

/** HTTP request counts by route and status, kept in memory per API process. */
@Injectable()
export class RequestMetrics {
  readonly counts = new Map<string, number>();

  use(req: Request, res: Response, next: NextFunction): void {
    res.on('finish', () => {
      // The matched route pattern, never the raw URL (no ids or query strings in labels).
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      const key = `${req.method} ${req.baseUrl}${route} ${res.statusCode}`;
      this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    });
    next();
  }
}

const label = (v: string) => v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');

/**
 * Prometheus text exposition: active jobs per collection (from the admission counters, so cheap
 * with millions of jobs), jobs created in the last 24 h by state, and HTTP requests of this process.
 * Collection and database names are labels only for a valid key not limited to some databases or
 * collections; other scrapes get the total (decision 0901).
 */
@Controller('metrics')
@UnbufferedBody()
export class MetricsController {
  constructor(
    @Inject(JOB_DB_POOL) private readonly pool: Pool,
    @Inject(RequestMetrics) private readonly requests: RequestMetrics,
  ) {}

  @Get()
  @Header('Content-Type', 'text/plain; version=0.0.4; charset=utf-8')
  async metrics(@Req() req: Request): Promise<string> {
    const detailed = seesOperatorDetail(stateOf(req).principal);
    const out: string[] = [];
    const active = await this.pool.query<{ db: string; collection: string; n: number }>(
      `SELECT db_name AS db, collection_name AS collection, active_jobs AS n FROM import_collection_counters WHERE active_jobs > 0`,
    );
    out.push('# HELP igw_import_active_jobs Import jobs Pending or Importing, per collection.');
    out.push('# TYPE igw_import_active_jobs gauge');
    if (detailed) {
      for (const r of active.rows) {
        out.push(`igw_import_active_jobs{db="${label(r.db)}",collection="${label(r.collection)}"} ${r.n}`);
      }
    } else {
      out.push(`igw_import_active_jobs ${active.rows.reduce((a, r) => a + r.n, 0)}`);
    }
    const recent = await this.pool.query<{ state: string; n: string; rows: string }>(
      `SELECT state, count(*)::text AS n, coalesce(sum(imported_rows), 0)::text AS rows FROM import_jobs
        WHERE created_at > now() - interval '24 hours' GROUP BY state`,
    );
    out.push('# HELP igw_import_jobs_24h Import jobs created in the last 24 hours, by state.');
    out.push('# TYPE igw_import_jobs_24h gauge');
    for (const r of recent.rows) out.push(`igw_import_jobs_24h{state="${label(r.state)}"} ${r.n}`);
    out.push('# HELP igw_import_rows_24h Rows imported by jobs created in the last 24 hours.');
    out.push('# TYPE igw_import_rows_24h gauge');
    out.push(`igw_import_rows_24h ${recent.rows.reduce((a, r) => a + Number(r.rows), 0)}`);
    out.push('# HELP igw_http_requests_total HTTP requests answered by this API process.');
    out.push('# TYPE igw_http_requests_total counter');
    for (const [key, n] of this.requests.counts) {
      const [method = '', route = '', status = ''] = key.split(' ');
      out.push(`igw_http_requests_total{method="${method}",route="${label(route)}",status="${status}"} ${n}`);
    }
    return `${out.join('\n')}\n`;
  }
}
