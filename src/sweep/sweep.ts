// The heartbeat sweep: on a timer, reconcile with the engine, then judge each
// running or paused tenant (decide.ts) and act: pause the idle, stop the long
// idle, restart the stuck, keep the held; then stop the longest-idle paused
// tenants past the caps on paused tenants (count, memory kept). Ticks never
// overlap, and a tick whose engine call fails changes nothing (the engine may
// be restarting); the next one reconciles.
//
// With several napbox processes on one data dir (docs/scale-out.md), only the
// holder of the `sweep` leader lease ticks on its timer, and it judges each
// tenant by what every live process holds (their published requests, sockets
// and activity). Before it stops an idle tenant it takes the tenant's lock
// and waits for every other process to acknowledge it (the fence: they stop
// routing to the tenant and publish their holds), then judges again.

import type { Logger } from '../log.js';
import type { ContainerDriver } from '../runtime/container-driver.js';
import type { ActivityTracker } from '../tenants/activity.js';
import type { Lifecycle } from '../tenants/lifecycle.js';
import { reconcile, type ReconcileReport } from '../tenants/reconcile.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { MessageStore } from '../messages/message-store.js';
import type { Dispatcher } from '../messages/dispatcher.js';
import type { ChannelPool } from '../messages/runner-channel.js';
import { describeStop } from '../tenants/stop-reason.js';
import { decideSweep, describeDecision, describeHold, holdsOf, type SweepDecision, type SweepPolicy, type TenantFacts } from './decide.js';
import type { LeaseTable } from '../tenants/leases.js';
import type { Peers } from '../cluster/peers.js';
import type { TenantLocks } from '../tenants/tenant-locks.js';

export interface SweepDeps {
  readonly store: TenantStore;
  readonly messages: MessageStore;
  readonly driver: ContainerDriver;
  readonly lifecycle: Lifecycle;
  readonly activity: ActivityTracker;
  readonly leases: LeaseTable;
  readonly dispatcher: Dispatcher;
  readonly channels: ChannelPool;
  readonly logger: Logger;
  readonly installId: string;
  readonly policy: SweepPolicy;
  readonly intervalMs: number;
  /** Removes images no tenant uses and networks nothing needs; run from the sweep every PRUNE_EVERY_MS. */
  readonly prune?: () => Promise<unknown>;
  /** Told of every timed tick (metrics). */
  readonly onTick?: (report: TickReport) => void;
  readonly clock?: () => number;
  /** At most this many paused tenants, keeping at most this much memory together (NAPBOX_PAUSED_MAX, NAPBOX_PAUSED_MEMORY). */
  readonly pausedCap?: { readonly count: number; readonly memoryBytes: number };
  /** The other napbox processes on the data dir, and the tenant locks shared with them; without them, alone. */
  readonly cluster?: { readonly peers: Peers; readonly locks: TenantLocks };
}

const PRUNE_EVERY_MS = 10 * 60_000;

export interface TickReport {
  readonly ms: number;
  readonly reconcile?: Omit<ReconcileReport, 'running'>;
  readonly decisions: Record<string, SweepDecision>;
  readonly engineError?: string;
}

export class Sweeper {
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<TickReport> | undefined;
  private readonly clock: () => number;
  private engineDown = false;
  private prunedAt = 0;

  constructor(private readonly deps: SweepDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => {
      if (!this.leads()) return;
      void this.tick();
    }, this.deps.intervalMs);
    this.timer.unref();
  }

  /** Whether this process sweeps on its timer: always when alone, else while it holds the leader lease. */
  private leads(): boolean {
    const peers = this.deps.cluster?.peers;
    if (!peers) return true;
    try {
      return peers.lead('sweep', Math.max(3 * this.deps.intervalMs, peers.deadAfterMs));
    } catch (err) {
      this.deps.logger.warn({ err: (err as Error).message }, 'sweep: leader lease not readable; skipping this tick');
      return false;
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** One tick; concurrent callers share the one under way. */
  tick(): Promise<TickReport> {
    // Every tick is reported, on-demand ones (POST /api/sweep) as well as the timer's.
    this.ticking ??= this.run()
      .then((report) => {
        this.deps.onTick?.(report);
        return report;
      })
      .finally(() => (this.ticking = undefined));
    return this.ticking;
  }

  /** The facts the decision reads, from memory and the database. */
  facts(slug: string, now: number): TenantFacts | undefined {
    const tenant = this.deps.store.get(slug);
    if (!tenant) return undefined;
    const own = this.deps.activity.get(slug);
    const others = this.deps.cluster?.peers.othersHolds(slug, now);
    const seen = others && others.lastActivity > (own?.lastActivity ?? 0) ? others : own;
    const processing = this.deps.messages.processingIds(slug);
    const open = this.deps.messages.countOpen(slug);
    const memory = seen?.lastActivity ?? 0;
    const paused = tenant.state === 'paused';
    return {
      slug,
      paused,
      runningSince: (paused ? undefined : this.deps.lifecycle.endpointOf(slug)?.since) ?? tenant.stateChangedAt,
      lastActivity: Math.max(memory, tenant.lastActivity ?? 0),
      lastActivityKind: memory >= (tenant.lastActivity ?? 0) ? (seen?.lastKind ?? 'wake') : 'request',
      lastHeartbeat: tenant.lastHeartbeat,
      inflightRequests: (own?.inflight ?? 0) + (others?.inflight ?? 0),
      openWebSockets: (own?.sockets ?? 0) + (others?.sockets ?? 0),
      pendingMessages: open.pending,
      processing,
      leases: this.deps.leases.list(slug, now),
    };
  }

  /** What holds the tenant now, for status views. */
  holds(slug: string): string[] {
    const now = this.clock();
    const facts = this.facts(slug, now);
    return facts ? holdsOf(facts, now, this.deps.policy).map(describeHold) : [];
  }

  private async run(): Promise<TickReport> {
    const started = this.clock();
    const { store, lifecycle, logger } = this.deps;
    let report: ReconcileReport;
    try {
      report = await reconcile({ store, driver: this.deps.driver, installId: this.deps.installId, logger, now: started, busy: (s) => lifecycle.busy(s) });
    } catch (err) {
      if (!this.engineDown) logger.warn({ err: (err as Error).message }, 'sweep: engine not answering; changing nothing until it does');
      this.engineDown = true;
      return { ms: this.clock() - started, decisions: {}, engineError: (err as Error).message };
    }
    if (this.engineDown) logger.info('sweep: engine answering again; reconciled');
    this.engineDown = false;
    for (const slug of report.markedStopped) {
      lifecycle.forget(slug);
      this.deps.dispatcher.kick(slug); // pending work wakes it again
    }
    for (const slug of report.foundPaused) {
      lifecycle.forget(slug); // a request to it would hang: the next one wakes (thaws) it
      this.deps.dispatcher.kick(slug);
    }
    const peers = this.deps.cluster?.peers;
    if (peers) {
      const dead = peers.reapDead(started);
      const requeued = this.deps.dispatcher.requeueOrphans('the napbox process delivering it went away');
      if (dead.length || requeued.length) logger.info({ processes: dead, messages: requeued }, 'sweep: napbox processes gone; their messages requeued');
    }
    // A safety net under the dispatcher's own timers: any message due and still pending is delivered.
    for (const slug of this.deps.messages.tenantsWithDueMessages(started)) this.deps.dispatcher.kick(slug);
    this.deps.leases.purge(started);
    const decisions: Record<string, SweepDecision> = {};
    for (const slug of report.running.keys()) {
      if (lifecycle.busy(slug)) continue;
      const facts = this.facts(slug, started);
      if (!facts) continue;
      const decision = decideSweep(facts, started, this.deps.policy);
      decisions[slug] = decision;
      await this.act(slug, decision);
      // Written only when newer: each write is a commit (synchronous=FULL), and a tick judges every running tenant.
      const seen = this.deps.activity.get(slug);
      if (seen?.lastActivity && seen.lastActivity > (store.get(slug)?.lastActivity ?? 0)) store.touchActivity(slug, seen.lastActivity);
    }
    await this.capPaused(decisions);
    if (this.deps.prune && started - this.prunedAt >= PRUNE_EVERY_MS) {
      this.prunedAt = started;
      await this.deps.prune().catch((err: Error) => logger.warn({ err: err.message }, 'image prune failed'));
    }
    const { running: _running, ...counts } = report;
    return { ms: this.clock() - started, reconcile: counts, decisions };
  }

  /**
   * Alone: true. With other live processes: takes the tenant's lock (they stop
   * routing to it at their next heartbeat), waits until each has acknowledged
   * it, and judges the tenant again with their fresh holds. False (lock let
   * go) when it must be kept after all, or a process did not answer in time.
   */
  private async fenced(slug: string, kind: 'stop' | 'pause'): Promise<boolean> {
    const cluster = this.deps.cluster;
    if (!cluster?.peers.hasPeers()) return true;
    const taken = cluster.locks.tryAcquire(slug, 'stop');
    if (!taken.taken) return false; // another process is waking or stopping it: not idle for us to judge
    const fenced = await cluster.peers.fence(taken.at + 1, taken.at + cluster.peers.deadAfterMs);
    const now = this.clock();
    const facts = fenced ? this.facts(slug, now) : undefined;
    if (facts && decideSweep(facts, now, this.deps.policy).kind === kind) return true; // Lifecycle.stop (or pause) takes the lock over
    cluster.locks.releaseIf(slug, taken.at);
    this.deps.logger.info(
      { tenant: slug, fenced },
      fenced ? 'sweep: another napbox process is using the tenant; kept' : 'sweep: a napbox process did not acknowledge the stop in time; kept',
    );
    return false;
  }

  /** Stops the longest-idle paused tenants while there are more than the cap allows, by count or by the memory they keep. */
  private async capPaused(decisions: Record<string, SweepDecision>): Promise<void> {
    const cap = this.deps.pausedCap;
    if (!cap) return;
    const paused = this.deps.store
      .listActive()
      .filter((t) => t.state === 'paused' && !this.deps.lifecycle.busy(t.slug))
      .sort((a, b) => (a.lastActivity ?? a.stateChangedAt) - (b.lastActivity ?? b.stateChangedAt));
    let memoryBytes = paused.reduce((sum, t) => sum + (t.pausedMemory ?? 0), 0);
    let count = paused.length;
    for (const tenant of paused) {
      const by = count > cap.count ? 'count' : memoryBytes > cap.memoryBytes ? 'memory' : undefined;
      if (!by) return;
      const reason = { kind: 'paused-cap', by, paused: count, max: cap.count, memoryBytes, maxMemoryBytes: cap.memoryBytes } as const;
      this.deps.logger.info({ tenant: tenant.slug, reason: describeStop(reason) }, 'sweep');
      try {
        await this.deps.lifecycle.stop(tenant.slug, reason);
        this.deps.leases.forget(tenant.slug);
        decisions[tenant.slug] = { kind: 'stop', reason };
      } catch (err) {
        this.deps.logger.warn({ tenant: tenant.slug, err: (err as Error).message }, 'sweep could not stop a paused tenant');
      }
      count -= 1;
      memoryBytes -= tenant.pausedMemory ?? 0;
    }
  }

  private async act(slug: string, decision: SweepDecision): Promise<void> {
    if (decision.kind === 'keep') return;
    const seen = this.deps.activity.get(slug);
    const quiet = decision.kind === 'stop' || decision.kind === 'pause';
    if (quiet && ((seen?.inflight ?? 0) > 0 || (seen?.sockets ?? 0) > 0)) return; // a request came in meanwhile
    if (quiet && !(await this.fenced(slug, decision.kind))) return;
    if (decision.kind === 'thaw') {
      this.deps.logger.info({ tenant: slug, decision: 'thaw', reason: describeDecision(decision) }, 'sweep');
      // Its wake is the thaw (not awaited: the tick goes on); a failure is the wake's to record.
      void this.deps.lifecycle.wake(slug, `held while paused: ${decision.holds.map(describeHold).join('; ')}`).catch(() => undefined);
      return;
    }
    if (decision.kind === 'pause') {
      this.deps.logger.info({ tenant: slug, decision: 'pause', reason: describeDecision(decision) }, 'sweep');
      await this.deps.lifecycle.pause(slug, decision.reason); // its lock is taken over from fenced()
      return;
    }
    this.deps.logger.info({ tenant: slug, decision: decision.kind, reason: describeStop(decision.reason) }, 'sweep');
    try {
      if (decision.kind === 'restart') this.deps.channels.close(slug, describeStop(decision.reason));
      await this.deps.lifecycle.stop(slug, decision.reason);
      this.deps.leases.forget(slug);
      if (decision.kind === 'restart') this.deps.dispatcher.kick(slug);
    } catch (err) {
      this.deps.logger.warn({ tenant: slug, err: (err as Error).message }, 'sweep could not stop tenant');
    }
  }
}
