import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import type { INestApplication } from '@nestjs/common';
import type { Scope } from '@gw/db';
import { REQUIRED_SCOPE } from '../../apps/api/src/http/auth.guard';

export interface AppRoute {
  method: string;
  /** The route pattern as Nest registered it (`/v2/volumes/:volumeName`). */
  pattern: string;
  /** A concrete path for it (parameters filled in). */
  path: string;
  /** The scope it requires; undefined for open routes (health, metrics). */
  scope: Scope | undefined;
  handler: string;
}

const PARAMS: Record<string, string> = { volumeName: 'vol_auth', path: 'a/b.json' };

function joinPath(...parts: string[]): string {
  return `/${parts
    .map((p) => p.replace(/^\/+|\/+$/g, ''))
    .filter((p) => p !== '')
    .join('/')}`;
}

function fill(pattern: string): string {
  return pattern.replace(/[:*](\w+)/g, (_m, name: string) => PARAMS[name] ?? `x_${name}`);
}

/**
 * Every route the Nest application serves, read from its controllers' metadata (not a hand list),
 * with the scope its handler requires: a route added tomorrow is in the auth matrix tomorrow.
 */
export function enumerateRoutes(app: INestApplication): AppRoute[] {
  const routes: AppRoute[] = [];
  for (const mod of app.get(ModulesContainer).values()) {
    for (const wrapper of mod.controllers.values()) {
      const ctrl = wrapper.metatype as (new (...args: never[]) => object) | null;
      if (ctrl === null || typeof ctrl !== 'function') continue;
      const base = Reflect.getMetadata(PATH_METADATA, ctrl) as string | string[] | undefined;
      const classScope = Reflect.getMetadata(REQUIRED_SCOPE, ctrl) as Scope | undefined;
      const proto = ctrl.prototype as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        if (name === 'constructor') continue;
        const handler = proto[name];
        if (typeof handler !== 'function') continue;
        const sub = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (sub === undefined || method === undefined) continue;
        const scope = (Reflect.getMetadata(REQUIRED_SCOPE, handler) as Scope | undefined) ?? classScope;
        for (const b of [base ?? ''].flat()) {
          for (const s of [sub].flat()) {
            const pattern = joinPath(b, s);
            routes.push({
              method: RequestMethod[method],
              pattern,
              path: fill(pattern),
              scope,
              handler: `${ctrl.name}.${name}`,
            });
          }
        }
      }
    }
  }
  return routes;
}
