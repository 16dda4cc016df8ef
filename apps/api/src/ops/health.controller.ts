import { Controller, Get, HttpCode, Inject, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { detectPgvector, pgRunner } from '@gw/collections';
import { APP_CONFIG, type AppConfig } from '@gw/config';
import { JOB_DB_POOL, pendingMigrations, readMigrations, TARGET_DB_POOL } from '@gw/db';
import { pingRedis, REDIS_PROBE } from '@gw/jobs';
import { UnbufferedBody } from '../http/raw-body.middleware';
import { seesOperatorDetail, stateOf } from '../http/request-context';

type CheckResult = ({ status: 'ok' } | { status: 'error'; error: string }) & Record<string, unknown>;

const CHECK_TIMEOUT_MS = 2_000;

async function timed(run: () => Promise<void>): Promise<CheckResult> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      run(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          reject(new Error(`no answer within ${CHECK_TIMEOUT_MS} ms`));
        }, CHECK_TIMEOUT_MS);
      }),
    ]);
    return { status: 'ok' };
  } catch (e) {
    return { status: 'error', error: (e as Error).message || String(e) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * What an anonymous probe sees of a check: its status only. Error texts (hosts, ports, server
 * versions, migration names) are for callers with a valid key (decision 0901).
 */
function withoutDetail(c: CheckResult): CheckResult {
  return c.status === 'ok' ? { status: 'ok' } : { status: 'error', error: 'unavailable' };
}

/** Liveness (process answers) and readiness (PostgreSQL, Redis and the schema are usable). */
@Controller('health')
@UnbufferedBody()
export class HealthController {
  private readonly migrations = readMigrations();

  constructor(
    @Inject(JOB_DB_POOL) private readonly pool: Pool,
    @Inject(REDIS_PROBE) private readonly redis: Redis,
    @Inject(TARGET_DB_POOL) private readonly target: Pool,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  /** FloatVector storage (collections-api.md §3): pgvector when installed, else real[]. */
  private async vectorStorage(): Promise<CheckResult> {
    const mode = this.config.collections.pgvector;
    try {
      const info = await detectPgvector(pgRunner(this.target));
      const uses = mode !== 'off' && info.available ? 'pgvector' : 'array';
      if (mode === 'require' && !info.available) {
        return {
          status: 'error',
          error: 'COLLECTIONS_PGVECTOR=require but the vector extension is not installed',
          mode,
        };
      }
      return { status: 'ok', mode, pgvector: info.available, ...(info.version ? { version: info.version } : {}), uses };
    } catch (e) {
      return { status: 'error', error: (e as Error).message };
    }
  }

  @Get('live')
  @HttpCode(200)
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  async ready(
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ status: string; checks: Record<string, CheckResult> }> {
    const [postgres, redis] = await Promise.all([
      timed(async () => {
        await this.pool.query('SELECT 1');
      }),
      timed(() => pingRedis(this.redis, CHECK_TIMEOUT_MS)),
    ]);
    const migrations =
      postgres.status === 'ok'
        ? await timed(async () => {
            const pending = await pendingMigrations(this.pool, this.migrations);
            if (pending.length > 0) throw new Error(`pending: ${pending.join(', ')}`);
          })
        : ({ status: 'error', error: 'PostgreSQL unreachable' } as const);
    const vectors =
      postgres.status === 'ok'
        ? await this.vectorStorage()
        : ({ status: 'error', error: 'PostgreSQL unreachable' } as const);
    const all = { postgres, redis, migrations, vectors };
    const checks = !seesOperatorDetail(stateOf(req).principal)
      ? (Object.fromEntries(Object.entries(all).map(([k, c]) => [k, withoutDetail(c)])) as typeof all)
      : all;
    const failing = Object.entries(checks)
      .filter(([, c]) => c.status !== 'ok')
      .map(([name]) => name);
    res.status(failing.length === 0 ? 200 : 503);
    return { status: failing.length === 0 ? 'ok' : `unavailable: ${failing.join(', ')}`, checks };
  }
}
