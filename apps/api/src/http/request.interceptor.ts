import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { catchError, from, mergeMap, type Observable, throwError, timeout, TimeoutError } from 'rxjs';
import { APP_CONFIG, type AppConfig } from '@gw/config';
import { mergeFields, parseRequestBody } from './body';
import { httpErrors } from './http.errors';
import { readBody, UNBUFFERED_BODY } from './raw-body.middleware';
import { stateOf } from './request-context';

const DEFAULT_REQUEST_TIMEOUT_S = 30;
/** setTimeout's largest delay (2^31 − 1 ms); a longer one fires at once, so longer timeouts are clamped. */
export const MAX_TIMER_MS = 2_147_483_647;

/** Request-Timeout in ms: integer seconds, default 30, clamped to what a timer can wait. */
export function requestTimeoutMs(header: string | undefined): number {
  const seconds =
    header !== undefined && /^\d+$/.test(header.trim()) ? Number(header.trim()) : DEFAULT_REQUEST_TIMEOUT_S;
  return Math.min(Math.max(1, seconds) * 1000, MAX_TIMER_MS);
}

/**
 * After authentication: read and parse the body (413 / 1801 here, so auth errors come first and
 * an unauthenticated body is never read), merge the query string, resolve the database (body
 * dbName, DB-Name header, "default"), and bound the call, body reading included, by the
 * Request-Timeout header (408 / 10001). Routes marked `@UnbufferedBody()` get `req` unread.
 */
@Injectable()
export class RequestInterceptor implements NestInterceptor {
  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {}

  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<Request>();
    const state = stateOf(req);
    const unbuffered = this.reflector.getAllAndOverride<boolean | undefined>(UNBUFFERED_BODY, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    if (unbuffered === true) {
      // The route streams the body (volume uploads): query fields only, and no request timeout —
      // an upload lasts as long as its bytes take; the socket's own timeouts still apply.
      state.streamedBody = true;
      this.resolveFields(req, undefined);
      return next.handle();
    }
    return from(readBody(req, this.config.requestBodyLimit)).pipe(
      mergeMap((raw) => {
        this.resolveFields(req, raw);
        return next.handle();
      }),
      timeout(requestTimeoutMs(req.header('request-timeout'))),
      catchError((e: unknown) => throwError(() => (e instanceof TimeoutError ? httpErrors.timeout() : e))),
    );
  }
  private resolveFields(req: Request, raw: Buffer | undefined): void {
    const state = stateOf(req);
    const fields = mergeFields(parseRequestBody(raw), req.query);
    state.fields = fields;
    const db = fields.dbName;
    // PostgreSQL text cannot hold NUL: a 1100 as for every other name (stringField), not a failed query.
    if (typeof db === 'string' && db.includes('\u0000'))
      throw httpErrors.invalid('dbName must not contain NUL characters');
    state.dbName = typeof db === 'string' && db !== '' ? db : req.header('db-name')?.trim() || 'default';
  }
}
