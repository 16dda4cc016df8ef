import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import type { Request } from 'express';
import { catchError, type Observable, throwError, timeout, TimeoutError } from 'rxjs';
import { mergeFields, parseRequestBody } from './body';
import { httpErrors } from './http.errors';
import { stateOf } from './request-context';

const DEFAULT_REQUEST_TIMEOUT_S = 30;

/**
 * After authentication: parse the body (413 / 1801 here, so auth errors come first), merge the
 * query string, resolve the database (body dbName, DB-Name header, "default"), and bound the
 * call by the Request-Timeout header (408 / 10001).
 */
@Injectable()
export class RequestInterceptor implements NestInterceptor {
  intercept(ctx: ExecutionContext, next: CallHandler): Observable<unknown> {
    const req = ctx.switchToHttp().getRequest<Request>();
    const state = stateOf(req);
    if (state.bodyTooLarge) throw httpErrors.tooLarge();
    const fields = mergeFields(parseRequestBody(state.rawBody), req.query);
    state.fields = fields;
    const db = fields.dbName;
    state.dbName = typeof db === 'string' && db !== '' ? db : req.header('db-name')?.trim() || 'default';

    // An upload lasts as long as its bytes take; the socket's own timeouts still apply.
    if (state.streamedBody === true) return next.handle();
    const header = req.header('request-timeout');
    const seconds = header !== undefined && /^\d+$/.test(header.trim()) ? Number(header) : DEFAULT_REQUEST_TIMEOUT_S;
    return next.handle().pipe(
      timeout(Math.max(1, seconds) * 1000),
      catchError((e: unknown) => throwError(() => (e instanceof TimeoutError ? httpErrors.timeout() : e))),
    );
  }
}
