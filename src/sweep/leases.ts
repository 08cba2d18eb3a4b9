// Busy leases a runner takes ("build running", "long tool call"): each holds
// its tenant awake until it expires or is released, and never past the cap
// counted from when it was first taken, however often it is renewed. In
// memory: a napbox restart drops them, and a runner that still needs one
// renews it within its TTL.

import type { Lease } from './decide.js';

export const LEASE_NAME = /^[A-Za-z0-9_. -]{1,64}$/;

export class LeaseTable {
  private readonly byTenant = new Map<string, Map<string, Lease>>();

  take(slug: string, name: string, ttlMs: number, now: number): Lease {
    let leases = this.byTenant.get(slug);
    if (!leases) {
      leases = new Map();
      this.byTenant.set(slug, leases);
    }
    const existing = leases.get(name);
    const lease = { name, takenAt: existing && existing.expiresAt > now ? existing.takenAt : now, expiresAt: now + ttlMs };
    leases.set(name, lease);
    return lease;
  }

  release(slug: string, name: string): void {
    this.byTenant.get(slug)?.delete(name);
  }

  /** The tenant's unexpired leases (expired ones are dropped on the way). */
  list(slug: string, now: number): Lease[] {
    const leases = this.byTenant.get(slug);
    if (!leases) return [];
    for (const [name, lease] of leases) if (lease.expiresAt <= now) leases.delete(name);
    if (leases.size === 0) this.byTenant.delete(slug);
    return [...leases.values()];
  }

  forget(slug: string): void {
    this.byTenant.delete(slug);
  }
}
