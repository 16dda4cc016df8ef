import { type DynamicModule, Inject, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import type { NextFunction, Request, Response } from 'express';
import type { Pool } from 'pg';
import type { CollectionsContext } from '@gw/collections';
import { APP_CONFIG, type AppConfig, ConfigModule } from '@gw/config';
import { ApiKeysRepository, DbModule, ImportJobsRepository, JOB_DB_POOL, TARGET_DB_POOL } from '@gw/db';
import { IMPORT_JOB_QUEUE, ImportJobsModule, ImportSchedulesModule, type JobQueue, QueueModule } from '@gw/jobs';
import { AuthGuard } from './http/auth.guard';
import { EnvelopeFilter } from './http/envelope.filter';
import { requestIdMiddleware } from './http/raw-body.middleware';
import { RequestInterceptor } from './http/request.interceptor';
import { HealthController } from './ops/health.controller';
import { ApiMetrics, MetricsController } from './ops/metrics.controller';
import { V1ImportController } from './v1/import.controller';
import { COLLECTIONS_CONTEXT, V2CollectionsController } from './v2/collections.controller';
import { UiController } from './ui/ui.controller';
import { V2ImportController } from './v2/import.controller';
import { V2JobEventsController } from './v2/job-events.controller';
import { V2VolumesController } from './v2/volumes.controller';
import { V2SchedulesController } from './v2/schedules.controller';

@Module({})
export class ApiModule implements NestModule {
  constructor(@Inject(ApiMetrics) private readonly requestMetrics: ApiMetrics) {}

  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [
        ConfigModule.forRoot(config),
        DbModule.forRoot('api'),
        QueueModule.forRoot(),
        ImportJobsModule,
        ImportSchedulesModule,
      ],
      controllers: [
        HealthController,
        MetricsController,
        V2ImportController,
        V1ImportController,
        V2CollectionsController,
        V2VolumesController,
        V2JobEventsController,
        UiController,
        V2SchedulesController,
      ],
      providers: [
        ApiMetrics,
        { provide: ApiKeysRepository, inject: [JOB_DB_POOL], useFactory: (p: Pool) => new ApiKeysRepository(p) },
        {
          provide: COLLECTIONS_CONTEXT,
          inject: [JOB_DB_POOL, TARGET_DB_POOL, APP_CONFIG, ImportJobsRepository, IMPORT_JOB_QUEUE],
          useFactory: (
            catalog: Pool,
            target: Pool,
            c: AppConfig,
            jobs: ImportJobsRepository,
            queue: JobQueue,
          ): CollectionsContext => ({
            catalog,
            target,
            config: { pgvector: c.collections.pgvector },
            // Dropping a collection or partition first cancels its active imports (spec §9).
            beforeDrop: async (db, collection, partition) => {
              const reason = `cancelled: ${partition === undefined ? 'collection' : 'partition'} dropped`;
              const ids = await jobs.cancelActiveForCollection(db, collection, partition, reason);
              await Promise.allSettled(ids.map((id) => queue.remove(db, collection, id)));
            },
          }),
        },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_INTERCEPTOR, useClass: RequestInterceptor },
        { provide: APP_FILTER, useClass: EnvelopeFilter },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer
      .apply(requestIdMiddleware(), (req: Request, res: Response, next: NextFunction) => {
        this.requestMetrics.use(req, res, next);
      })
      .forRoutes('*path');
  }
}
