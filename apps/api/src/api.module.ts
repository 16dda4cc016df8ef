import { type DynamicModule, type MiddlewareConsumer, Module, type NestModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import type { Pool } from 'pg';
import { type AppConfig, ConfigModule } from '@gw/config';
import { ApiKeysRepository, DbModule, JOB_DB_POOL } from '@gw/db';
import { ImportJobsModule, QueueModule } from '@gw/jobs';
import { AuthGuard } from './http/auth.guard';
import { EnvelopeFilter } from './http/envelope.filter';
import { rawBodyMiddleware } from './http/raw-body.middleware';
import { RequestInterceptor } from './http/request.interceptor';
import { HealthController } from './ops/health.controller';
import { V1ImportController } from './v1/import.controller';
import { V2ImportController } from './v2/import.controller';

@Module({})
export class ApiModule implements NestModule {
  private static bodyLimit = 64 * 1024 * 1024;

  static forRoot(config: AppConfig): DynamicModule {
    ApiModule.bodyLimit = config.requestBodyLimit;
    return {
      module: ApiModule,
      imports: [ConfigModule.forRoot(config), DbModule.forRoot(), QueueModule.forRoot(), ImportJobsModule],
      controllers: [HealthController, V2ImportController, V1ImportController],
      providers: [
        { provide: ApiKeysRepository, inject: [JOB_DB_POOL], useFactory: (p: Pool) => new ApiKeysRepository(p) },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_INTERCEPTOR, useClass: RequestInterceptor },
        { provide: APP_FILTER, useClass: EnvelopeFilter },
      ],
    };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(rawBodyMiddleware(ApiModule.bodyLimit)).forRoutes('*path');
  }
}
