// Per-tenant operation locks shared by every napbox process of one data dir:
// a wake, stop or destroy of a tenant runs only while its process holds the
// tenant's row in `tenant_locks`. Within a process, Lifecycle already runs one
// operation per tenant at a time; this extends that to every process.
//
// Invariants:
// - A lock is taken in one write transaction (read, decide, write), so two
//   processes never both hold it.
// - A lock has an expiry, pushed forward while its operation runs (every
//   third of the TTL); a process that died holding one loses it within the TTL.
// - Re-entrant for its owner: the process that holds a lock may take it again
//   (its own operations are serialized by Lifecycle already); taken again for
//   the same operation it keeps the time it was first taken, which is what
//   other processes acknowledge (src/cluster/peers.ts, the fence).
// - A process that finds the lock held waits with a short, bounded backoff,
//   polling the row (SQLite has no notification across processes), and never
//   past the caller's deadline.

import { z } from 'zod';
import type { Db } from '../db/database.js';
import { rows } from '../db/rows.js';

const SlugRow = z.object({ slug: z.string() });

const LOCK_OPS = ['wake', 'stop', 'destroy'] as const;
export type LockOp = (typeof LOCK_OPS)[number];

const RowSchema = z.object({
  slug: z.string(),
  owner: z.string(),
  op: z.enum(LOCK_OPS),
  taken_at: z.number().int(),
  expires_at: z.number().int(),
});

export interface LockRow {
  readonly owner: string;
  readonly op: LockOp;
  readonly takenAt: number;
  readonly expiresAt: number;
}

export type LockDecision = { readonly kind: 'take' } | { readonly kind: 'wait'; readonly holder: LockRow };

/** Whether `owner` may take a lock whose row is `row` (undefined: free) at `now`. */
export function decideLock(row: LockRow | undefined, owner: string, now: number): LockDecision {
  if (!row || row.owner === owner || row.expiresAt <= now) return { kind: 'take' };
  return { kind: 'wait', holder: row };
}

/** Milliseconds before the `attempt`-th poll (0-based) of a held lock: 5, 10, 20, 40, then 50 each. */
function lockBackoff(attempt: number): number {
  return Math.min(50, 5 * 2 ** Math.min(attempt, 10));
}

export interface HeldLock {
  readonly slug: string;
  readonly op: LockOp;
  /** Milliseconds spent waiting for another process's lock before taking this one. */
  readonly waitedMs: number;
  /** When this operation first took the lock (kept when taken again for the same operation). */
  readonly takenAt: number;
  /** Who held it while we waited (the first holder seen), if anyone did. */
  readonly waitedFor: LockRow | undefined;
  release(): void;
}

export interface TenantLocksDeps {
  readonly db: Db;
  /** This process's id (src/cluster/peers.ts). */
  readonly owner: string;
  readonly ttlMs?: number;
  readonly clock?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export class LockTimeoutError extends Error {
  constructor(
    readonly slug: string,
    readonly holder: LockRow,
  ) {
    super(`tenant ${slug}: another napbox process (${holder.owner}) is still running its ${holder.op}`);
  }
}

export class TenantLocks {
  readonly ttlMs: number;
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly deps: TenantLocksDeps) {
    this.ttlMs = deps.ttlMs ?? 5000;
    this.clock = deps.clock ?? Date.now;
    this.sleep = deps.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  get owner(): string {
    return this.deps.owner;
  }

  /** The lock's current holder, when it is held and not expired. */
  holder(slug: string, now = this.clock()): LockRow | undefined {
    const raw = this.deps.db.prepare('SELECT * FROM tenant_locks WHERE slug = ?').get(slug);
    if (raw === undefined) return undefined;
    const row = toRow(raw);
    return row.expiresAt > now ? row : undefined;
  }

  /** True while another process holds the tenant's lock. */
  heldByOther(slug: string): boolean {
    const holder = this.holder(slug);
    return holder !== undefined && holder.owner !== this.deps.owner;
  }

  /** Tenants another process is stopping or destroying now: this process must stop routing to them. */
  stopsByOthers(now = this.clock()): string[] {
    const raw = this.deps.db
      .prepare("SELECT slug FROM tenant_locks WHERE owner <> ? AND op IN ('stop','destroy') AND expires_at > ?")
      .all(this.deps.owner, now);
    return rows(SlugRow, raw, 'tenant_locks').map((r) => r.slug);
  }

  /** Takes the lock now if it is free (or ours, or expired); otherwise says who holds it. */
  tryAcquire(slug: string, op: LockOp): { readonly taken: true; readonly at: number } | { readonly taken: false; readonly holder: LockRow } {
    const { db, owner } = this.deps;
    return db
      .transaction(() => {
        const now = this.clock();
        const raw = db.prepare('SELECT * FROM tenant_locks WHERE slug = ?').get(slug);
        const row = raw === undefined ? undefined : toRow(raw);
        const decision = decideLock(row, owner, now);
        if (decision.kind === 'wait') return { taken: false as const, holder: decision.holder };
        const at = row && row.owner === owner && row.op === op && row.expiresAt > now ? row.takenAt : now;
        db.prepare(
          `INSERT INTO tenant_locks (slug, owner, op, taken_at, expires_at) VALUES (@slug, @owner, @op, @at, @expires)
           ON CONFLICT(slug) DO UPDATE SET owner = @owner, op = @op, taken_at = @at, expires_at = @expires`,
        ).run({ slug, owner, op, at, expires: now + this.ttlMs });
        return { taken: true as const, at };
      })
      .immediate();
  }

  /** Lets go of a lock taken with tryAcquire at `at`, unless this process has taken it again since. */
  releaseIf(slug: string, at: number): void {
    this.deps.db.prepare('DELETE FROM tenant_locks WHERE slug = ? AND owner = ? AND taken_at = ?').run(slug, this.deps.owner, at);
  }

  /** Takes the lock, waiting for another process's operation to end (or its lock to expire) until `deadline`. */
  async acquire(slug: string, op: LockOp, deadline: number): Promise<HeldLock> {
    const started = this.clock();
    let waitedFor: LockRow | undefined;
    for (let attempt = 0; ; attempt += 1) {
      const result = this.tryAcquire(slug, op);
      if (result.taken) return this.held(slug, op, result.at, this.clock() - started, waitedFor);
      waitedFor ??= result.holder;
      if (this.clock() >= deadline) throw new LockTimeoutError(slug, result.holder);
      await this.sleep(Math.min(lockBackoff(attempt), Math.max(1, deadline - this.clock())));
    }
  }

  private held(slug: string, op: LockOp, takenAt: number, waitedMs: number, waitedFor: LockRow | undefined): HeldLock {
    const { db, owner } = this.deps;
    const renew = setInterval(
      () => {
        try {
          db.prepare('UPDATE tenant_locks SET expires_at = ? WHERE slug = ? AND owner = ?').run(this.clock() + this.ttlMs, slug, owner);
        } catch {
          // Busy past the timeout: the next renewal (a third of the TTL later) tries again.
        }
      },
      Math.max(10, Math.floor(this.ttlMs / 3)),
    );
    renew.unref();
    let released = false;
    return {
      slug,
      op,
      takenAt,
      waitedMs,
      waitedFor,
      release: () => {
        if (released) return;
        released = true;
        clearInterval(renew);
        db.prepare('DELETE FROM tenant_locks WHERE slug = ? AND owner = ?').run(slug, owner);
      },
    };
  }
}

function toRow(raw: unknown): LockRow {
  const row = RowSchema.parse(raw);
  return { owner: row.owner, op: row.op, takenAt: row.taken_at, expiresAt: row.expires_at };
}
