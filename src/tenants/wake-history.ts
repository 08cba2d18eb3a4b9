// Each tenant's last few wakes (when, how long, how it ended), for the
// dashboard and `GET /api/tenants/:slug`. In memory only: a restart forgets
// them, and the wake duration histogram in /metrics is the lasting record.

export interface WakeRecord {
  readonly at: string;
  readonly ms: number;
  readonly outcome: 'ready' | 'failed' | 'timeout';
}

export class WakeHistory {
  private readonly byTenant = new Map<string, WakeRecord[]>();

  constructor(
    private readonly keep = 10,
    private readonly clock: () => number = Date.now,
  ) {}

  record(slug: string, outcome: WakeRecord['outcome'], ms: number): void {
    const list = this.byTenant.get(slug) ?? [];
    list.push({ at: new Date(this.clock()).toISOString(), ms: Math.round(ms), outcome });
    if (list.length > this.keep) list.splice(0, list.length - this.keep);
    this.byTenant.set(slug, list);
  }

  /** Newest last. */
  recent(slug: string): readonly WakeRecord[] {
    return this.byTenant.get(slug) ?? [];
  }

  forget(slug: string): void {
    this.byTenant.delete(slug);
  }
}
