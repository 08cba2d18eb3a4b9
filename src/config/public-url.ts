// NAPBOX_PUBLIC_URL, and the one place napbox builds the links it prints or
// serves (the start-up banner, tenant URLs in views, the dashboard's links,
// sign-in links from `napbox open`).
//
// Invariants:
// - Every link napbox hands out is built by PublicLinks: behind a front
//   proxy they name the proxy's address (scheme, host, port), never the port
//   napbox listens on. Without NAPBOX_PUBLIC_URL they are what they always
//   were: http, the base domain, the port napbox listens on.
// - The CLI reaches napbox on its listen address (server.json); only the
//   links it prints are public ones.

import net from 'node:net';

export interface PublicUrl {
  readonly scheme: 'http' | 'https';
  /** Lower-cased host name or IP address (IPv6 in brackets). */
  readonly host: string;
  /** The port, when not the scheme's default. */
  readonly port: number | undefined;
}

/**
 * Parses NAPBOX_PUBLIC_URL: `http(s)://host[:port]` with at most a `/` path,
 * no credentials, query or fragment. Throws an Error saying what is wrong.
 */
export function parsePublicUrl(raw: string): PublicUrl {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`the scheme must be http or https, not ${url.protocol.slice(0, -1)}`);
  if (url.username !== '' || url.password !== '') throw new Error('it must not hold credentials');
  if (url.search !== '' || raw.includes('?')) throw new Error('it must not have a query');
  if (url.hash !== '' || raw.includes('#')) throw new Error('it must not have a fragment');
  if (url.pathname !== '/') throw new Error('napbox is served at the root of its host: no path');
  if (url.hostname === '') throw new Error('it has no host');
  if (url.port === '0') throw new Error('port 0 is not a port a browser can use');
  return { scheme: url.protocol === 'https:' ? 'https' : 'http', host: url.hostname.toLowerCase(), port: url.port === '' ? undefined : Number(url.port) };
}

/** The host of a public URL when tenants can live under it (`<slug>.<host>`): a name, not an IP address. */
export function publicBaseDomain(url: PublicUrl): string | undefined {
  return net.isIP(url.host.replace(/^\[|\]$/g, '')) === 0 ? url.host : undefined;
}

export interface PublicLinksOptions {
  readonly publicUrl: PublicUrl | undefined;
  readonly baseDomain: string;
  /** Where napbox listens: the host of links when there is no public URL is this one's. */
  readonly listenHost: string;
  /** The port napbox listens on (it may be known only once listening). */
  readonly listenPort: () => number;
}

export class PublicLinks {
  constructor(private readonly options: PublicLinksOptions) {}

  /** Whether browsers reach napbox over TLS (its cookies are then Secure). */
  get secure(): boolean {
    return this.options.publicUrl?.scheme === 'https';
  }

  /** The dashboard's origin, without a trailing slash: `https://napbox.example.com` or `http://127.0.0.1:8080`. */
  base(): string {
    const pub = this.options.publicUrl;
    if (pub) return `${pub.scheme}://${pub.host}${pub.port === undefined ? '' : `:${pub.port}`}`;
    return this.local();
  }

  /** Where a client on this machine reaches napbox itself (what the CLI's server file says): `http://127.0.0.1:8080`. */
  local(): string {
    const host = this.options.listenHost;
    return `http://${host.includes(':') ? `[${host}]` : host}:${this.options.listenPort()}`;
  }

  /** A tenant's own host URL, with a trailing slash: `https://acme.napbox.example.com/`. */
  tenant(slug: string): string {
    const pub = this.options.publicUrl;
    const scheme = pub?.scheme ?? 'http';
    const port = pub ? pub.port : this.options.listenPort();
    const defaultPort = scheme === 'https' ? 443 : 80;
    return `${scheme}://${slug}.${this.options.baseDomain}${port === undefined || port === defaultPort ? '' : `:${port}`}/`;
  }

  /** The same tenant under the base host, for places without wildcard DNS: `https://napbox.example.com/t/acme/`. */
  tenantPath(slug: string): string {
    return `${this.base()}/t/${slug}/`;
  }
}
