// Forwards one plain HTTP request to an upstream and its response back, on a
// shared keep-alive agent. This is the hot path of every warm request, so it
// does the least that is correct: headers are copied once, hop-by-hop headers
// (RFC 9110 7.6.1, and any named in Connection) are dropped both ways, a
// request without a body is ended at once instead of piped, and the response
// streams back as it comes. X-Forwarded-* and the Cookie header (napbox's
// own cookies taken out) are forwarded-headers.ts's, as on every path; the
// app's Set-Cookie headers are tenant-set-cookie.ts's.
// WebSocket upgrades go through http-proxy instead (tenant-proxy.ts);
// measured, http-proxy's per-request pipeline cost about a third of napbox's
// warm throughput here.

import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Endpoint } from '../runtime/container-driver.js';
import { forwardedHeaders } from './forwarded-headers.js';
import { scopeSetCookie, type CookieScope } from './tenant-set-cookie.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

function connectionTokens(value: string | string[] | undefined): Set<string> | undefined {
  if (!value) return undefined;
  const text = Array.isArray(value) ? value.join(',') : value;
  const tokens = text
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t && t !== 'close' && t !== 'keep-alive');
  return tokens.length ? new Set(tokens) : undefined;
}

/** Copies raw headers (keeping duplicates and case) without hop-by-hop ones. */
function endToEnd(raw: readonly string[], connection: string | string[] | undefined): string[] {
  const named = connectionTokens(connection);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named?.has(lower)) continue;
    out.push(name, raw[i + 1]!);
  }
  return out;
}

export function requestHasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
}

export interface ForwardOptions {
  readonly target: Endpoint;
  readonly path: string;
  readonly agent: http.Agent;
  /** Prefix stripped from the path (`/t/<slug>`), told to the app as X-Forwarded-Prefix. */
  readonly prefix: string;
  /** The client is a trusted front proxy: its X-Forwarded-* are kept (forwarded-headers.ts). */
  readonly trustedPeer?: boolean;
  /** Called when the upstream could not be reached or failed before a response began. */
  readonly onError: (err: NodeJS.ErrnoException, responseStarted: boolean) => void;
  /** Headers napbox puts on the app's response. */
  readonly responseHeaders?: ResponseHeaders;
  /** Where the app's response is served: its Set-Cookie headers are scoped to it (tenant-set-cookie.ts). */
  readonly cookieScope?: CookieScope;
}

export interface ResponseHeaders {
  /** Sent after the app's own headers of the same name (several Content-Security-Policy headers all apply). */
  readonly add?: readonly (readonly [string, string])[];
  /** Sent instead of the app's own headers of the same name. */
  readonly replace?: readonly (readonly [string, string])[];
}

/** The raw headers with each Set-Cookie scoped, or dropped. */
function scopedCookies(raw: readonly string[], scope: CookieScope): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    if (name.length !== 10 || name.toLowerCase() !== 'set-cookie') out.push(name, raw[i + 1]!);
    else {
      const value = scopeSetCookie(raw[i + 1]!, scope);
      if (value !== undefined) out.push(name, value);
    }
  }
  return out;
}

/**
 * Writes the app's status and headers. On a response with headers set
 * already (the /t/ sandbox CSP), writeHead with a flat array would set each
 * name once, losing the app's repeated headers (several Set-Cookie, its own
 * CSP): they are appended one by one instead.
 */
function writeHead(res: ServerResponse, status: number, message: string | undefined, headers: readonly string[]): void {
  if (res.getHeaderNames().length === 0) {
    res.writeHead(status, message, headers as unknown as http.OutgoingHttpHeaders);
    return;
  }
  for (let i = 0; i < headers.length; i += 2) res.appendHeader(headers[i]!, headers[i + 1]!);
  res.writeHead(status, message);
}

function withHeaders(raw: string[], extra: ResponseHeaders): string[] {
  const replaced = new Set((extra.replace ?? []).map(([name]) => name.toLowerCase()));
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) if (!replaced.has(raw[i]!.toLowerCase())) out.push(raw[i]!, raw[i + 1]!);
  for (const [name, value] of [...(extra.replace ?? []), ...(extra.add ?? [])]) out.push(name, value);
  return out;
}

export function forwardHttp(req: IncomingMessage, res: ServerResponse, options: ForwardOptions): void {
  const headers = forwardedHeaders(endToEnd(req.rawHeaders, req.headers.connection), {
    peer: req.socket.remoteAddress ?? '',
    trusted: options.trustedPeer ?? false,
    host: req.headers.host ?? '',
    prefix: options.prefix,
    port: req.socket.localPort,
  });
  const hasBody = requestHasBody(req);

  const upstream = http.request(
    {
      host: options.target.host,
      port: options.target.port,
      method: req.method,
      path: options.path,
      headers: headers as unknown as http.OutgoingHttpHeaders,
      agent: options.agent,
    },
    (ures) => {
      const kept = endToEnd(ures.rawHeaders, ures.headers.connection);
      const raw = options.cookieScope && ures.headers['set-cookie'] ? scopedCookies(kept, options.cookieScope) : kept;
      const headers = options.responseHeaders ? withHeaders(raw, options.responseHeaders) : raw;
      writeHead(res, ures.statusCode ?? 502, ures.statusMessage, headers);
      ures.pipe(res);
      ures.once('error', () => res.destroy());
    },
  );
  let clientGone = false;
  upstream.once('error', (err: NodeJS.ErrnoException) => {
    if (!clientGone) options.onError(err, res.headersSent); // else: our own destroy below, not the upstream's fault
  });
  res.once('close', () => {
    if (res.writableFinished) return;
    clientGone = true;
    upstream.destroy();
  });
  if (hasBody) req.pipe(upstream);
  else upstream.end();
}
