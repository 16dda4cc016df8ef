import { type DynamicModule, Module } from '@nestjs/common';
import type { Pool } from 'pg';
import { APP_CONFIG, type AppConfig, ConfigModule } from '@gw/config';
import { DbModule, JOB_DB_POOL, TARGET_DB_POOL } from '@gw/db';
import { CredentialsCipher, ImportJobsModule, ImportSchedulesModule, QueueModule, RunImportJob } from '@gw/jobs';
import { VolumeStore } from '@gw/volumes';
import { ImportProcessor } from './import/import.processor';
import { ImportWorkerService } from './import/import-worker.service';
import { ParseThreads } from './import/parse-threads';
import { WorkerOpsServer } from './ops/ops-server';
import { WorkerMetrics } from './ops/worker-metrics';
import { ScheduleWorkerService } from './schedules/schedule-worker.service';

@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [
        ConfigModule.forRoot(config),
        DbModule.forRoot('worker'),
        QueueModule.forRoot(),
        ImportJobsModule,
        ImportSchedulesModule,
      ],
      providers: [
        {
          provide: RunImportJob,
          inject: [
            JOB_DB_POOL,
            TARGET_DB_POOL,
            CredentialsCipher,
            APP_CONFIG,
            ParseThreads,
            WorkerMetrics,
            VolumeStore,
          ],
          useFactory: (
            jobs: Pool,
            target: Pool,
            cipher: CredentialsCipher,
            c: AppConfig,
            threads: ParseThreads,
            metrics: WorkerMetrics,
            volumes: VolumeStore,
          ) =>
            new RunImportJob({
              jobs,
              target,
              cipher,
              config: c,
              storageDeps: {
                ambientCredentials: c.storage.ambientCredentials,
                onRetry: (e) => metrics.storageRetry(e),
              },
              volumes,
              parsePool: threads.pool,
              observer: metrics,
            }),
        },
        ParseThreads,
        WorkerMetrics,
        ImportProcessor,
        ImportWorkerService,
        WorkerOpsServer,
        ScheduleWorkerService,
      ],
    };
  }
}
