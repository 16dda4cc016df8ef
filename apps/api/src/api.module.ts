import { type DynamicModule, Module } from '@nestjs/common';
import { type AppConfig, ConfigModule } from '@gw/config';
import { DbModule } from '@gw/db';
import { QueueModule } from '@gw/jobs';
import { HealthController } from './ops/health.controller';

@Module({})
export class ApiModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: ApiModule,
      imports: [ConfigModule.forRoot(config), DbModule.forRoot(), QueueModule.forRoot()],
      controllers: [HealthController],
    };
  }
}
