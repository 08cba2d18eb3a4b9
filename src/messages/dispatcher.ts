// Delivery: moves accepted messages from the durable inbox to the tenant's
// runner and their replies back, waking the tenant when it sleeps.
//
// Invariants:
// - Per session one message at a time, in order (MessageStore.deliverable);
//   sessions of a tenant go side by side.
// - A message's state only moves forward through the store's guarded
//   updates; a reply is stored once (the first), however often it arrives.
// - Nothing accepted is dropped: a message whose runner, container or napbox
//   died while it was processing goes back to pending and is delivered again
//   after the next wake; failures back off, and after the last try the message
//   is `failed` with its reason, visibly.
// - Work per tenant is coalesced: `kick` while a pass runs schedules one more
//   pass, never two at once.
// - With other napbox processes on the same database, a message is delivered
//   by the one process whose claim (markProcessing) succeeded, on its own
//   channel, which is where its reply comes back; a process starting up
//   requeues only the messages of processes that are no longer alive.

import type { Logger } from '../log.js';
import type { ActivityTracker } from '../tenants/activity.js';
import type { Lifecycle } from '../tenants/lifecycle.js';
import type { Running } from '../tenants/tenant-events.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { ChatHub } from './chat-hub.js';
import type { LeaseTable } from '../tenants/leases.js';
import { decideRetry, DEFAULT_DELIVERY, type DeliveryPolicy } from './delivery-policy.js';
import type { MessageStore } from './message-store.js';
import type { ChannelPool, RunnerChannel, RunnerFrame } from './runner-channel.js';
import type { Unsubscribe } from '../typed-events.js';

/** How often messages waiting for an engine that does not answer try again. */
const ENGINE_RETRY_MS = 2000;

export interface DispatcherDeps {
  readonly messages: MessageStore;
  readonly tenants: TenantStore;
  readonly lifecycle: Lifecycle;
  readonly activity: ActivityTracker;
  readonly hub: ChatHub;
  readonly leases: LeaseTable;
  /** The runner channels messages go out on; their frames and closes come back to this dispatcher once started. */
  readonly channels: ChannelPool;
  readonly logger: Logger;
  readonly clock?: () => number;
  readonly policy?: DeliveryPolicy;
  /** This napbox process's id, recorded on each message it claims (src/cluster/peers.ts). */
  readonly owner?: string;
  /** The napbox processes alive now (this one included); without it, this process is alone. */
  readonly liveOwners?: () => string[];
}

/**
 * Whether a wake failed because a container really started for the message and died (or was not ready in
 * time): that counts as one of its tries. Anything else (an open breaker, the engine failing or out of a
 * resource, the wake rate) never reached a runner, and does not.
 */
function containerDied(err: unknown): boolean {
  const e = err as { code?: string; details?: { failedAs?: unknown } };
  if (e.code === 'wake_timeout') return true;
  return e.code === 'wake_failed' && (e.details?.failedAs === undefined || e.details.failedAs === 'wake_failed' || e.details.failedAs === 'wake_timeout');
}

export class Dispatcher {
  private readonly unsubscribe: Unsubscribe[] = [];
  private readonly running = new Map<string, Promise<void>>();
  private readonly again = new Set<string>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly clock: () => number;
  private readonly policy: DeliveryPolicy;
  private stopped = false;

  constructor(private readonly deps: DispatcherDeps) {
    this.clock = deps.clock ?? Date.now;
    this.policy = deps.policy ?? DEFAULT_DELIVERY;
  }

  /**
   * Listens to the runner channels, then, after a start of napbox: what was processing when it died goes
   * again; every tenant with work is kicked.
   */
  start(): void {
    const { events } = this.deps.channels;
    this.unsubscribe.push(
      events.on('frame', ({ slug, frame }) => this.onFrame(slug, frame)),
      events.on('closed', ({ slug, inFlight, why }) => this.onClosed(slug, inFlight, why)),
    );
    const requeued = this.requeueOrphans('napbox restarted while it was processing');
    if (requeued.length) this.deps.logger.info({ messages: requeued.length }, 'requeued messages interrupted by a restart');
    for (const slug of this.deps.messages.tenantsWithOpenMessages()) this.kick(slug);
  }

  /** Messages being processed by no live napbox process go back to pending; their tenants are kicked. */
  requeueOrphans(reason: string): string[] {
    const { messages } = this.deps;
    const ids = this.deps.liveOwners
      ? messages.requeueOrphaned(this.deps.liveOwners(), reason, this.clock()).map((m) => {
          this.kick(m.tenant);
          return m.id;
        })
      : messages.requeueProcessing(undefined, reason, this.clock());
    return ids;
  }

  stop(): void {
    this.stopped = true;
    for (const off of this.unsubscribe.splice(0)) off();
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }

  /** Shutting down: delivers nothing more, and hands back what this process was delivering (pending again, at once). */
  handBack(): string[] {
    this.stop();
    if (!this.deps.owner) return [];
    return this.deps.messages.requeueOwned(this.deps.owner, 'napbox shut down while it was processing: delivered again', this.clock());
  }

  /** Something changed for this tenant's messages: deliver what can be delivered. */
  kick(slug: string): void {
    if (this.stopped) return;
    if (this.running.has(slug)) {
      this.again.add(slug);
      return;
    }
    const pass = this.pass(slug)
      .catch((err: unknown) => {
        this.deps.logger.error({ tenant: slug, err }, 'message delivery pass failed');
        this.scheduleNext(slug);
      })
      .finally(() => {
        this.running.delete(slug);
        if (this.again.delete(slug)) this.kick(slug);
      });
    this.running.set(slug, pass);
  }

  private async pass(slug: string): Promise<void> {
    const { messages, lifecycle } = this.deps;
    const due = messages.deliverable(slug, this.clock());
    if (due.length === 0) return this.scheduleNext(slug);
    let running: Running;
    try {
      running = await lifecycle.wake(slug, `message ${due[0]!.id}`);
    } catch (err) {
      const reason = `tenant could not be started: ${(err as Error).message}`;
      if (containerDied(err)) {
        for (const m of due) this.failTry(slug, m.id, m.tries + 1, reason, true, true);
      } else {
        // Nothing reached a runner (an open breaker, the engine, the wake window): the message waits, its reason
        // shown, without using up a try, and goes when the tenant can be started.
        const after = Math.max(ENGINE_RETRY_MS, ((err as { retryAfterSeconds?: number }).retryAfterSeconds ?? 0) * 1000);
        for (const m of due) messages.fail(m.id, `waiting: ${reason}`, this.clock() + after, this.clock());
      }
      return this.scheduleNext(slug);
    }
    let channel: RunnerChannel;
    try {
      channel = await this.deps.channels.get(slug, running.containerId, running.control);
    } catch (err) {
      for (const m of due) this.failTry(slug, m.id, m.tries + 1, (err as Error).message, true, true);
      await lifecycle.verify(slug, 'after its runner channel failed').catch(() => false);
      return this.scheduleNext(slug);
    }
    for (const m of messages.deliverable(slug, this.clock())) {
      if (!messages.markProcessing(m.id, this.clock(), this.deps.owner ?? null)) continue;
      this.deps.activity.touch(slug, 'message');
      channel.deliver({ id: m.id, session: m.session, text: m.text, attempt: m.tries + 1, history: messages.history(slug, m.session, m.seq) });
    }
    this.scheduleNext(slug);
  }

  /** Counts a failed try; `countsNow` when the try was never marked processing. */
  private failTry(slug: string, id: string, tries: number, reason: string, retryable: boolean, countsNow = false): void {
    const { messages } = this.deps;
    const message = messages.get(id);
    if (!message || message.state === 'done' || message.state === 'failed') return;
    const now = this.clock();
    if (countsNow) messages.markProcessing(id, now, this.deps.owner ?? null);
    const decision = decideRetry(tries, retryable, reason, now, this.policy);
    if (decision.kind === 'retry') {
      messages.fail(id, reason, decision.at, now);
    } else {
      messages.fail(id, decision.reason, undefined, now);
      this.deps.hub.publish(slug, { type: 'failed', id, session: message.session, message: decision.reason });
      this.deps.logger.warn({ tenant: slug, message: id, reason: decision.reason }, 'message failed');
    }
  }

  /** Frames from the runner. */
  private onFrame(slug: string, frame: RunnerFrame): void {
    if (this.stopped) return;
    const { messages, hub } = this.deps;
    const now = this.clock();
    switch (frame.type) {
      case 'heartbeat':
        this.deps.tenants.recordHeartbeat(slug, now);
        return;
      case 'progress': {
        const m = messages.get(frame.id);
        if (m?.tenant === slug) hub.publish(slug, { type: 'progress', id: m.id, session: m.session, text: frame.text });
        this.deps.activity.touch(slug, 'message');
        return;
      }
      case 'reply': {
        const m = messages.get(frame.id);
        if (m?.tenant !== slug) return;
        if (messages.complete(m.id, frame.text, now)) hub.publish(slug, { type: 'reply', id: m.id, session: m.session, text: frame.text });
        this.deps.activity.touch(slug, 'message');
        this.kick(slug);
        return;
      }
      case 'error': {
        const m = messages.get(frame.id);
        if (m?.tenant !== slug) return;
        this.failTry(slug, m.id, m.tries, `runner: ${frame.message}`, frame.retryable);
        this.kick(slug);
        return;
      }
      case 'protocol-error': {
        this.deps.logger.warn({ tenant: slug, message: frame.message, id: frame.id }, 'runner reported a protocol error');
        const m = frame.id ? messages.get(frame.id) : undefined;
        if (m?.tenant === slug && m.state === 'processing') {
          this.failTry(slug, m.id, m.tries, `runner refused the delivery: ${frame.message}`, false); // sending it again cannot help
          this.kick(slug);
        }
        return;
      }
      case 'lease':
        this.deps.leases.take(slug, frame.name, frame.ttlMs, now);
        this.deps.activity.touch(slug, 'lease');
        return;
      case 'release':
        this.deps.leases.release(slug, frame.name, now);
        this.deps.activity.touch(slug, 'lease');
        return;
      case 'hello':
        return;
    }
  }

  /** The runner channel went away with `inFlight` unanswered: they go again after the next wake. */
  private onClosed(slug: string, inFlight: string[], why: string): void {
    if (this.stopped) return;
    const now = this.clock();
    for (const id of inFlight) {
      const m = this.deps.messages.get(id);
      if (m && m.state === 'processing') this.failTry(slug, id, m.tries, `runner went away while processing (${why})`, true);
    }
    void this.deps.lifecycle
      .verify(slug, inFlight.length ? `while processing ${inFlight.join(', ')}` : 'after its runner channel closed')
      .catch(() => false) // the engine may be down; the sweep reconciles when it is back
      .finally(() => {
        if (inFlight.length) this.deps.logger.info({ tenant: slug, messages: inFlight, why, at: now }, 'requeued messages of a lost runner');
        this.kick(slug);
      });
  }

  /** Wakes the tenant's pass again when its next retry falls due. */
  private scheduleNext(slug: string): void {
    // Messages due now but not delivered wait behind one in their session: its reply kicks again.
    const at = this.deps.messages.nextDueAt(slug, this.clock());
    const existing = this.timers.get(slug);
    if (existing) clearTimeout(existing);
    this.timers.delete(slug);
    if (at === undefined || this.stopped) return;
    const timer = setTimeout(
      () => {
        this.timers.delete(slug);
        this.kick(slug);
      },
      Math.max(10, at - this.clock()),
    );
    timer.unref();
    this.timers.set(slug, timer);
  }
}
