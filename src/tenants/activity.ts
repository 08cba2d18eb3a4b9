// Activity as the router and message paths see it, kept in memory on the hot
// path: in-flight requests and open WebSockets per tenant, and the time of the
// last activity. The sweep reads it (and persists last_activity); a request
// never waits on the database for it. Tenants whose activity changed are
// marked dirty, and other napbox processes sharing the data dir learn of them
// at the next heartbeat (src/cluster/peers.ts), not on the request's path.

/** What counted as activity last: the sweep's idle clock and its stop reasons say it. */
export type ActivityKind = 'request' | 'websocket' | 'message' | 'lease' | 'wake';

export interface TenantActivity {
  inflight: number;
  sockets: number;
  lastActivity: number;
  lastKind: ActivityKind;
}

export class ActivityTracker {
  private readonly byTenant = new Map<string, TenantActivity>();
  private readonly dirty = new Set<string>();

  constructor(private readonly clock: () => number = Date.now) {}

  private entry(slug: string): TenantActivity {
    let entry = this.byTenant.get(slug);
    if (!entry) {
      entry = { inflight: 0, sockets: 0, lastActivity: 0, lastKind: 'wake' };
      this.byTenant.set(slug, entry);
    }
    return entry;
  }

  touch(slug: string, kind: ActivityKind): void {
    const entry = this.entry(slug);
    entry.lastActivity = this.clock();
    entry.lastKind = kind;
    this.dirty.add(slug);
  }

  /** The tenants whose activity changed since the last call (`all`: every tenant known), with their activity now. */
  takeDirty(all = false): Array<[string, Readonly<TenantActivity>]> {
    const changed: Array<[string, Readonly<TenantActivity>]> = [];
    for (const slug of all ? this.byTenant.keys() : this.dirty) {
      const entry = this.byTenant.get(slug);
      if (entry) changed.push([slug, { ...entry }]);
    }
    this.dirty.clear();
    return changed;
  }

  /** Marks a request in flight; call the returned function exactly once when it ends. */
  beginRequest(slug: string): () => void {
    return this.hold(slug, 'inflight', 'request');
  }

  /** Marks a WebSocket open; call the returned function exactly once when it closes. */
  openSocket(slug: string): () => void {
    return this.hold(slug, 'sockets', 'websocket');
  }

  /** Counts a hold up now and down once when the returned function is called (again: no effect). */
  private hold(slug: string, counter: 'inflight' | 'sockets', kind: ActivityKind): () => void {
    const entry = this.entry(slug);
    entry[counter] += 1;
    this.touch(slug, kind);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      entry[counter] -= 1;
      this.touch(slug, kind);
    };
  }

  get(slug: string): Readonly<TenantActivity> | undefined {
    return this.byTenant.get(slug);
  }

  forget(slug: string): void {
    this.byTenant.delete(slug);
  }
}
