// Admin tokens: JWTs signed with jose (HS256) by a key made once in the data
// dir (file mode 0600). The API accepts only tokens signed by this key, for
// this install's audience, not expired. The key never leaves the data dir and
// is never logged.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import type { IncomingMessage } from 'node:http';
import { NapboxError } from '../errors.js';
import { createOnce } from '../create-once.js';
import { readCookie } from './http-io.js';
import { signToken, verifyToken } from '../tokens.js';

export const SESSION_COOKIE = 'napbox_admin';
export const CSRF_HEADER = 'x-napbox-dashboard';
const SESSION_SECONDS = 12 * 3600;
export const CLEAR_SESSION_COOKIE = `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`;


export function loadOrCreateKey(dataDir: string, name = 'admin.key'): Uint8Array {
  const file = path.join(dataDir, name);
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  createOnce(file, crypto.randomBytes(32).toString('base64'));
  const key = Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64');
  if (key.length < 32) throw new NapboxError('config_invalid', `${file} does not hold a 32-byte key: remove it to make a new one (existing tokens stop working)`);
  return new Uint8Array(key);
}

export class AdminAuth {
  private readonly audience: string;

  constructor(
    private readonly key: Uint8Array,
    installId: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.audience = `napbox-admin:${installId}`;
  }

  issue(ttlSeconds: number, subject = 'admin'): Promise<string> {
    return signToken(this.key, { audience: this.audience, subject, ttlSeconds, nowMs: this.clock(), claims: { scope: 'admin' } });
  }

  /** Resolves for a valid admin bearer token in an Authorization header; rejects 'unauthorized' otherwise. */
  async verifyHeader(header: string | undefined): Promise<void> {
    const match = /^Bearer\s+(\S+)$/i.exec(header ?? '');
    if (!match?.[1]) throw new NapboxError('unauthorized', 'missing admin token: send `Authorization: Bearer <token>`, with a token from `napbox token`');
    await this.verifyToken(match[1]);
  }

  /**
   * Resolves for a request carrying an admin bearer token, or the dashboard's
   * session cookie. A cookie alone never authorizes a change: anything but
   * GET and HEAD must also carry the `x-napbox-dashboard` header, which a page
   * on another origin (a tenant's page on a sibling host, say) cannot send
   * without a CORS preflight napbox never grants.
   */
  async verifyRequest(req: IncomingMessage): Promise<void> {
    if (req.headers.authorization !== undefined) return this.verifyHeader(req.headers.authorization);
    const cookie = readCookie(req.headers.cookie, SESSION_COOKIE);
    if (cookie === undefined) return this.verifyHeader(undefined);
    const safe = req.method === 'GET' || req.method === 'HEAD';
    if (!safe && req.headers[CSRF_HEADER] !== '1') throw new NapboxError('unauthorized', `a dashboard session needs the ${CSRF_HEADER} header on changes`);
    await this.verifyToken(cookie);
  }

  /** The Set-Cookie value for a dashboard session made from a valid admin token. */
  async sessionCookie(token: string): Promise<string> {
    await this.verifyToken(token);
    const session = await this.issue(SESSION_SECONDS, 'dashboard');
    // Host-only (no Domain): tenant hosts (<slug>.<base domain>) never receive it.
    return `${SESSION_COOKIE}=${session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${SESSION_SECONDS}`;
  }

  private async verifyToken(token: string): Promise<void> {
    try {
      const payload = await verifyToken(this.key, token, this.audience, this.clock());
      if (payload.scope !== 'admin') throw new Error('not an admin token');
    } catch (err) {
      throw new NapboxError('unauthorized', 'invalid or expired admin token: get a new one with `napbox token`', { cause: err });
    }
  }
}
