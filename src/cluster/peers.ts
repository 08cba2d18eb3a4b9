// The napbox processes sharing one data dir, as each of them sees the others
// through the database (docs/scale-out.md). Each process:
// - registers itself (a random id) and, every `tickMs`, writes its heartbeat
//   and the holds the sweep needs (requests in flight, open WebSockets, last
//   activity of each tenant that changed since the last tick), in one write;
// - in that same write, drops what it believed about tenants another process
//   is stopping, so its next request for one waits on the tenant's lock and
//   wakes it again instead of reaching a container on its way down (the fence).
// A process whose heartbeat is older than `deadAfterMs` is dead: its holds no
// longer count, and the sweep leader requeues the messages it was processing.
// So is one whose pid no longer exists in our pid namespace (its id names the
// namespace; the processes of one SQLite data dir share a machine), so a
// napbox restarted after a crash does not wait out the heartbeat of the
// process it replaces.
//
// Invariants:
// - A process with no peers behaves as napbox always did: `fence` returns at
//   once, and nothing here is on a request's path (the hot path only marks a
//   tenant dirty in memory).
// - A heartbeat written at time t means: every stop lock taken before t was
//   seen, and the holds published with it were counted at t.

import crypto from 'node:crypto';
import fs from 'node:fs';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import type { Logger } from '../log.js';
import type { ActivityKind } from '../tenants/activity.js';
import type { TenantActivity } from '../tenants/activity.js';
import type { TenantEvents } from '../tenants/tenant-events.js';
import { CountRow, IdRow, maybeRow, row, rows } from '../db/rows.js';

const LeaderRow = z.object({ owner: z.string(), expires_at: z.number().int() });
const ProcessRow = z.object({ id: z.string(), pid: z.number().int(), heartbeat_at: z.number().int() });

const HoldRowSchema = z.object({
  inflight: z.number().int().min(0),
  sockets: z.number().int().min(0),
  last_activity: z.number().int(),
  last_kind: z.enum(['request', 'websocket', 'message', 'lease', 'wake']),
});

export interface PeerHolds {
  readonly inflight: number;
  readonly sockets: number;
  readonly lastActivity: number;
  readonly lastKind: ActivityKind;
}

export interface PeersDeps {
  readonly db: Db;
  /** The tenants whose activity changed since the last call (`all`: every tenant), with their activity now; clears the set. */
  readonly takeDirty: (all?: boolean) => Array<[string, Readonly<TenantActivity>]>;
  /** Tenants another process is stopping: forget their endpoints (called inside the tick). */
  readonly stopsByOthers: (now: number) => string[];
  /** Where it says which tenants another process is stopping (this process forgets their endpoints). */
  readonly events: TenantEvents;
  readonly id?: string;
  readonly tickMs?: number;
  readonly deadAfterMs?: number;
  readonly clock?: () => number;
  /** Told once of a heartbeat that could not be written (the database busy past its timeout), and of the recovery. */
  readonly logger?: Logger;
  /** The pid namespace to compare pids in; default: this process's (Linux); '' turns the pid check off. */
  readonly pidNamespace?: string;
}

export class Peers {
  readonly id: string;
  readonly tickMs: number;
  readonly deadAfterMs: number;
  private readonly clock: () => number;
  private readonly pidNamespace: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Holds taken from the tracker but not yet committed (a failed heartbeat keeps them for the next). */
  private unpublished = new Map<string, Readonly<TenantActivity>>();
  private failing = false;

  constructor(private readonly deps: PeersDeps) {
    this.pidNamespace = deps.pidNamespace === undefined ? readPidNamespace() : deps.pidNamespace || undefined;
    this.id = deps.id ?? newPeerId(this.pidNamespace);
    this.tickMs = deps.tickMs ?? 250;
    this.deadAfterMs = deps.deadAfterMs ?? Math.max(3000, 8 * this.tickMs);
    this.clock = deps.clock ?? Date.now;
  }

  /** Registers this process (after removing the rows of processes that are gone) and starts its heartbeat. */
  start(): void {
    this.reapDead();
    const now = this.clock();
    this.deps.db.prepare('INSERT OR REPLACE INTO processes (id, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?)').run(this.id, process.pid, now, now);
    this.timer = setInterval(() => {
      try {
        this.tick();
        if (this.failing) this.deps.logger?.info('heartbeat written again');
        this.failing = false;
      } catch (err) {
        // Missed heartbeats make the others take this process for dead after deadAfterMs: say so once.
        if (!this.failing) this.deps.logger?.warn({ err: (err as Error).message }, 'heartbeat not written; retrying every tick');
        this.failing = true;
      }
    }, this.tickMs);
    this.timer.unref();
  }

  /** Leaves: a clean shutdown needs no one to wait out its heartbeat. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.deps.db.transaction(() => {
      this.deps.db.prepare('DELETE FROM process_holds WHERE owner = ?').run(this.id);
      this.deps.db.prepare('DELETE FROM processes WHERE id = ?').run(this.id);
      this.deps.db.prepare('DELETE FROM tenant_locks WHERE owner = ?').run(this.id);
      this.deps.db.prepare('DELETE FROM leader_leases WHERE owner = ?').run(this.id);
    })();
  }

  /** One heartbeat: the fence for other processes' stops, this process's holds, then its heartbeat, in one write. */
  tick(): void {
    const { db } = this.deps;
    // A process taken for dead had its holds removed: it publishes all of them again, not only what changed.
    const reaped = db.prepare('SELECT 1 FROM processes WHERE id = ?').get(this.id) === undefined;
    const changed = new Map([...this.unpublished, ...this.deps.takeDirty(reaped)]);
    this.unpublished = changed; // until committed
    db.transaction(() => {
      const now = this.clock();
      for (const slug of this.deps.stopsByOthers(now)) this.deps.events.emit('stoppingElsewhere', { slug });
      const upsert = db.prepare(
        `INSERT INTO process_holds (owner, slug, inflight, sockets, last_activity, last_kind) VALUES (@owner, @slug, @inflight, @sockets, @at, @kind)
         ON CONFLICT(owner, slug) DO UPDATE SET inflight = @inflight, sockets = @sockets, last_activity = @at, last_kind = @kind`,
      );
      for (const [slug, a] of changed) {
        upsert.run({ owner: this.id, slug, inflight: a.inflight, sockets: a.sockets, at: a.lastActivity, kind: a.lastKind });
      }
      // A row that vanished (a peer took us for dead) is written again: we are alive.
      db.prepare(
        'INSERT INTO processes (id, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at',
      ).run(this.id, process.pid, now, now);
    }).immediate();
    this.unpublished = new Map();
  }

  /** Ids of the live processes, this one included. */
  live(now = this.clock()): string[] {
    return rows(IdRow, this.deps.db.prepare('SELECT id FROM processes WHERE heartbeat_at > ?').all(now - this.deadAfterMs), 'processes').map((r) => r.id);
  }

  /** True when another live process shares the data dir. */
  hasPeers(now = this.clock()): boolean {
    return this.live(now).some((id) => id !== this.id);
  }

  /** What the other live processes hold of a tenant: their requests and sockets summed, their latest activity. */
  othersHolds(slug: string, now = this.clock()): PeerHolds | undefined {
    const rows = this.deps.db
      .prepare(
        `SELECT h.inflight, h.sockets, h.last_activity, h.last_kind FROM process_holds h JOIN processes p ON p.id = h.owner
         WHERE h.slug = ? AND h.owner <> ? AND p.heartbeat_at > ?`,
      )
      .all(slug, this.id, now - this.deadAfterMs)
      .map((raw) => HoldRowSchema.parse(raw));
    if (rows.length === 0) return undefined;
    const latest = rows.reduce((a, b) => (b.last_activity > a.last_activity ? b : a));
    return {
      inflight: rows.reduce((n, r) => n + r.inflight, 0),
      sockets: rows.reduce((n, r) => n + r.sockets, 0),
      lastActivity: latest.last_activity,
      lastKind: latest.last_kind,
    };
  }

  /**
   * Resolves true once every other live process has written a heartbeat at or
   * after `since` (so it saw a stop lock taken before `since` and published
   * its holds), false when one has not by `deadline` (the caller then leaves
   * the tenant alone). Polls the table: there is no notification across processes.
   */
  async fence(since: number, deadline: number): Promise<boolean> {
    for (;;) {
      const now = this.clock();
      const behind = row(
        CountRow,
        this.deps.db
          .prepare('SELECT count(*) AS n FROM processes WHERE id <> ? AND heartbeat_at > ? AND heartbeat_at < ?')
          .get(this.id, now - this.deadAfterMs, since),
        'processes',
      );
      if (behind.n === 0) return true;
      if (now >= deadline) return false;
      await new Promise((resolve) => setTimeout(resolve, Math.min(20, Math.max(1, deadline - now))));
    }
  }

  /** Takes or renews the named leader lease; true while this process holds it. */
  lead(name: string, ttlMs: number): boolean {
    const { db } = this.deps;
    return db
      .transaction(() => {
        const now = this.clock();
        const lease = maybeRow(LeaderRow, db.prepare('SELECT owner, expires_at FROM leader_leases WHERE name = ?').get(name), 'leader_leases');
        // A live lease of another process holds, unless that process is dead (judged as reapDead judges it).
        if (lease && lease.owner !== this.id && lease.expires_at > now && this.isAlive(lease.owner, now)) return false;
        db.prepare(
          'INSERT INTO leader_leases (name, owner, expires_at) VALUES (?, ?, ?) ON CONFLICT(name) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at',
        ).run(name, this.id, now + ttlMs);
        return true;
      })
      .immediate();
  }

  /** Whether a process row says dead: its heartbeat too old, or (in our pid namespace) its pid gone. */
  private isDead(row: { id: string; pid: number; heartbeat_at: number }, now: number): boolean {
    const ns = this.pidNamespace;
    const ours = ns !== undefined && row.id.startsWith(`p_${ns}_`);
    return row.heartbeat_at <= now - this.deadAfterMs || (ours && !pidExists(row.pid));
  }

  /** Whether the process `id` is alive: registered, and not dead by isDead. */
  private isAlive(id: string, now: number): boolean {
    const found = maybeRow(ProcessRow, this.deps.db.prepare('SELECT id, pid, heartbeat_at FROM processes WHERE id = ?').get(id), 'processes');
    return found !== undefined && !this.isDead(found, now);
  }

  /** Removes the rows of dead processes (their holds no longer count); returns their ids. */
  reapDead(now = this.clock()): string[] {
    const { db } = this.deps;
    return db
      .transaction(() => {
        const others = rows(ProcessRow, db.prepare('SELECT id, pid, heartbeat_at FROM processes WHERE id <> ?').all(this.id), 'processes');
        const dead = others.filter((r) => this.isDead(r, now)).map((r) => r.id);
        for (const id of dead) {
          db.prepare('DELETE FROM process_holds WHERE owner = ?').run(id);
          db.prepare('DELETE FROM processes WHERE id = ?').run(id);
        }
        return dead;
      })
      .immediate();
  }
}

/** This process's pid namespace (Linux), so pids are compared only with processes that share it. */
/** A new id for this napbox process: its pid namespace (so peers can compare pids) and random bytes. */
export function newPeerId(pidNamespace: string | undefined = readPidNamespace()): string {
  return `p_${pidNamespace ?? 'x'}_${crypto.randomBytes(6).toString('hex')}`;
}

function readPidNamespace(): string | undefined {
  try {
    return /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))?.[1];
  } catch {
    return undefined;
  }
}

/** Whether a process with this pid exists in our pid namespace (EPERM: it exists, as another user). */
export function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
