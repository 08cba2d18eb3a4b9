// Which cookies a tenant's app may set through napbox, and where: the
// Set-Cookie headers of its responses, rewritten on every path that parses
// them (http-forward.ts). A pure function of the header and the scope.
//
// Invariants:
// - A tenant's response never sets one of napbox's own cookies (a name
//   forwarded-headers.ts strips from requests: `napbox_*`, `__Host-napbox*`,
//   `__Secure-napbox*`), on any host: it could shadow or overwrite the
//   dashboard's or a private tenant's session.
// - Under `/t/<slug>/` (the base host) a response sets no Domain cookie (it
//   would reach every tenant and the base host), and every cookie it sets is
//   scoped under its own prefix, like nginx's proxy_cookie_path: the app's
//   `Path=/x` becomes `Path=/t/<slug>/x`, no Path becomes `Path=/t/<slug>/`.
//   Chromium applies Set-Cookie even on a CSP-sandboxed navigation.
// - On a tenant's own host a response sets cookies for that host only: a
//   Domain attribute naming anything else (the parent domain, a sibling) is
//   dropped with its cookie.
// Not covered: the relay (connection-relay.ts) forwards responses for warm
// public tenants' hosts as bytes, unparsed; and a page's own script can set
// parent-domain cookies through document.cookie anyway. napbox's readers take
// any valid cookie among same-named ones (http-io.ts readCookies) and, behind
// https, use `__Host-` names no subdomain can set.

import { NAPBOX_COOKIE } from './forwarded-headers.js';

/** Where a tenant's response is being served: under `/t/<slug>` on the base host, or on its own host. */
export type CookieScope = { readonly kind: 'prefix'; readonly prefix: string } | { readonly kind: 'host'; readonly host: string };

function beforeEquals(text: string): string {
  const eq = text.indexOf('=');
  return (eq === -1 ? text : text.slice(0, eq)).trim();
}

/**
 * The name a server reads for the cookie of a Set-Cookie name-value pair. A
 * nameless cookie (`=a=b`, or `a` without `=`) is sent back as its value
 * alone (`a=b`), so its name is the one in its value.
 */
function cookieName(pair: string): string {
  const name = beforeEquals(pair);
  return name !== '' ? name : beforeEquals(pair.slice(pair.indexOf('=') + 1));
}

/**
 * The Set-Cookie value as it may reach the browser for `scope`, or undefined
 * when it is dropped (see the header comment).
 */
export function scopeSetCookie(value: string, scope: CookieScope): string | undefined {
  const parts = value.split(';');
  const pair = parts[0]!;
  if (NAPBOX_COOKIE.test(cookieName(pair))) return undefined;
  const kept: string[] = [pair];
  let path: string | undefined;
  for (const attribute of parts.slice(1)) {
    const eq = attribute.indexOf('=');
    const key = (eq === -1 ? attribute : attribute.slice(0, eq)).trim().toLowerCase();
    const attributeValue = eq === -1 ? '' : attribute.slice(eq + 1).trim();
    if (key === 'domain') {
      if (scope.kind === 'prefix') return undefined;
      if (attributeValue.replace(/^\./, '').toLowerCase() !== scope.host) return undefined;
    }
    if (key === 'path' && scope.kind === 'prefix') {
      path = attributeValue; // the last Path attribute is the one a browser uses (RFC 6265 5.3 step 7)
      continue;
    }
    kept.push(attribute);
  }
  if (scope.kind === 'host') return value;
  // A Path that does not start with '/' is ignored by browsers (default path): here it is the prefix's root.
  kept.push(` Path=${scope.prefix}${path?.startsWith('/') ? path : '/'}`);
  return kept.join(';');
}
