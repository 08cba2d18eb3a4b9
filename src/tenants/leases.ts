// Busy leases a runner takes ("build running", "long tool call"): each holds
// its tenant awake until it expires or is released, and never past the cap
// counted from when it was first taken, however often it is renewed.
// Kept in the database (`busy_leases`), so the sweep sees a lease whichever
// napbox process's runner channel it arrived on (a runner sends every lease to
// every open channel). A runner that still needs one renews it within its TTL,
// so a lease outlives nothing but its own expiry.
//
// A lease that ended (expired, or released: its expiry set to the release) is
// kept for a day, because its end is activity: the idle clock runs from the
// end of the last hold, not from when the lease was taken (decide.ts).

import { z } from 'zod';
import type { Db } from '../db/database.js';

const LEASE_NAME = /^[A-Za-z0-9_. -]{1,64}$/;

const ENDED_KEPT_MS = 24 * 3600_000;

const RowSchema = z.object({ name: z.string().regex(LEASE_NAME), taken_at: z.number().int(), expires_at: z.number().int() });

export interface Lease {
  readonly name: string;
  readonly takenAt: number;
  /** When it expires, or expired or was released (an ended lease is still listed: its end is activity). */
  readonly expiresAt: number;
}

/** When a lease stops holding: its expiry or release, or its cap, whichever comes first. */
export function leaseEnd(lease: Lease, leaseCapMs: number): number {
  return Math.min(lease.expiresAt, lease.takenAt + leaseCapMs);
}

export class LeaseTable {
  constructor(private readonly db: Db) {}

  take(slug: string, name: string, ttlMs: number, now: number): Lease {
    return this.db
      .transaction(() => {
        const existing = this.db.prepare('SELECT name, taken_at, expires_at FROM busy_leases WHERE slug = ? AND name = ?').get(slug, name);
        const row = existing === undefined ? undefined : RowSchema.parse(existing);
        const lease = { name, takenAt: row && row.expires_at > now ? row.taken_at : now, expiresAt: now + ttlMs };
        this.db
          .prepare(
            'INSERT INTO busy_leases (slug, name, taken_at, expires_at) VALUES (?, ?, ?, ?) ON CONFLICT(slug, name) DO UPDATE SET taken_at = excluded.taken_at, expires_at = excluded.expires_at',
          )
          .run(slug, name, lease.takenAt, lease.expiresAt);
        return lease;
      })
      .immediate();
  }

  /** Ends the lease now (kept, ended, so its end counts as activity). */
  release(slug: string, name: string, now: number): void {
    this.db.prepare('UPDATE busy_leases SET expires_at = MIN(expires_at, ?) WHERE slug = ? AND name = ?').run(now, slug, name);
  }

  /** Drops leases that ended over a day ago, for every tenant: one write a sweep tick, not one a tenant. */
  purge(now: number): void {
    this.db.prepare('DELETE FROM busy_leases WHERE expires_at <= ?').run(now - ENDED_KEPT_MS);
  }

  /** The tenant's leases, live and ended within the last day (a read only: purge drops older ones). */
  list(slug: string, now: number): Lease[] {
    return this.db
      .prepare('SELECT name, taken_at, expires_at FROM busy_leases WHERE slug = ? AND expires_at > ? ORDER BY name')
      .all(slug, now - ENDED_KEPT_MS)
      .map((raw) => {
        const row = RowSchema.parse(raw);
        return { name: row.name, takenAt: row.taken_at, expiresAt: row.expires_at };
      });
  }

  forget(slug: string): void {
    this.db.prepare('DELETE FROM busy_leases WHERE slug = ?').run(slug);
  }
}
