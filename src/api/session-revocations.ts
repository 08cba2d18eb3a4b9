// Sessions signed out before they expired: the dashboard's and private
// tenants' session JWTs each carry a random `jti`, and signing out records it
// here (the `revoked_sessions` table), so a copy of the cookie stops working
// at once, in every napbox process on this data dir and across restarts.
// Every cookie-authenticated request asks `isRevoked`: one primary-key read.
// A row outlives its token's expiry by nothing: past it the JWT is refused
// anyway, so expired rows are deleted at the next sign-out.

import type { Db } from '../db/database.js';

export class SessionRevocations {
  constructor(
    private readonly db: Db,
    private readonly clock: () => number = Date.now,
  ) {}

  /** Records `jti` as signed out until `expiresAtMs` (its token's own expiry). */
  revoke(jti: string, expiresAtMs: number): void {
    const now = this.clock();
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM revoked_sessions WHERE expires_at <= ?').run(now);
      this.db.prepare('INSERT INTO revoked_sessions (jti, expires_at) VALUES (?, ?) ON CONFLICT(jti) DO NOTHING').run(jti, expiresAtMs);
    })();
  }

  isRevoked(jti: string): boolean {
    return this.db.prepare('SELECT 1 FROM revoked_sessions WHERE jti = ?').get(jti) !== undefined;
  }
}
