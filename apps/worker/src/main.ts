import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { bootProcess } from '@gw/jobs';
import { PinoNestLogger } from '@gw/logger';
import { WorkerModule } from './worker.module';

async function main(): Promise<void> {
  const { config, logger } = await bootProcess('worker');
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
    logger: new PinoNestLogger(logger),
  });
  // SIGTERM/SIGINT close processors (WorkerHost.onApplicationShutdown), then Redis and Postgres.
  app.enableShutdownHooks();
  await app.init();
  logger.info({ concurrency: config.worker.concurrency }, 'import-gateway worker started');
}

main().catch((e: unknown) => {
  process.stderr.write(`import-gateway worker: failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
