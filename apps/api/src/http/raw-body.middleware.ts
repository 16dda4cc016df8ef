import { randomUUID } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { stateOf } from './request-context';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * Assigns the request id and reads the raw body (any Content-Type; never form-decoded) up to
 * the limit. Parsing waits until after authentication (§5 check order), so this only buffers.
 */
export function rawBodyMiddleware(limit: number, streamed: (req: Request) => boolean = () => false) {
  return (req: Request, res: Response, next: NextFunction): void => {
    const state = stateOf(req);
    const incoming = req.header('x-request-id');
    state.requestId = incoming !== undefined && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', state.requestId);
    if (streamed(req)) {
      // Volume uploads: the route reads the body as a stream, after authentication.
      state.streamedBody = true;
      next();
      return;
    }

    const declared = Number(req.header('content-length') ?? '0');
    if (declared > limit) {
      state.bodyTooLarge = true;
      req.resume(); // drain without keeping it
      next();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (c: Buffer) => {
      if (done) return;
      size += c.length;
      if (size > limit) {
        state.bodyTooLarge = true;
        chunks.length = 0;
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      if (!state.bodyTooLarge) state.rawBody = Buffer.concat(chunks);
      next();
    });
    req.on('error', (e) => {
      if (done) return;
      done = true;
      next(e);
    });
  };
}
