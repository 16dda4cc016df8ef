import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { APP_CONFIG, type AppConfig } from '@gw/config';
import { JOB_DB_POOL, TARGET_DB_POOL } from '@gw/db';
import { REDIS_PROBE } from '@gw/jobs';
import { ImportWorkerService } from '../import/import-worker.service';
import { WorkerMetrics } from './worker-metrics';

/** How long a readiness check waits for PostgreSQL or Redis before calling it down. */
const CHECK_TIMEOUT_MS = 2_000;

type CheckState = 'ok' | 'down';

/**
 * The worker's operations listener (WORKER_METRICS_PORT, on WORKER_METRICS_HOST): `/metrics`
 * (Prometheus text), `/health/live` (the event loop answers) and `/health/ready` (taking jobs,
 * PostgreSQL and Redis answering). Answers name the dependency that is down, never its error
 * text or address. Off when the port is not set.
 */
@Injectable()
export class WorkerOpsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly log = new Logger('WorkerOps');
  private server: Server | undefined;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(WorkerMetrics) private readonly metrics: WorkerMetrics,
    @Inject(ImportWorkerService) private readonly worker: ImportWorkerService,
    @Inject(JOB_DB_POOL) private readonly jobs: Pool,
    @Inject(TARGET_DB_POOL) private readonly target: Pool,
    @Inject(REDIS_PROBE) private readonly redis: Redis,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.metrics.attach(this.worker);
    const listen = this.config.worker.metrics;
    if (listen === undefined) return;
    const server = createServer((req, res) => void this.answer(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(listen.port, listen.host, () => resolve());
    });
    this.server = server;
    const port = (server.address() as AddressInfo).port;
    this.log.log({ port, host: listen.host }, `worker metrics and health on port ${port}`);
  }

  async onApplicationShutdown(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (s === undefined) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async answer(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
      if (path === '/metrics') {
        return send(res, 200, this.metrics.registry.contentType, await this.metrics.registry.metrics());
      }
      if (path === '/health/live') return send(res, 200, 'application/json', JSON.stringify({ status: 'ok' }));
      if (path === '/health/ready') {
        const checks = await this.readiness();
        const ok = Object.values(checks).every((v) => v === 'ok');
        return send(
          res,
          ok ? 200 : 503,
          'application/json',
          JSON.stringify({ status: ok ? 'ok' : 'unavailable', checks }),
        );
      }
      return send(res, 404, 'text/plain', 'not found\n');
    } catch (e) {
      this.log.warn({ err: e, path }, 'ops request failed');
      return send(res, 500, 'text/plain', 'internal error\n');
    }
  }

  private async readiness(): Promise<Record<string, CheckState>> {
    const pg = (pool: Pool) => within(pool.query('SELECT 1').then(() => undefined));
    const [postgres, target, redis] = await Promise.all([
      pg(this.jobs),
      this.target === this.jobs ? Promise.resolve<CheckState>('ok') : pg(this.target),
      within(this.redis.ping().then(() => undefined)),
    ]);
    return {
      dispatcher: this.worker.accepting ? 'ok' : 'down',
      postgres,
      ...(this.target === this.jobs ? {} : { target }),
      redis,
    };
  }
}

async function within(p: Promise<void>): Promise<CheckState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<CheckState>((resolve) => (timer = setTimeout(() => resolve('down'), CHECK_TIMEOUT_MS)));
  try {
    return await Promise.race([p.then((): CheckState => 'ok').catch((): CheckState => 'down'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': 'no-store' });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
