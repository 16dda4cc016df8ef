import { type DynamicModule, Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import { Pool } from 'pg';
import { APP_CONFIG, type AppConfig } from '@gw/config';
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
  static forRoot(): DynamicModule {
    return {
      module: DbModule,
      providers: [
        {
          provide: PrismaClient,
          inject: [APP_CONFIG],
          useFactory: (c: AppConfig) => createPrismaClient(c.databaseUrl),
        },
        {
          provide: JOB_DB_POOL,
          inject: [APP_CONFIG],
          useFactory: (c: AppConfig) => createPool(c.databaseUrl, 'igw-jobs'),
        },
        {
          provide: TARGET_DB_POOL,
          inject: [APP_CONFIG, JOB_DB_POOL],
          useFactory: (c: AppConfig, jobPool: Pool) =>
            c.targetDatabaseUrl === c.databaseUrl ? jobPool : createPool(c.targetDatabaseUrl, 'igw-target'),
        },
        DbLifecycle,
      ],
      exports: [PrismaClient, JOB_DB_POOL, TARGET_DB_POOL],
    };
  }
}

export function createPool(connectionString: string, applicationName: string, max = 10): Pool {
  const pool = new Pool({ connectionString, application_name: applicationName, max, connectionTimeoutMillis: 5_000 });
  // A client losing its connection (Postgres restart, pg_terminate_backend) must not crash the
  // process: idle ones are reported on the pool, checked-out ones on themselves. The failing query
  // still rejects, and pg-pool drops the dead client when it is released.
  pool.on('error', () => undefined);
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}
