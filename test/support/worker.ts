import { Writable } from 'node:stream';
import { NestFactory } from '@nestjs/core';
import type { INestApplicationContext } from '@nestjs/common';
import { WorkerModule } from '../../apps/worker/src/worker.module';
import type { AppConfig } from '@gw/config';
import { createRootLogger, PinoNestLogger } from '@gw/logger';

export interface TestWorker {
  app: INestApplicationContext;
  logs: () => string;
  close: () => Promise<void>;
}

/** A worker in this process (same config as the gateway under test). */
export async function startTestWorker(config: AppConfig): Promise<TestWorker> {
  let logText = '';
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logText += chunk.toString();
      cb();
    },
  });
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config), {
    logger: new PinoNestLogger(createRootLogger(config.logLevel, sink)),
    abortOnError: false,
  });
  await app.init();
  return { app, logs: () => logText, close: () => app.close() };
}
