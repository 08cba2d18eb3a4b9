// What napbox tells a tenant's app about a request's origin, and what it
// keeps from it, on every path a request takes to a container (the relay,
// the HTTP forward, the WebSocket upgrade): one pure function, so the paths
// cannot drift apart.
//
// Invariants:
// - napbox's own cookies (`napbox_*`, `__Host-napbox*`, `__Secure-napbox*`)
//   never reach a container: they are bearer credentials for napbox itself.
// - X-Forwarded-For/-Proto/-Host/-Port say what napbox saw (its peer, http,
//   the Host header, the port it was reached on). What a client sent in
//   them is dropped, unless the connecting peer is a trusted front proxy
//   (NAPBOX_TRUSTED_PROXIES): then X-Forwarded-For gets that peer appended
//   once, X-Forwarded-Proto/-Host/-Port are kept as it sent them (one value
//   each, never appended to: a proxy that sends no Port gets none added,
//   since napbox's own port is not the one the browser used), and so is
//   X-Real-IP. X-Forwarded-Prefix is napbox's own (`/t/<slug>`) or absent,
//   and other origin claims (Forwarded, X-Forwarded-Ssl, True-Client-IP,
//   underscore spellings...) are dropped from everyone: front proxies pass
//   a client's on unchanged.
//   The same on the relay, the HTTP forward and the WebSocket upgrade, for
//   a cold request held during a wake or a warm one, on any connection
//   (test/integration/forwarded-headers.test.ts).

import net from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import { unmapped } from '../config/trusted-proxies.js';

export interface ForwardContext {
  /** The address of the TCP peer napbox accepted the connection from. */
  readonly peer: string;
  /** Whether that peer is a trusted front proxy. */
  readonly trusted: boolean;
  /** The request's Host header. */
  readonly host: string;
  /** The path prefix napbox stripped (`/t/<slug>`), or ''. */
  readonly prefix: string;
  /** The port the connection reached napbox on (told as X-Forwarded-Port when the peer is not trusted). */
  readonly port?: number | undefined;
}

/**
 * Headers about the request's origin. napbox writes X-Forwarded-For/-Proto/-Host/-Port (and -Prefix for the
 * `/t/<slug>` form); a trusted proxy's X-Forwarded-For/-Proto/-Host/-Port and X-Real-IP are kept (KEPT_FROM_TRUSTED).
 * The rest are dropped from everyone, trusted proxies included: napbox never writes them, and front proxies pass a
 * client's on unchanged (Traefik copies `Forwarded`, Caddy `X-Forwarded-Prefix`), while frameworks believe them
 * (Spring and Rack read `Forwarded`, Rack `X-Forwarded-Ssl`, apps build URLs from `X-Forwarded-Prefix`).
 * A name spelt with `_` for `-` (`X_Forwarded_Proto`) is the same header to CGI-style servers, which merge them:
 * dropped from everyone too.
 */
const ORIGIN_HEADERS = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-prefix',
  'x-forwarded-port',
  'x-forwarded-ssl',
  'x-forwarded-scheme',
  'x-forwarded-server',
  'x-forwarded-protocol',
  'x-url-scheme',
  'x-original-forwarded-for',
  'x-client-ip',
  'x-cluster-client-ip',
  'true-client-ip',
  'forwarded',
  'x-real-ip',
]);
/** Kept from a trusted proxy: X-Forwarded-For/-Proto/-Host/-Port are read and written once by napbox; X-Real-IP passes. */
const KEPT_FROM_TRUSTED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-real-ip']);
const REWRITTEN_NAME_LENGTHS = new Set(['cookie', ...ORIGIN_HEADERS].map((name) => name.length));
export const NAPBOX_COOKIE = /^\s*(?:napbox_|__host-napbox|__secure-napbox)/i;

/** A Cookie header value without napbox's own cookies; '' when nothing is left. */
export function stripNapboxCookies(value: string): string {
  if (!/napbox/i.test(value)) return value; // the common case: nothing to do
  return value
    .split(';')
    .filter((pair) => !NAPBOX_COOKIE.test(pair))
    .map((pair) => pair.trim())
    .filter((pair) => pair !== '')
    .join('; ');
}

/**
 * The request headers as they go to a tenant's app, from the client's
 * (`raw` is flat `[name, value, name, value, ...]`, as Node's rawHeaders).
 * Other headers keep their order, names and values.
 */
export function forwardedHeaders(raw: readonly string[], ctx: ForwardContext): string[] {
  const out: string[] = [];
  let forwardedFor = '';
  let proto = '';
  let host = '';
  let port = '';
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    if (!REWRITTEN_NAME_LENGTHS.has(name.length)) {
      out.push(name, value); // most fields: no lower-casing on the relay's hot path
      continue;
    }
    const lower = name.toLowerCase().replaceAll('_', '-');
    if (lower === 'cookie') {
      const kept = stripNapboxCookies(value);
      if (kept !== '') out.push(name, kept);
      continue;
    }
    if (!ORIGIN_HEADERS.has(lower)) {
      out.push(name, value);
      continue;
    }
    if (!ctx.trusted || !KEPT_FROM_TRUSTED.has(lower) || name.includes('_')) continue;
    if (lower === 'x-real-ip') out.push(name, value);
    else if (lower === 'x-forwarded-for') forwardedFor = forwardedFor ? `${forwardedFor}, ${value}` : value;
    else if (lower === 'x-forwarded-proto') proto ||= value;
    else if (lower === 'x-forwarded-host') host ||= value;
    else port ||= value;
  }
  out.push(
    'x-forwarded-for',
    forwardedFor ? `${forwardedFor}, ${ctx.peer}` : ctx.peer,
    'x-forwarded-proto',
    proto || 'http',
    'x-forwarded-host',
    host || ctx.host,
  );
  if (ctx.trusted ? port : ctx.port !== undefined) out.push('x-forwarded-port', ctx.trusted ? port : String(ctx.port));
  if (ctx.prefix) out.push('x-forwarded-prefix', ctx.prefix);
  return out;
}

/**
 * The same rewrite for a path that sends `req.headers` (http-proxy's
 * WebSocket upgrade): the headers object as Node would have built it from
 * the rewritten raw headers (duplicates joined, Cookie with '; ').
 */
export function forwardedHeadersObject(raw: readonly string[], ctx: ForwardContext): IncomingHttpHeaders {
  const pairs = forwardedHeaders(raw, ctx);
  const headers: Record<string, string | string[]> = {};
  for (let i = 0; i + 1 < pairs.length; i += 2) {
    const name = pairs[i]!.toLowerCase();
    const value = pairs[i + 1]!;
    const seen = headers[name];
    if (seen === undefined) headers[name] = name === 'set-cookie' ? [value] : value;
    else if (Array.isArray(seen)) seen.push(value);
    else headers[name] = `${seen}${name === 'cookie' ? '; ' : ', '}${value}`;
  }
  return headers;
}

/** The front proxies whose X-Forwarded-* napbox believes (NAPBOX_TRUSTED_PROXIES). */
export class TrustedProxies {
  private readonly list: net.BlockList | undefined;

  /** `entries` as parseTrustedProxies returns them. */
  constructor(entries: readonly string[] = []) {
    if (entries.length === 0) return;
    this.list = new net.BlockList();
    for (const entry of entries) {
      const { address, prefix, family } = splitCidr(entry);
      if (prefix === undefined) this.list.addAddress(address, family);
      else this.list.addSubnet(address, prefix, family);
    }
  }

  trusts(address: string | undefined): boolean {
    if (!this.list || !address) return false;
    const plain = unmapped(address);
    const family = net.isIPv6(plain) ? 'ipv6' : 'ipv4';
    return this.list.check(plain, family);
  }
}

/** `::ffff:1.2.3.4` (an IPv4 client of a dual-stack socket) as `1.2.3.4`. */

function splitCidr(entry: string): { address: string; prefix: number | undefined; family: 'ipv4' | 'ipv6' } {
  const slash = entry.indexOf('/');
  const address = unmapped(slash === -1 ? entry : entry.slice(0, slash));
  const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
  return { address, prefix: slash === -1 ? undefined : Number(entry.slice(slash + 1)), family };
}
