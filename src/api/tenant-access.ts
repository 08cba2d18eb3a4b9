// Who may use a private tenant. An admin makes a short-lived sign-in link
// (`napbox open <slug>`: a jose JWT for that tenant only, 10 minutes); opening
// it on the tenant's host sets a session cookie (another JWT, 12 hours) that
// only that host gets back: no Domain attribute, so no other tenant's host
// can read it. A request to a private tenant without a valid session is
// refused before anything wakes.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { signToken, verifyToken } from '../tokens.js';
import { NapboxError } from '../errors.js';
import { readCookie } from './http-io.js';

const COOKIE = 'napbox_session';
const LINK_TTL_S = 600;
const SESSION_TTL_S = 12 * 3600;

export class TenantAccess {
  private readonly linkAudience: string;
  private readonly sessionAudience: string;

  constructor(
    private readonly key: Uint8Array,
    installId: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.linkAudience = `napbox-signin:${installId}`;
    this.sessionAudience = `napbox-session:${installId}`;
  }

  private sign(slug: string, audience: string, ttl: number): Promise<string> {
    return signToken(this.key, { audience, subject: slug, ttlSeconds: ttl, nowMs: this.clock() });
  }

  private async valid(token: string | undefined, slug: string, audience: string): Promise<boolean> {
    if (!token) return false;
    try {
      return (await verifyToken(this.key, token, audience, this.clock())).sub === slug;
    } catch {
      return false;
    }
  }

  /** A sign-in link for the tenant, at `signInUrl(token)`. */
  signInToken(slug: string): Promise<string> {
    return this.sign(slug, this.linkAudience, LINK_TTL_S);
  }

  /** Resolves for a request carrying a valid session for `slug`; rejects 'unauthorized' otherwise. */
  async requireSession(req: IncomingMessage, slug: string): Promise<void> {
    if (await this.valid(readCookie(req.headers.cookie, COOKIE), slug, this.sessionAudience)) return;
    throw new NapboxError('unauthorized', `tenant ${slug} is private: sign in with a link from \`napbox open ${slug}\``);
  }

  /** GET /_napbox/signin?token=...: checks the link, sets the session cookie, sends the browser on to the tenant. */
  async signIn(req: IncomingMessage, res: ServerResponse, slug: string, prefix: string): Promise<void> {
    const token = new URL(req.url ?? '/', 'http://tenant').searchParams.get('token') ?? undefined;
    if (!(await this.valid(token, slug, this.linkAudience))) {
      throw new NapboxError('unauthorized', `this sign-in link is invalid or expired: get a new one with \`napbox open ${slug}\``);
    }
    const session = await this.sign(slug, this.sessionAudience, SESSION_TTL_S);
    const path = prefix ? `${prefix}/` : '/';
    res.writeHead(303, {
      location: path,
      'set-cookie': `${COOKIE}=${session}; Path=${path}; Max-Age=${SESSION_TTL_S}; HttpOnly; SameSite=Lax`,
      'cache-control': 'no-store',
    });
    res.end();
  }
}
