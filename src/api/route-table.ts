// A declarative table of routes: method, path pattern with `:name`
// parameters, handler. One place matches a request against it.
//
// Invariants:
// - A parameter is one whole path segment, never empty, never a `/`; it is
//   percent-decoded once here (a malformed escape is a 400, never a URIError).
// - A path some route has, asked with a method no route of it takes, is a
//   405 naming the methods it takes (Allow); a path no route has is a 404.
// - The handler's `params` has exactly the names its pattern declares.

import { NapboxError } from '../errors.js';
import { decodePathParam } from './http-io.js';

/** The `:name` parameters of a path pattern, as a type: `'/a/:x/b/:y'` gives `'x' | 'y'`. */
type ParamNames<P extends string> = P extends `${string}:${infer Name}/${infer Rest}`
  ? Name | ParamNames<`/${Rest}`>
  : P extends `${string}:${infer Name}`
    ? Name
    : never;

export type Params<P extends string> = { readonly [K in ParamNames<P>]: string };

export interface Route<C> {
  readonly method: string;
  readonly path: string;
  readonly handler: (ctx: C, params: Readonly<Record<string, string>>) => Promise<void> | void;
}

/** Makes rows of a table whose handlers take `C`: `on('GET', '/a/:id', (ctx, { id }) => ...)`, `params` typed from the path. */
export function routeBuilder<C>() {
  return <P extends string>(method: string, path: P, handler: (ctx: C, params: Params<P>) => Promise<void> | void): Route<C> => ({
    method,
    path,
    handler: handler as Route<C>['handler'],
  });
}

export type RouteMatch<C> =
  | { readonly kind: 'found'; readonly route: Route<C>; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] }
  | { readonly kind: 'not-found' };

interface Compiled<C> {
  readonly route: Route<C>;
  readonly pattern: RegExp;
  readonly names: readonly string[];
}

export class RouteTable<C> {
  private readonly compiled: readonly Compiled<C>[];

  constructor(routes: readonly Route<C>[]) {
    this.compiled = routes.map((r) => compile(r));
  }

  /** The route for `method` and `pathname` (the path without its query), or why there is none. */
  match(method: string, pathname: string): RouteMatch<C> {
    const allow: string[] = [];
    for (const { route: r, pattern, names } of this.compiled) {
      const hit = pattern.exec(pathname);
      if (!hit) continue;
      if (r.method !== method) {
        if (!allow.includes(r.method)) allow.push(r.method);
        continue;
      }
      const params: Record<string, string> = {};
      names.forEach((name, i) => {
        params[name] = decodePathParam(hit[i + 1]!);
      });
      return { kind: 'found', route: r, params };
    }
    return allow.length > 0 ? { kind: 'method-not-allowed', allow } : { kind: 'not-found' };
  }
}

/** The error a failed match answers: 405 with the methods allowed, or 404. */
export function noRouteError(match: Exclude<RouteMatch<unknown>, { kind: 'found' }>, method: string, pathname: string): NapboxError {
  if (match.kind === 'not-found') return new NapboxError('not_found', `no API route ${pathname}`);
  return new NapboxError('method_not_allowed', `${method} is not allowed on ${pathname}: use ${match.allow.join(' or ')}`);
}

function compile<C>(r: Route<C>): Compiled<C> {
  const names: string[] = [];
  const source = r.path
    .split('/')
    .map((segment) => {
      if (!segment.startsWith(':')) return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(segment.slice(1));
      return '([^/]+)';
    })
    .join('/');
  return { route: r, pattern: new RegExp(`^${source}$`), names };
}
