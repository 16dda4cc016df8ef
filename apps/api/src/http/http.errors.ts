import { CodedError } from '@gw/errors';

/** Errors raised by the HTTP layer itself (parsing, auth, limits). */
export enum HttpErrorCode {
  Unauthenticated = 'UNAUTHENTICATED',
  Forbidden = 'FORBIDDEN',
  NotJson = 'NOT_JSON',
  BodyTooLarge = 'BODY_TOO_LARGE',
  RequestTimeout = 'REQUEST_TIMEOUT',
  RouteNotFound = 'ROUTE_NOT_FOUND',
  InvalidParameter = 'HTTP_INVALID_PARAMETER',
}

export class HttpError extends CodedError<HttpErrorCode> {}

export const httpErrors = {
  unauthenticated: () => new HttpError(HttpErrorCode.Unauthenticated, "user hasn't authenticated"),
  forbidden: (what: string) => new HttpError(HttpErrorCode.Forbidden, `privilege not permitted: requires ${what}`),
  notJson: () => new HttpError(HttpErrorCode.NotJson, 'can only accept json format request'),
  tooLarge: () => new HttpError(HttpErrorCode.BodyTooLarge, 'parameter too large'),
  timeout: () => new HttpError(HttpErrorCode.RequestTimeout, 'request timeout'),
  routeNotFound: () => new HttpError(HttpErrorCode.RouteNotFound, 'route not found'),
  invalid: (detail: string) => new HttpError(HttpErrorCode.InvalidParameter, `invalid parameter: ${detail}`),
};
