import type { Request } from 'express';
import type { ApiKeyRecord } from '@gw/db';

/** The authenticated caller: an API key, or everyone when AUTH_DISABLED=true. */
export interface Principal {
  keyId?: string;
  scopes: readonly string[];
  databases: readonly string[];
  collections: readonly string[];
}

export const OPEN_PRINCIPAL: Principal = { scopes: ['admin'], databases: [], collections: [] };

/**
 * Operator detail (collection names in /metrics, connection errors in /health/ready) is for a
 * valid key that is not limited to some databases or collections.
 */
export function seesOperatorDetail(p: Principal | undefined): boolean {
  return p !== undefined && p.databases.length === 0 && p.collections.length === 0;
}

export function principalOf(key: ApiKeyRecord): Principal {
  return { keyId: key.id, scopes: key.scopes, databases: key.databases, collections: key.collections };
}

/** Parsed request state attached by the middleware, guard and interceptor. */
export interface GatewayState {
  requestId: string;
  /** The body has been (or is being) read in full; unread bodies close the connection. */
  bodyRead?: boolean;
  /** The route streams the body itself (`@UnbufferedBody()`, volume uploads): no JSON, no request timeout. */
  streamedBody?: boolean;
  principal?: Principal;
  /** The JSON body (§2 rules applied) merged over the query string. */
  fields?: Record<string, unknown>;
  dbName?: string;
}

export type GatewayRequest = Request & { gw: GatewayState };

export function stateOf(req: Request): GatewayState {
  const r = req as GatewayRequest;
  r.gw ??= { requestId: '' };
  return r.gw;
}
