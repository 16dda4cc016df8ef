import { type CanActivate, type ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { APP_CONFIG, type AppConfig } from '@gw/config';
import { ApiKeysRepository, grants, hashApiKey, type ApiKeyRecord, type Scope } from '@gw/db';
import { KeyCache } from './key-cache';
import { httpErrors } from './http.errors';
import { OPEN_PRINCIPAL, principalOf, type Principal, stateOf } from './request-context';

export const REQUIRED_SCOPE = 'igw:requiredScope';
/** The scope a route needs (import-api.md §3). Routes without it need no authentication. */
export const RequireScope = (scope: Scope) => SetMetadata(REQUIRED_SCOPE, scope);

/** `Bearer <key>`, or `Bearer <user>:<password>` from Milvus clients: the key is after the first `:`. */
export function bearerKey(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(header.trim());
  if (!m) return undefined;
  const token = m[1]!.trim();
  const colon = token.indexOf(':');
  const key = colon >= 0 ? token.slice(colon + 1) : token;
  return key === '' ? undefined : key;
}

@Injectable()
export class AuthGuard implements CanActivate {
  private readonly cache: KeyCache;

  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(ApiKeysRepository) private readonly keys: ApiKeysRepository,
  ) {
    this.cache = new KeyCache(config.apiKeyCacheMs);
  }

  private verify(key: string): Promise<ApiKeyRecord | null> {
    return this.cache.get(hashApiKey(key), () => this.keys.verify(key));
  }

  async canActivate(ctx: ExecutionContext): Promise<boolean> {
    const scope = this.reflector.getAllAndOverride<Scope | undefined>(REQUIRED_SCOPE, [
      ctx.getHandler(),
      ctx.getClass(),
    ]);
    const req = ctx.switchToHttp().getRequest<Request>();
    const state = stateOf(req);
    if (this.config.authDisabled) {
      state.principal = OPEN_PRINCIPAL;
      return true;
    }
    const key = bearerKey(req.header('authorization'));
    if (scope === undefined) {
      // Open routes (health, metrics) show their detail to a valid key only: note it, refuse nothing.
      const record = key === undefined ? null : await this.verify(key).catch(() => null);
      if (record !== null) state.principal = principalOf(record);
      return true;
    }
    if (key === undefined) throw httpErrors.unauthenticated();
    const record = await this.verify(key);
    if (record === null) throw httpErrors.unauthenticated();
    if (!grants(record.scopes, scope)) throw httpErrors.forbidden(scope);
    state.principal = principalOf(record);
    return true;
  }
}

/** Keys limited to databases/collections: checked once the request names them. */
export function assertAccess(p: Principal | undefined, dbName: string, collectionName?: string): void {
  if (p === undefined) throw httpErrors.unauthenticated();
  if (p.databases.length > 0 && !p.databases.includes(dbName))
    throw httpErrors.forbidden(`access to database ${dbName}`);
  if (collectionName !== undefined && !mayUseCollection(p, dbName, collectionName))
    throw httpErrors.forbidden(`access to collection ${collectionName}`);
}

/** Whether a key limited to collections (`name` or `db.name`) may use this one; unlimited keys may. */
export function mayUseCollection(p: Principal, dbName: string, collectionName: string): boolean {
  return (
    p.collections.length === 0 || p.collections.some((c) => c === collectionName || c === `${dbName}.${collectionName}`)
  );
}

/**
 * Database routes (create, drop, list) act beyond any one collection: a key limited to
 * collections may not use them; a key limited to databases is checked by `assertAccess`.
 */
export function assertDatabaseAccess(p: Principal | undefined, dbName?: string): void {
  if (p === undefined) throw httpErrors.unauthenticated();
  if (dbName !== undefined) assertAccess(p, dbName);
  if (p.collections.length > 0) throw httpErrors.forbidden('a key not limited to collections');
}

/**
 * Volumes belong to the whole gateway, not to a database: a key limited to databases or
 * collections could otherwise read another tenant's uploads into its own collection. Such keys
 * are refused volume routes and volume imports (decision 0602).
 */
export function assertVolumeAccess(p: Principal | undefined, scope: Scope): void {
  if (p === undefined) throw httpErrors.unauthenticated();
  if (!grants(p.scopes, scope)) throw httpErrors.forbidden(scope);
  if (p.databases.length > 0 || p.collections.length > 0) {
    throw httpErrors.forbidden('a key not limited to databases or collections for volumes');
  }
}
