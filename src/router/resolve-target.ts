// Which part of napbox a request is for, from its Host header and path alone:
// - `<slug>.<base domain>` is a tenant host;
// - on any other host (the base host), `/t/<slug>/...` is the same tenant with
//   the prefix stripped, and everything else belongs to napbox itself;
// - on a tenant host, `/_napbox/...` belongs to napbox, never to the container.

export type Target =
  | { readonly kind: 'base'; readonly path: string }
  | { readonly kind: 'tenant'; readonly slug: string; readonly path: string; readonly prefix: string }
  | { readonly kind: 'tenant-napbox'; readonly slug: string; readonly path: string; readonly prefix: string }
  | { readonly kind: 'bad-tenant'; readonly label: string };

const TENANT_PATH = /^\/t\/([^/?#]+)(\/[^?#]*)?(\?.*)?$/;
const LABEL = /^[a-z0-9-]{1,63}$/;

export function hostName(hostHeader: string | undefined): string {
  if (!hostHeader) return '';
  const host = hostHeader.trim().toLowerCase();
  if (host.startsWith('[')) return host.slice(0, host.indexOf(']') + 1); // IPv6 literal
  const colon = host.lastIndexOf(':');
  return colon === -1 ? host : host.slice(0, colon);
}

function tenantTarget(slug: string, path: string, prefix: string): Target {
  if (path === '/_napbox' || path.startsWith('/_napbox/') || path.startsWith('/_napbox?')) {
    return { kind: 'tenant-napbox', slug, path, prefix };
  }
  return { kind: 'tenant', slug, path, prefix };
}

export function resolveTarget(hostHeader: string | undefined, url: string, baseDomain: string): Target {
  const host = hostName(hostHeader);
  const suffix = `.${baseDomain}`;
  const path = url.startsWith('/') ? url : `/${url}`;
  if (host.endsWith(suffix)) {
    const label = host.slice(0, -suffix.length);
    if (!LABEL.test(label)) return { kind: 'bad-tenant', label };
    return tenantTarget(label, path, '');
  }
  const match = TENANT_PATH.exec(path);
  if (match) {
    const label = decodeURIComponent(match[1] ?? '');
    if (!LABEL.test(label)) return { kind: 'bad-tenant', label };
    return tenantTarget(label, `${match[2] ?? '/'}${match[3] ?? ''}`, `/t/${label}`);
  }
  return { kind: 'base', path };
}
