import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { bootProcess } from '@gw/jobs';
import { PinoNestLogger } from '@gw/logger';
import { ApiModule } from './api.module';
import { tuneHttpServer } from './http/http-server';

async function main(): Promise<void> {
  const { config, logger } = await bootProcess('api');
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(config, logger), {
    logger: new PinoNestLogger(logger),
    bodyParser: false,
  });
  app.disable('x-powered-by');
  app.enableShutdownHooks();
  // Loaded only once start-up checks passed: a process that exits on a preflight failure does not
  // pay for @nestjs/swagger (about 0.3 s idle, seconds on a loaded machine).
  const { setupOpenApi } = await import('./openapi/openapi');
  setupOpenApi(app);
  tuneHttpServer(app.getHttpServer());
  await app.listen(config.port, config.host);
  logger.info({ port: config.port, host: config.host }, 'import-gateway API listening');
}

main().catch((e: unknown) => {
  process.stderr.write(`import-gateway api: failed to start: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
