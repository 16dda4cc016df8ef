import { randomUUID } from 'node:crypto';
import { SetMetadata } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { withLogContext } from '@gw/logger';
import { httpErrors } from './http.errors';
import { stateOf } from './request-context';

const VALID_REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/**
 * A body left unread when the answer is sent (401, 403, 404, 413, or a route that ignores it) is
 * drained only when this little of it remains, so an honest client keeps its keep-alive
 * connection; anything larger (or of unknown size) closes the connection instead of reading it.
 */
export const DRAIN_UNREAD_BODY_BYTES = 64 * 1024;

export const UNBUFFERED_BODY = 'igw:unbufferedBody';
/**
 * Opt-out of body buffering for a route (or controller) that streams its request body itself,
 * e.g. an upload. Authentication still runs first (the guard needs headers only); the handler
 * then owns `req` as a stream, and its size limit, instead of `stateOf(req).fields`.
 */
export const UnbufferedBody = () => SetMetadata(UNBUFFERED_BODY, true);

/**
 * Assigns the request id (a sane incoming `X-Request-Id`, else a new UUID; answered in the same
 * header) and reads nothing: the body is read by the interceptor, which runs after
 * the auth guard (import-api.md §5 check order), so a request without a valid key costs its
 * headers, never its body.
 */
export function requestIdMiddleware() {
  return (req: Request, res: Response, next: NextFunction): void => {
    const state = stateOf(req);
    const incoming = req.header('x-request-id');
    state.requestId = incoming !== undefined && VALID_REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.setHeader('X-Request-Id', state.requestId);
    closeIfBodyUnread(req, res);
    // Every line logged while this request runs (guard, use-cases, errors) names its request id.
    withLogContext({ requestId: state.requestId }, next);
  };
}

/**
 * When the answer leaves before the body was read, decide before the headers go out: a small
 * remainder is drained by Node after the response (keep-alive kept); otherwise `Connection:
 * close`, and Node destroys the socket once the answer is flushed, without reading the rest.
 */
function closeIfBodyUnread(req: Request, res: Response): void {
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => Response;
  res.writeHead = ((...args: unknown[]) => {
    if (!req.complete && !stateOf(req).bodyRead && !res.headersSent) {
      const declared = Number(req.header('content-length') ?? Number.NaN);
      const small = Number.isFinite(declared) && declared - req.socket.bytesRead < DRAIN_UNREAD_BODY_BYTES;
      if (!small && req.header('content-length') !== '0') res.setHeader('Connection', 'close');
    }
    return writeHead(...args);
  }) as Response['writeHead'];
}

/**
 * Reads the raw body (any Content-Type; never form-decoded) up to `limit` bytes. Past the limit
 * (declared or actual) it stops reading and rejects with 413 / 1102; the rest is never buffered.
 */
export function readBody(req: Request, limit: number): Promise<Buffer> {
  const state = stateOf(req);
  state.bodyRead = true;
  const declared = Number(req.header('content-length') ?? '0');
  if (declared > limit) {
    state.bodyRead = false; // unread: the connection closes after the 413
    return Promise.reject(httpErrors.tooLarge());
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    const onData = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        cleanup();
        chunks.length = 0;
        req.pause();
        state.bodyRead = false;
        reject(httpErrors.tooLarge());
        return;
      }
      chunks.push(c);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (e: Error) => {
      cleanup();
      reject(e);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}
