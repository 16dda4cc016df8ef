import { type DynamicModule, Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Pool, type PoolConfig } from 'pg';
import { APP_CONFIG, type AppConfig, type DatabaseSettings, databaseSettings, type ProcessRole } from '@gw/config';
import { createPrismaClient, PrismaClient } from './prisma';

/** Raw-SQL pool on the job database (admission cap, progress, locks), apart from Prisma's. */
export const JOB_DB_POOL = Symbol('JOB_DB_POOL');
/** Pool on the database that holds collection tables (`TARGET_DATABASE_URL`). */
export const TARGET_DB_POOL = Symbol('TARGET_DB_POOL');

class DbLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(PrismaClient) private readonly prisma: PrismaClient,
    @Inject(JOB_DB_POOL) private readonly jobPool: Pool,
    @Inject(TARGET_DB_POOL) private readonly targetPool: Pool,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await this.prisma.$disconnect();
    await this.jobPool.end();
    if (this.targetPool !== this.jobPool) await this.targetPool.end();
  }
}

@Global()
@Module({})
export class DbModule {
  /** `role` picks the pool size and session timeouts (decision 0902). */
  static forRoot(role: ProcessRole): DynamicModule {
    return {
      module: DbModule,
      providers: [
        {
          provide: PrismaClient,
          inject: [APP_CONFIG],
          useFactory: (c: AppConfig) => createPrismaClient(c.databaseUrl, pgSessionConfig(databaseSettings(c, role))),
        },
        {
          provide: JOB_DB_POOL,
          inject: [APP_CONFIG],
          useFactory: (c: AppConfig) => createPool(c.databaseUrl, 'igw-jobs', databaseSettings(c, role)),
        },
        {
          provide: TARGET_DB_POOL,
          inject: [APP_CONFIG, JOB_DB_POOL],
          useFactory: (c: AppConfig, jobPool: Pool) =>
            c.targetDatabaseUrl === c.databaseUrl
              ? jobPool
              : createPool(c.targetDatabaseUrl, 'igw-target', databaseSettings(c, role)),
        },
        DbLifecycle,
      ],
      exports: [PrismaClient, JOB_DB_POOL, TARGET_DB_POOL],
    };
  }
}

/** Server-side keepalive and dead-client checks: the backend notices a vanished worker host. */
const SERVER_KEEPALIVE = '-c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3';
/** PG ≥ 14: a running statement (a COPY waiting for data) ends when its client is gone. */
const CLIENT_CHECK = '-c client_connection_check_interval=10000';

/**
 * The session part of a pg config: timeouts (0 = none) sent at connect, TCP keepalive on our
 * side, and keepalive plus dead-client checks asked of the server, so a dead worker host can
 * neither hold a transaction nor keep a COPY open for hours.
 */
export function pgSessionConfig(s: Partial<DatabaseSettings>): PoolConfig {
  return {
    ...(s.statementTimeoutMs === undefined ? {} : { statement_timeout: s.statementTimeoutMs }),
    ...(s.lockTimeoutMs === undefined ? {} : { lock_timeout: s.lockTimeoutMs }),
    ...(s.idleInTransactionTimeoutMs === undefined
      ? {}
      : { idle_in_transaction_session_timeout: s.idleInTransactionTimeoutMs }),
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    options: `${SERVER_KEEPALIVE} ${CLIENT_CHECK}`,
  };
}

/** A pool with the session settings of `settings` (a bare number: just the size, as the CLI uses). */
export function createPool(
  connectionString: string,
  applicationName: string,
  settings: Partial<DatabaseSettings> | number = {},
): Pool {
  const s = typeof settings === 'number' ? { poolSize: settings } : settings;
  const pool = new Pool({
    connectionString,
    application_name: applicationName,
    max: s.poolSize ?? 10,
    connectionTimeoutMillis: s.poolTimeoutMs ?? 5_000,
    ...pgSessionConfig(s),
  });
  // A client losing its connection (Postgres restart, pg_terminate_backend) must not crash the
  // process: idle ones are reported on the pool, checked-out ones on themselves. The failing query
  // still rejects, and pg-pool drops the dead client when it is released.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}
