// Admin tokens: JWTs signed with jose (HS256) by a key made once in the data
// dir (file mode 0600). The API accepts only tokens signed by this key, for
// this install's audience, not expired. The key never leaves the data dir and
// is never logged.
//
// The dashboard's session is another such token in a cookie, with invariants
// of its own:
// - It is scoped to `/api` (Path), host-only and SameSite=Strict, so no tenant
//   page, not even one under `/t/<slug>/` on the same host, is ever sent it.
//   Behind TLS (an https NAPBOX_PUBLIC_URL) it is also Secure.
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
import { readCookie } from './http-io.js';
import { signToken, verifyToken } from '../tokens.js';
import { dashboardCookieProblem } from './request-origin.js';
import type { SessionRevocations } from './session-revocations.js';

const SESSION_COOKIE = 'napbox_admin';
const CSRF_HEADER = 'x-napbox-dashboard';
const SESSION_SECONDS = 12 * 3600;
const SESSION_SUBJECT = 'dashboard';
const COOKIE_PATH = '/api';
/** Set-Cookie values that end the session in the browser; the second clears a cookie of an older napbox (Path=/). */
function clearSessionCookies(secure: string): readonly string[] {
  return [
    `${SESSION_COOKIE}=; Path=${COOKIE_PATH}; HttpOnly; SameSite=Strict${secure}; Max-Age=0`,
    `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict${secure}; Max-Age=0`,
  ];
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
  /** '; Secure' or '', added to every Set-Cookie. */
  private readonly secure: string;

  constructor(
    private readonly key: Uint8Array,
    installId: string,
    private readonly clock: () => number = Date.now,
    private readonly revocations?: SessionRevocations,
    options: AdminAuthOptions = {},
  ) {
    this.audience = `napbox-admin:${installId}`;
    this.secure = options.secureCookies ? '; Secure' : '';
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
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie === undefined) return this.verifyHeader(undefined);
    await this.verifySession(req, cookie);
  }

  /** The Set-Cookie value for a dashboard session made from a valid admin token. */
  async sessionCookie(token: string): Promise<string> {
    await this.verifyHeader(`Bearer ${token}`);
    const session = await this.issue(SESSION_SECONDS, SESSION_SUBJECT, { jti: crypto.randomUUID() });
    // Host-only (no Domain): tenant hosts (<slug>.<base domain>) never receive it; Path: nor do /t/<slug>/ pages.
    return `${SESSION_COOKIE}=${session}; Path=${COOKIE_PATH}; HttpOnly; SameSite=Strict${this.secure}; Max-Age=${SESSION_SECONDS}`;
  }

  /**
   * DELETE /api/session: revokes the request's session, if it has a valid one,
   * and answers the cookies that clear it. A sign-out sent from another
   * origin is refused like any other use of the cookie.
   */
  async signOut(req: IncomingMessage): Promise<readonly string[]> {
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie === undefined) return clearSessionCookies(this.secure);
    this.checkOrigin(req);
    const payload = await this.sessionOf(cookie).catch(() => undefined); // invalid, expired or revoked: nothing to revoke
    if (payload?.jti !== undefined && payload.exp !== undefined) this.revocations?.revoke(payload.jti, payload.exp * 1000);
    return clearSessionCookies(this.secure);
  }

  private async verifySession(req: IncomingMessage, cookie: string): Promise<void> {
    this.checkOrigin(req);
    const safe = req.method === 'GET' || req.method === 'HEAD';
    if (!safe && req.headers[CSRF_HEADER] !== '1') throw new NapboxError('unauthorized', `a dashboard session needs the ${CSRF_HEADER} header on changes`);
    await this.sessionOf(cookie);
  }

  private checkOrigin(req: IncomingMessage): void {
    const problem = dashboardCookieProblem(req);
    if (problem) throw new NapboxError('unauthorized', `the dashboard's session is refused on ${problem}: the admin API takes it only from napbox's own page`);
  }

  /** The session's claims: a dashboard session of this install, not expired, not signed out. */
  private async sessionOf(cookie: string): Promise<JWTPayload> {
    const payload = await this.verifyToken(cookie);
    if (payload.sub !== SESSION_SUBJECT || typeof payload.jti !== 'string')
      throw new NapboxError('unauthorized', 'the napbox_admin cookie holds no dashboard session: sign in again');
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
