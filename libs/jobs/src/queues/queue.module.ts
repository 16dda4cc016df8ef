import { type DynamicModule, Global, Inject, Module, type OnApplicationShutdown } from '@nestjs/common';
import type Redis from 'ioredis';
import { APP_CONFIG, type AppConfig } from '@gw/config';
import { createRedis } from './redis';

export const REDIS_QUEUE = Symbol('REDIS_QUEUE');
export const REDIS_PRODUCER = Symbol('REDIS_PRODUCER');
export const REDIS_PROBE = Symbol('REDIS_PROBE');

class RedisLifecycle implements OnApplicationShutdown {
  constructor(
    @Inject(REDIS_QUEUE) private readonly queue: Redis,
    @Inject(REDIS_PRODUCER) private readonly producer: Redis,
    @Inject(REDIS_PROBE) private readonly probe: Redis,
  ) {}

  async onApplicationShutdown(): Promise<void> {
    await Promise.all(
      [this.queue, this.producer, this.probe].map(async (c) => {
        try {
          await c.quit();
        } catch {
          c.disconnect();
        }
      }),
    );
  }
}

/** Redis for the whole process: three named connections from the one factory. */
@Global()
@Module({
  providers: [
    { provide: REDIS_QUEUE, inject: [APP_CONFIG], useFactory: (c: AppConfig) => createRedis(c, 'queue') },
    { provide: REDIS_PRODUCER, inject: [APP_CONFIG], useFactory: (c: AppConfig) => createRedis(c, 'producer') },
    { provide: REDIS_PROBE, inject: [APP_CONFIG], useFactory: (c: AppConfig) => createRedis(c, 'probe') },
    RedisLifecycle,
  ],
  exports: [REDIS_QUEUE, REDIS_PRODUCER, REDIS_PROBE],
})
export class RedisModule {}

/**
 * The process's Redis for its queues. BullMQ is wired by our own code, not through a Nest module:
 * per-collection queues and consumers are created at run time (BullJobQueue, FairDispatcher,
 * ScheduleQueue) on the shared `queue` connection with the QUEUE_PREFIX key prefix, so Redis
 * connections do not grow with the number of collections (decision 1720).
 */
@Global()
@Module({})
export class QueueModule {
  static forRoot(): DynamicModule {
    return { module: QueueModule, imports: [RedisModule], exports: [RedisModule] };
  }
}
