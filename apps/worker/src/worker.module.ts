import { type DynamicModule, Module } from '@nestjs/common';
import { type AppConfig, ConfigModule } from '@gw/config';
import { DbModule } from '@gw/db';
import { QueueModule } from '@gw/jobs';

@Module({})
export class WorkerModule {
  static forRoot(config: AppConfig): DynamicModule {
    return {
      module: WorkerModule,
      imports: [ConfigModule.forRoot(config), DbModule.forRoot(), QueueModule.forRoot()],
    };
  }
}
