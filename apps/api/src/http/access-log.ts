import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import pinoHttp from 'pino-http';
import type { Logger } from '@gw/logger';
import { stateOf } from './request-context';

/** What one access-log line says: only these fields, never headers, bodies or query strings. */
export interface AccessLogLine {
  requestId: string;
  method: string;
  /** The matched route pattern (`/v2/volumes/:name`), `unmatched` for a 404 that matched none. */
  route: string;
  status: number;
  durationMs: number;
  /** The API key that authenticated the call (its id, never the key); absent before or without auth. */
  keyId?: string;
}

/** Scrapes and probes answer every few seconds: logged at debug so they do not drown the calls. */
const QUIET_ROUTES = new Set(['/metrics', '/health/live', '/health/ready']);

export function routePattern(req: Request): string {
  const path = (req.route as { path?: unknown } | undefined)?.path;
  return typeof path === 'string' ? `${req.baseUrl}${path}` : 'unmatched';
}

function line(req: IncomingMessage, res: ServerResponse, responseTime: unknown): AccessLogLine {
  const r = req as Request;
  const s = stateOf(r);
  return {
    requestId: s.requestId,
    method: r.method,
    route: routePattern(r),
    status: res.statusCode,
    durationMs: typeof responseTime === 'number' ? responseTime : 0,
    ...(s.principal?.keyId === undefined ? {} : { keyId: s.principal.keyId }),
  };
}

/**
 * One line per answered request (pino-http, on our logger so redaction applies), written when the
 * response finishes or the client goes away. The line is built from a whitelist: pino-http's own
 * `req`/`res` serializations (headers included) are never logged. The request id comes from
 * `requestIdMiddleware`, which runs first.
 */
export function accessLogMiddleware(logger: Logger) {
  const build = (req: IncomingMessage, res: ServerResponse, val: unknown) =>
    line(req, res, (val as { responseTime?: unknown } | undefined)?.responseTime);
  return pinoHttp({
    logger: logger.child({ log: 'access' }),
    genReqId: (req) => stateOf(req as Request).requestId,
    // No per-request child bindings: the request id would be bound twice (binding and line), and
    // the default `req` binding serializes headers. The line below carries everything.
    quietResLogger: true,
    wrapSerializers: false,
    serializers: { req: () => undefined },
    customLogLevel: (req, res, err) => {
      if (err !== undefined || res.statusCode >= 500) return 'error';
      return QUIET_ROUTES.has(routePattern(req as Request)) ? 'debug' : 'info';
    },
    customSuccessObject: build,
    customErrorObject: build,
    customSuccessMessage: () => 'request',
    customErrorMessage: () => 'request',
  });
}
