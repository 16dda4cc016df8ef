export { QueueModule, RedisModule, REDIS_PRODUCER, REDIS_PROBE, REDIS_QUEUE } from './queues/queue.module';
export { createRedis, pingRedis, type RedisPurpose } from './queues/redis';
export { bootProcess } from './runtime/boot';
export { describePreflightFailure, preflight, type PreflightFailure } from './runtime/preflight';
