// Who may use a private tenant. An admin makes a short-lived sign-in link
// (`napbox open <slug>`: a jose JWT for that tenant only, 10 minutes); opening
// it on the tenant's host sets a session cookie (another JWT, 12 hours, with
// a jti so it can be revoked). A request to a private tenant without a valid
// session is refused before anything wakes.
//
// Invariants, and why (measured in Chromium 156):
// - The cookie is host-only (no Domain): no other tenant's host is sent it.
//   Behind TLS (an https NAPBOX_PUBLIC_URL) it is `__Host-napbox_session`,
//   Secure, Path=/: no sibling host can set or shadow it. Over http a
//   sibling's page can set a `napbox_session` for the parent domain, sent
//   first: every cookie of the name is tried, and a sign-out revokes each
//   valid one.
// - Sibling hosts `<a>.<base>` and `<b>.<base>` are one *site*, so SameSite
//   does not keep a sibling's page from sending it (Strict neither); what
//   does is tenantCookieProblem (request-origin.ts): a request from another
//   origin is refused even with a valid cookie. The cookie stays Lax: Strict
//   would stop nothing more from siblings, and would drop the session on
//   every link followed from elsewhere (the dashboard on 127.0.0.1 to
//   `<slug>.localhost` is cross-site), even on reload.
// - Private tenants are signed in to on their own host only. A page under
//   `/t/<slug>/` runs sandboxed in an opaque origin (tenant-proxy.ts), whose
//   requests carry no cookies, so a session there would serve the page and
//   none of its scripts, images or calls: a sign-in link opened under `/t/`
//   sends the browser on to the tenant's host.
// - Signing out (POST /_napbox/signout) revokes the session for every copy.

import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { JWTPayload } from 'jose';
import { signToken, verifyToken } from '../tokens.js';
import { NapboxError } from '../errors.js';
import { readCookies, sendJson } from './http-io.js';
import { tenantCookieProblem } from './request-origin.js';
import type { SessionRevocations } from './session-revocations.js';

const PLAIN_COOKIE = 'napbox_session';
const HOST_COOKIE = '__Host-napbox_session';
const LINK_TTL_S = 600;
const SESSION_TTL_S = 12 * 3600;

export interface TenantAccessOptions {
  readonly revocations?: SessionRevocations;
  /** The tenant's own URL (`http://<slug>.<base domain>:<port>/`), where a sign-in link opened under /t/ is sent. */
  readonly tenantUrl?: (slug: string) => string;
  /** Browsers reach napbox over https (NAPBOX_PUBLIC_URL): the session cookie is Secure. */
  readonly secureCookies?: boolean;
}

export class TenantAccess {
  private readonly linkAudience: string;
  private readonly sessionAudience: string;
  /** The session cookie's name: `__Host-` behind https (then always Path=/). */
  private readonly cookie: string;

  constructor(
    private readonly key: Uint8Array,
    installId: string,
    private readonly clock: () => number = Date.now,
    private readonly options: TenantAccessOptions = {},
  ) {
    this.linkAudience = `napbox-signin:${installId}`;
    this.sessionAudience = `napbox-session:${installId}`;
    this.cookie = options.secureCookies ? HOST_COOKIE : PLAIN_COOKIE;
  }

  private sign(slug: string, audience: string, ttl: number, claims?: JWTPayload): Promise<string> {
    return signToken(this.key, { audience, subject: slug, ttlSeconds: ttl, nowMs: this.clock(), ...(claims ? { claims } : {}) });
  }

  /** The claims of every valid session for `slug` among the request's session cookies, in the order sent. */
  private async sessions(req: IncomingMessage, slug: string): Promise<JWTPayload[]> {
    const found: JWTPayload[] = [];
    for (const token of readCookies(req.headers.cookie, this.cookie)) {
      const session = await this.claims(token, slug, this.sessionAudience);
      if (session) found.push(session);
    }
    return found;
  }

  /** The token's claims if it is a valid `audience` token for `slug` (and, for a session, not signed out). */
  private async claims(token: string | undefined, slug: string, audience: string): Promise<JWTPayload | undefined> {
    if (!token) return undefined;
    try {
      const payload = await verifyToken(this.key, token, audience, this.clock());
      if (payload.sub !== slug) return undefined;
      if (audience === this.sessionAudience && (typeof payload.jti !== 'string' || this.options.revocations?.isRevoked(payload.jti))) return undefined;
      return payload;
    } catch {
      return undefined;
    }
  }

  /** A sign-in link for the tenant, at `signInUrl(token)`. */
  signInToken(slug: string): Promise<string> {
    return this.sign(slug, this.linkAudience, LINK_TTL_S);
  }

  /**
   * The one admission guard for a tenant's pages, sockets and napbox's own routes on its host: resolves with
   * the visibility for a public tenant, or a private one with a valid session; rejects 401 otherwise, before
   * anything wakes.
   */
  async admit(req: IncomingMessage, slug: string, visibility: 'public' | 'private' | undefined): Promise<'public' | 'private'> {
    if (visibility === 'private') await this.requireSession(req, slug);
    return visibility ?? 'public';
  }

  /** Resolves for a request carrying a valid session for `slug`, sent from the tenant's own pages; rejects 'unauthorized' otherwise. */
  async requireSession(req: IncomingMessage, slug: string): Promise<void> {
    const [session] = await this.sessions(req, slug);
    if (session) {
      const problem = tenantCookieProblem(req);
      if (!problem) return;
      throw new NapboxError('unauthorized', `tenant ${slug} is private, and its session is not taken on ${problem}`);
    }
    throw new NapboxError('unauthorized', `tenant ${slug} is private: sign in with a link from \`napbox open ${slug}\``);
  }

  /**
   * GET /_napbox/signin?token=...: checks the link, sets the session cookie,
   * sends the browser on to the tenant. Under /t/ it sends the browser, link
   * and all, to the tenant's own host instead (see the header comment).
   */
  async signIn(req: IncomingMessage, res: ServerResponse, slug: string, prefix: string): Promise<void> {
    const token = new URL(req.url ?? '/', 'http://tenant').searchParams.get('token') ?? undefined;
    if (!token || !(await this.claims(token, slug, this.linkAudience))) {
      throw new NapboxError('unauthorized', `this sign-in link is invalid or expired: get a new one with \`napbox open ${slug}\``);
    }
    if (prefix && this.options.tenantUrl) {
      res.writeHead(303, { location: `${this.options.tenantUrl(slug)}_napbox/signin?token=${encodeURIComponent(token)}`, 'cache-control': 'no-store' });
      res.end();
      return;
    }
    const session = await this.sign(slug, this.sessionAudience, SESSION_TTL_S, { jti: crypto.randomUUID() });
    const path = prefix ? `${prefix}/` : '/';
    res.writeHead(303, {
      location: path,
      'set-cookie': `${this.cookie}=${session}; Path=${this.cookiePath(path)}; Max-Age=${SESSION_TTL_S}; HttpOnly; SameSite=Lax${this.options.secureCookies ? '; Secure' : ''}`,
      'cache-control': 'no-store',
    });
    res.end();
  }

  /** POST /_napbox/signout: revokes the request's session for `slug` (sent from the tenant's own pages) and clears its cookie. */
  async signOut(req: IncomingMessage, res: ServerResponse, slug: string, prefix: string): Promise<void> {
    if (req.method !== 'POST') throw new NapboxError('bad_request', 'sign out with POST /_napbox/signout');
    const problem = tenantCookieProblem(req);
    if (problem) throw new NapboxError('unauthorized', `a sign-out is not taken on ${problem}`);
    const sessions = await this.sessions(req, slug);
    for (const session of sessions) {
      if (session.jti !== undefined && session.exp !== undefined) this.options.revocations?.revoke(session.jti, session.exp * 1000);
    }
    const path = prefix ? `${prefix}/` : '/';
    sendJson(
      res,
      200,
      { signedOut: sessions.length > 0 },
      { 'set-cookie': `${this.cookie}=; Path=${this.cookiePath(path)}; Max-Age=0; HttpOnly; SameSite=Lax${this.options.secureCookies ? '; Secure' : ''}` },
    );
  }

  /** A `__Host-` cookie must have Path=/ (else the browser refuses it). */
  private cookiePath(path: string): string {
    return this.cookie === HOST_COOKIE ? '/' : path;
  }
}
