// Which part of napbox a request is for, from its Host header and
// request-target alone (pure; never throws):
// - `<slug>.<base domain>` is a tenant host;
// - on any other host (the base host), `/t/<slug>/...` is the same tenant with
//   the prefix stripped, and everything else belongs to napbox itself;
// - on a tenant host, `/_napbox/...` belongs to napbox, never to the container.
//
// Invariants:
// - Every decision is made on the normalised path (request-target.ts), so no
//   spelling of `/_napbox/` (`/./_napbox/`, `//_napbox/`, `/%5fnapbox/`, an
//   absolute-form target) reaches a container, on the relay or the server.
// - A target napbox cannot read (`%ZZ`, a fragment, an absolute-form target
//   whose host is not the Host header) is `bad-request`: a 400, nothing else.
// - A tenant host's path goes to the app as sent; a `/t/<slug>` path goes as
//   the normalised rest after the prefix (what the prefix was stripped from).

import { collapseSlashes, isNapboxPath, parseRequestTarget } from './request-target.js';

export type Target =
  | { readonly kind: 'base'; readonly path: string }
  | { readonly kind: 'tenant'; readonly slug: string; readonly path: string; readonly prefix: string }
  | { readonly kind: 'tenant-napbox'; readonly slug: string; readonly path: string; readonly prefix: string }
  | { readonly kind: 'bad-tenant'; readonly label: string }
  | { readonly kind: 'bad-request'; readonly reason: string };

const TENANT_PATH = /^\/t\/([^/]+)(\/.*)?$/;
const LABEL = /^[a-z0-9-]{1,63}$/;

function hostName(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  const host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1); // IPv6 literal
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

export function resolveTarget(hostHeader: string | undefined, url: string, baseDomain: string): Target {
  const target = parseRequestTarget(url);
  if (!target.ok) return { kind: 'bad-request', reason: target.reason };
  let hostValue = hostHeader;
  if (target.authority !== undefined) {
    // RFC 9112 3.2.2 says the target's host wins over Host; napbox refuses the two disagreeing instead,
    // so that everything downstream (cookies, origin checks, the app) sees the host napbox routed on.
    if (hostHeader !== undefined && hostHeader.trim().toLowerCase() !== target.authority) {
      return { kind: 'bad-request', reason: 'the host in the request target is not the Host header' };
    }
    hostValue = target.authority;
  }
  const host = hostName(hostValue);
  const suffix = `.${baseDomain}`;
  if (host.endsWith(suffix)) {
    const label = host.slice(0, -suffix.length);
    if (!LABEL.test(label)) return { kind: 'bad-tenant', label };
    if (isNapboxPath(target.path)) return { kind: 'tenant-napbox', slug: label, path: `${collapseSlashes(target.path)}${target.query}`, prefix: '' };
    return { kind: 'tenant', slug: label, path: `${target.rawPath}${target.query}`, prefix: '' };
  }
  const match = TENANT_PATH.exec(target.path);
  if (!match) return { kind: 'base', path: `${target.path}${target.query}` };
  const label = match[1]!; // unreserved characters are decoded already; anything else is no slug
  if (!LABEL.test(label)) return { kind: 'bad-tenant', label };
  const rest = match[2] ?? '/';
  const prefix = `/t/${label}`;
  if (isNapboxPath(rest)) return { kind: 'tenant-napbox', slug: label, path: `${collapseSlashes(rest)}${target.query}`, prefix };
  return { kind: 'tenant', slug: label, path: `${rest}${target.query}`, prefix };
}
