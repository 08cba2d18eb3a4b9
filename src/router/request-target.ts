// Reading a request-target (RFC 9112 3.2) the way napbox decides on it:
// origin-form (`/path?query`) or absolute-form (`http://host/path`), with the
// path normalised (RFC 3986 6.2.2) before anyone asks "is this napbox's?".
// Pure, and it never throws: a target it cannot read is an error value.
//
// Normalising only percent-decodes unreserved characters (`%5f` is `_`,
// `%2e` is `.`) and removes dot segments; `%2F` stays encoded. Whether a
// path is napbox's (`/_napbox/...`) is asked of that path with runs of `/`
// collapsed too, so `/./_napbox/`, `/x/../_napbox/`, `//_napbox/` and
// `/%5fnapbox/` are all napbox's.

export type ParsedTarget =
  | {
      readonly ok: true;
      /** The path as sent (absolute-form: its path part), never empty. */
      readonly rawPath: string;
      /** The path normalised: unreserved characters decoded, dot segments removed. */
      readonly path: string;
      /** `?...` or ''. */
      readonly query: string;
      /** The authority of an absolute-form target (lower case), else undefined. */
      readonly authority: string | undefined;
    }
  | { readonly ok: false; readonly reason: string };

const ABSOLUTE = /^https?:\/\/([^/?#]*)([^#]*)$/i;
const HEX = /^[0-9a-fA-F]{2}$/;
/** host[:port]: a name, an IPv4 address or a bracketed IPv6 one; no user info. */
const AUTHORITY = /^(?:[a-z0-9.-]+|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

function isUnreserved(code: number): boolean {
  return (
    (code >= 0x41 && code <= 0x5a) ||
    (code >= 0x61 && code <= 0x7a) ||
    (code >= 0x30 && code <= 0x39) ||
    code === 0x2d ||
    code === 0x2e ||
    code === 0x5f ||
    code === 0x7e
  );
}

/** Decodes %XX of unreserved characters and upper-cases the others' hex; undefined for a `%` not followed by two hex digits. */
export function decodeUnreserved(path: string): string | undefined {
  if (!path.includes('%')) return path;
  let out = '';
  let from = 0;
  for (let at = path.indexOf('%'); at !== -1; at = path.indexOf('%', from)) {
    const hex = path.slice(at + 1, at + 3);
    if (!HEX.test(hex)) return undefined;
    const code = parseInt(hex, 16);
    out += path.slice(from, at) + (isUnreserved(code) ? String.fromCharCode(code) : `%${hex.toUpperCase()}`);
    from = at + 3;
  }
  return out + path.slice(from);
}

/** RFC 3986 5.2.4, for a path that starts with `/`. */
export function removeDotSegments(path: string): string {
  if (!path.includes('/.')) return path;
  const segments = path.split('/');
  const out: string[] = [];
  for (let i = 1; i < segments.length; i += 1) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === '.' || segment === '..') {
      if (segment === '..') out.pop();
      if (last) out.push('');
      continue;
    }
    out.push(segment);
  }
  return `/${out.join('/')}`;
}

/** The path as the question "is it napbox's?" is asked of it: runs of `/` count as one. */
export function collapseSlashes(path: string): string {
  return path.includes('//') ? path.replace(/\/{2,}/g, '/') : path;
}

/** Whether a normalised path is napbox's own (`/_napbox`, `/_napbox/...`). */
export function isNapboxPath(path: string): boolean {
  const p = collapseSlashes(path);
  return p === '/_napbox' || p.startsWith('/_napbox/');
}

/** Splits and normalises a request-target; `*` (OPTIONS) is the path `*`. */
export function parseRequestTarget(target: string): ParsedTarget {
  let authority: string | undefined;
  let rest = target;
  if (target.charCodeAt(0) !== 0x2f /* / */) {
    if (target === '*') return { ok: true, rawPath: '*', path: '*', query: '', authority: undefined };
    const absolute = ABSOLUTE.exec(target);
    if (!absolute) return { ok: false, reason: 'the request target must be a path starting with /' };
    authority = absolute[1]!.toLowerCase();
    if (!AUTHORITY.test(authority)) return { ok: false, reason: 'the request target names no usable host' };
    rest = absolute[2] === '' ? '/' : absolute[2]!.startsWith('?') ? `/${absolute[2]}` : absolute[2]!;
  }
  if (rest.includes('#')) return { ok: false, reason: 'a request target cannot carry a fragment (#)' };
  const q = rest.indexOf('?');
  const rawPath = q === -1 ? rest : rest.slice(0, q);
  const decoded = decodeUnreserved(rawPath);
  if (decoded === undefined) return { ok: false, reason: 'the request path has a % not followed by two hex digits' };
  return { ok: true, rawPath, path: removeDotSegments(decoded), query: q === -1 ? '' : rest.slice(q), authority };
}
