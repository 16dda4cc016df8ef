import { Module } from '@nestjs/common';
import type Redis from 'ioredis';
import type { Pool } from 'pg';
import { APP_CONFIG, type AppConfig } from '@gw/config';
import { ImportSchedulesRepository, JOB_DB_POOL, TARGET_DB_POOL } from '@gw/db';
import { CreateImportJob } from '../import/create-import-job.usecase';
import { CredentialsCipher } from '../import/credentials-cipher';
import { CollectionsImportCatalog } from '../import/import-catalog';
import { ImportJobsModule } from '../import/import-jobs.module';
import { REDIS_PRODUCER } from '../queues/queue.module';
import { ManageImportSchedules } from './manage-schedules.usecase';
import { ScheduleQueue } from './schedule-queue';
import { RunScheduleTick } from './schedule-tick.usecase';

/** Scheduled imports (decision 1402): the API's routes and the workers' ticks share these. */
@Module({
  imports: [ImportJobsModule],
  providers: [
    {
      provide: ImportSchedulesRepository,
      inject: [JOB_DB_POOL],
      useFactory: (p: Pool) => new ImportSchedulesRepository(p),
    },
    {
      provide: ScheduleQueue,
      inject: [REDIS_PRODUCER, APP_CONFIG],
      useFactory: (r: Redis, c: AppConfig) => new ScheduleQueue(r, c.queuePrefix),
    },
    {
      provide: ManageImportSchedules,
      inject: [ImportSchedulesRepository, JOB_DB_POOL, TARGET_DB_POOL, ScheduleQueue, CredentialsCipher, APP_CONFIG],
      useFactory: (
        repo: ImportSchedulesRepository,
        catalog: Pool,
        target: Pool,
        queue: ScheduleQueue,
        cipher: CredentialsCipher,
        c: AppConfig,
      ) => new ManageImportSchedules(repo, new CollectionsImportCatalog(catalog, target), queue, cipher, c),
    },
    {
      provide: RunScheduleTick,
      inject: [ImportSchedulesRepository, CreateImportJob, CredentialsCipher, APP_CONFIG],
      useFactory: (repo: ImportSchedulesRepository, create: CreateImportJob, cipher: CredentialsCipher, c: AppConfig) =>
        new RunScheduleTick(repo, create, cipher, c, { ambientCredentials: c.storage.ambientCredentials }),
    },
  ],
  exports: [ImportSchedulesRepository, ScheduleQueue, ManageImportSchedules, RunScheduleTick],
})
export class ImportSchedulesModule {}
