// Admin tokens: JWTs signed with jose (HS256) by a key made once in the data
// dir (file mode 0600). The API accepts only tokens signed by this key, for
// this install's audience, not expired. The key never leaves the data dir and
// is never logged.
//
// The dashboard's session is another such token in a cookie, with invariants
// of its own:
// - It is host-only and SameSite=Strict. Over plain http it is `napbox_admin`
//   scoped to `/api` (Path), so no tenant page, not even one under
//   `/t/<slug>/` on the same host, is ever sent it. Behind TLS (an https
//   NAPBOX_PUBLIC_URL) it is `__Host-napbox_admin`, Secure, with `Path=/`
//   (the prefix demands it): a tenant host cannot set or shadow a `__Host-`
//   cookie. Pages under `/t/` are sent it, but never their apps
//   (forwarded-headers.ts), and those pages run sandboxed.
// - A tenant's page can still set a same-named cookie for the parent domain
//   (document.cookie) that the browser sends first: every cookie of the name
//   is tried, the first valid one is taken, and signing out revokes them all.
// - It authorizes only napbox's own page: a request from any other origin
//   (request-origin.ts) is refused, and a change also needs the
//   `x-napbox-dashboard` header.
// - It is not an API token: sent as a bearer token it is refused.
// - Signing out revokes it (its jti, in session-revocations.ts) for every
//   copy, in every process, until it would have expired.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import type { JWTPayload } from 'jose';
import { NapboxError } from '../errors.js';
import { createOnce } from '../create-once.js';
import { readCookies } from './http-io.js';
import { signToken, verifyToken } from '../tokens.js';
import { dashboardCookieProblem } from './request-origin.js';
import type { SessionRevocations } from './session-revocations.js';

const PLAIN_COOKIE = { name: 'napbox_admin', path: '/api' } as const;
const HOST_COOKIE = { name: '__Host-napbox_admin', path: '/' } as const;
const CSRF_HEADER = 'x-napbox-dashboard';
const SESSION_SECONDS = 12 * 3600;
const SESSION_SUBJECT = 'dashboard';
/**
 * Set-Cookie values that end the session in the browser: napbox's cookie, and
 * those of an older napbox (`napbox_admin` with Path=/, or over http before
 * an https public URL was set).
 */
function clearSessionCookies(secure: boolean): readonly string[] {
  const flags = `HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}; Max-Age=0`;
  const cleared = [`${PLAIN_COOKIE.name}=; Path=${PLAIN_COOKIE.path}; ${flags}`, `${PLAIN_COOKIE.name}=; Path=/; ${flags}`];
  return secure ? [`${HOST_COOKIE.name}=; Path=${HOST_COOKIE.path}; ${flags}`, ...cleared] : cleared;
}

export interface AdminAuthOptions {
  /** Browsers reach napbox over https (NAPBOX_PUBLIC_URL): the session cookie is Secure, never sent over plain http. */
  readonly secureCookies?: boolean;
}

export function loadOrCreateKey(dataDir: string, name = 'admin.key'): Uint8Array {
  const file = path.join(dataDir, name);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  createOnce(file, crypto.randomBytes(32).toString('base64'));
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length < 32)
    throw new NapboxError('config_invalid', `${file} does not hold a 32-byte key: remove it to make a new one (existing tokens stop working)`);
  return new Uint8Array(key);
}

export class AdminAuth {
  private readonly audience: string;
  /** Cookies are Secure and `__Host-` (an https public URL). */
  private readonly secure: boolean;
  /** The session cookie's name and Path. */
  private readonly cookie: { readonly name: string; readonly path: string };

  constructor(
    private readonly key: Uint8Array,
    installId: string,
    private readonly clock: () => number = Date.now,
    private readonly revocations?: SessionRevocations,
    options: AdminAuthOptions = {},
  ) {
    this.audience = `napbox-admin:${installId}`;
    this.secure = options.secureCookies ?? false;
    this.cookie = this.secure ? HOST_COOKIE : PLAIN_COOKIE;
  }

  issue(ttlSeconds: number, subject = 'admin', claims: JWTPayload = {}): Promise<string> {
    return signToken(this.key, { audience: this.audience, subject, ttlSeconds, nowMs: this.clock(), claims: { ...claims, scope: 'admin' } });
  }

  /** Resolves for a valid admin bearer token in an Authorization header; rejects 'unauthorized' otherwise. */
  async verifyHeader(header: string | undefined): Promise<void> {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!match?.[1]) throw new NapboxError('unauthorized', 'missing admin token: send `Authorization: Bearer <token>`, with a token from `napbox token`');
    const payload = await this.verifyToken(match[1]);
    if (payload.sub === SESSION_SUBJECT) throw new NapboxError('unauthorized', 'a dashboard session is not an API token: get one with `napbox token`');
  }

  /**
   * Resolves for a request carrying an admin bearer token, or the dashboard's
   * session cookie sent by the dashboard itself (see the header comment).
   */
  async verifyRequest(req: IncomingMessage): Promise<void> {
    if (req.headers.authorization !== undefined) return this.verifyHeader(req.headers.authorization);
    const cookies = readCookies(req.headers.cookie, this.cookie.name);
    if (cookies.length === 0) return this.verifyHeader(undefined);
    await this.verifySession(req, cookies);
  }

  /** The Set-Cookie value for a dashboard session made from a valid admin token. */
  async sessionCookie(token: string): Promise<string> {
    await this.verifyHeader(`Bearer ${token}`);
    const session = await this.issue(SESSION_SECONDS, SESSION_SUBJECT, { jti: crypto.randomUUID() });
    // Host-only (no Domain): tenant hosts (<slug>.<base domain>) never receive it; see the header comment for its Path.
    return `${this.cookie.name}=${session}; Path=${this.cookie.path}; HttpOnly; SameSite=Strict${this.secure ? '; Secure' : ''}; Max-Age=${SESSION_SECONDS}`;
  }

  /**
   * DELETE /api/session: revokes every valid session the request carries
   * (one shadowed by a planted cookie of the same name too), and answers the
   * cookies that clear them. A sign-out sent from another origin is refused
   * like any other use of the cookie.
   */
  async signOut(req: IncomingMessage): Promise<readonly string[]> {
    const cookies = readCookies(req.headers.cookie, this.cookie.name);
    if (cookies.length === 0) return clearSessionCookies(this.secure);
    this.checkOrigin(req);
    for (const cookie of cookies) {
      const payload = await this.sessionOf(cookie).catch(() => undefined); // invalid, expired or revoked: nothing to revoke
      if (payload?.jti !== undefined && payload.exp !== undefined) this.revocations?.revoke(payload.jti, payload.exp * 1000);
    }
    return clearSessionCookies(this.secure);
  }

  /** Resolves when one of the request's session cookies is valid; rejects with the first one's problem otherwise. */
  private async verifySession(req: IncomingMessage, cookies: readonly string[]): Promise<void> {
    this.checkOrigin(req);
    const safe = req.method === 'GET' || req.method === 'HEAD';
    if (!safe && req.headers[CSRF_HEADER] !== '1') throw new NapboxError('unauthorized', `a dashboard session needs the ${CSRF_HEADER} header on changes`);
    let problem: unknown;
    for (const cookie of cookies) {
      try {
        await this.sessionOf(cookie);
        return;
      } catch (err) {
        problem ??= err;
      }
    }
    throw problem;
  }

  private checkOrigin(req: IncomingMessage): void {
    const problem = dashboardCookieProblem(req);
    if (problem) throw new NapboxError('unauthorized', `the dashboard's session is refused on ${problem}: the admin API takes it only from napbox's own page`);
  }

  /** The session's claims: a dashboard session of this install, not expired, not signed out. */
  private async sessionOf(cookie: string): Promise<JWTPayload> {
    const payload = await this.verifyToken(cookie);
    if (payload.sub !== SESSION_SUBJECT || typeof payload.jti !== 'string')
      throw new NapboxError('unauthorized', `the ${this.cookie.name} cookie holds no dashboard session: sign in again`);
    if (this.revocations?.isRevoked(payload.jti)) throw new NapboxError('unauthorized', 'this dashboard session was signed out: sign in again');
    return payload;
  }

  private async verifyToken(token: string): Promise<JWTPayload> {
    try {
      const payload = await verifyToken(this.key, token, this.audience, this.clock());
      if (payload.scope !== 'admin') throw new Error('not an admin token');
      return payload;
    } catch (err) {
      throw new NapboxError('unauthorized', 'invalid or expired admin token: get a new one with `napbox token`', { cause: err });
    }
  }
}
