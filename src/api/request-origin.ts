// Where a browser request comes from, as its Origin and Sec-Fetch-* headers
// say, and the rules napbox applies before a cookie may authorize it. Pure:
// each decision is a function of the request's headers and method only.
//
// Why these and not SameSite alone (measured in Chromium 156): tenant hosts
// `<a>.<base>` and `<b>.<base>` are the same *site*, so a sibling tenant's
// page gets even SameSite=Strict cookies sent on its WebSockets and no-cors
// requests; and Chromium sends Sec-Fetch-* only to trustworthy origins
// (https, localhost, 127.0.0.1), never to `http://<slug>.<real domain>`. Origin
// is sent by every browser on WebSocket handshakes, CORS requests and every
// method but GET and HEAD, so it is the rule everywhere; Sec-Fetch-* adds
// the no-cors GETs where the browser sends it.

import type { IncomingHttpHeaders } from 'node:http';

export interface RequestFacts {
  readonly method?: string | undefined;
  readonly headers: IncomingHttpHeaders;
}

/** The request's Origin against its own Host: none sent, the same host, the opaque `null`, or another origin. */
export type OriginKind = 'absent' | 'same' | 'null' | 'other';

/** host[:port] lowercased, without the scheme's default port. */
function normalHost(host: string, scheme: string): string {
  const lower = host.trim().toLowerCase();
  const defaultPort = scheme === 'https:' || scheme === 'wss:' ? ':443' : ':80';
  return lower.endsWith(defaultPort) ? lower.slice(0, -defaultPort.length) : lower;
}

export function originKind(req: RequestFacts): OriginKind {
  const origin = req.headers.origin;
  if (origin === undefined) return 'absent';
  if (origin === 'null') return 'null';
  const host = req.headers.host;
  if (!host) return 'other';
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return 'other';
  }
  return normalHost(url.host, url.protocol) === normalHost(host, url.protocol) ? 'same' : 'other';
}

function header(req: RequestFacts, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

const isRead = (req: RequestFacts): boolean => req.method === 'GET' || req.method === 'HEAD';

/**
 * Why the dashboard's session cookie may not authorize this request, or
 * undefined when it may: only napbox's own page may use it. Sec-Fetch-Site,
 * when sent, must be same-origin (or none, a URL the operator typed, for a
 * read); Origin, when sent, must be the request's own host, and a change
 * (anything but GET and HEAD) must send it.
 */
export function dashboardCookieProblem(req: RequestFacts): string | undefined {
  const site = header(req, 'sec-fetch-site');
  if (site !== undefined && site !== 'same-origin' && !(site === 'none' && isRead(req))) return `a ${site} request`;
  const origin = originKind(req);
  if (origin === 'null' || origin === 'other') return 'a request from another origin';
  if (origin === 'absent' && !isRead(req)) return 'a change without an Origin header';
  return undefined;
}

/**
 * Why a private tenant's session cookie may not authorize this request, or
 * undefined when it may: the tenant's own pages, and navigations into it.
 * A request from another origin (a sibling tenant's page, say) that sends
 * Origin is refused; where the browser sends Sec-Fetch-*, so is any request
 * from another origin but a top-level GET navigation (a link followed).
 */
export function tenantCookieProblem(req: RequestFacts): string | undefined {
  const origin = originKind(req);
  if (origin === 'null' || origin === 'other') return 'a request from another origin';
  const site = header(req, 'sec-fetch-site');
  if (site === undefined || site === 'same-origin' || site === 'none') return undefined;
  const mode = header(req, 'sec-fetch-mode');
  const dest = header(req, 'sec-fetch-dest');
  if (mode === 'navigate' && isRead(req) && (dest === undefined || dest === 'document')) return undefined;
  return `a ${site} ${dest ?? mode ?? 'request'} request`;
}
