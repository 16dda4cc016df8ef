import { type ArgumentsHost, Catch, type ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Request, Response } from 'express';
import { toEnvelope } from './envelope';
import { httpErrors } from './http.errors';
import { stateOf } from './request-context';

/** Every error leaves as a Milvus envelope; unexpected ones are logged under an errorId. */
@Catch()
export class EnvelopeFilter implements ExceptionFilter {
  private readonly log = new Logger('EnvelopeFilter');

  catch(err: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const req = http.getRequest<Request>();
    const res = http.getResponse<Response>();
    let e = err;
    if (err instanceof HttpException && err.getStatus() === 404) e = httpErrors.routeNotFound();
    else if (err instanceof HttpException && err.getStatus() === 413) e = httpErrors.tooLarge();
    const errorId = randomUUID();
    const env = toEnvelope(e, errorId);
    if (env.body.code === 65535 || env.body.code === 2) {
      this.log.error({ errorId, requestId: stateOf(req).requestId, path: req.path, err }, 'unexpected error');
    }
    if (!res.headersSent) res.status(env.status).json(env.body);
  }
}
