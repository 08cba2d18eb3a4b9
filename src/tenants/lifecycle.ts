// Wake and stop: the one place a tenant's container is started or stopped.
//
// Invariants that are load-bearing:
// - One in-flight wake per tenant: every caller (request, WebSocket, message,
//   admin) gets the same promise, and operations on one tenant (wake, stop)
//   run one after another, never interleaved. Across napbox processes sharing
//   the data dir, each operation also holds the tenant's lock in the database
//   (src/tenants/tenant-locks.ts): a process that finds another one waking the
//   tenant waits for that wake, then adopts the container it started.
// - Before creating anything, the engine is asked for the tenant's container
//   by label and that one is reused (adopting what a previous napbox started);
//   the container's fixed name makes the engine refuse a second one anyway.
// - A wake resolves only when the runner's readiness check passed, and every
//   waiter gets an answer by the wake deadline: ready, or an error carrying
//   the container's exit code and last log lines.
// - A failed wake opens the tenant's circuit breaker; no container is ever
//   restarted in a loop. Nothing here depends on who is waiting: a waiter that
//   goes away does not cancel the wake.

import { NapboxError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ContainerDriver, ContainerFile, ContainerInfo, MountSpec } from '../runtime/container-driver.js';
import { endpointFor } from '../runtime/container-driver.js';
import { describePause, describeStop, type PauseReason, type StopReason } from './stop-reason.js';
import { CONTROL_PORT, LABEL_SPEC, appPortOf, buildContainerSpec, tenantLabels, tenantNetwork } from '../runtime/container-spec.js';
import { waitAnswers, waitReady } from '../runtime/readiness.js';
import { wakeTimeoutOf } from '../model/tenant-config.js';
import { formatDuration } from '../config/duration.js';
import { afterFailure, decideWakeGate, DEFAULT_BREAKER, type BreakerPolicy } from './breaker.js';
import { LockTimeoutError, type HeldLock, type LockOp, type TenantLocks } from './tenant-locks.js';
import type { Tenant, TenantStore } from './tenant-store.js';
import { TenantEvents, type Running } from './tenant-events.js';

export interface LifecycleDeps {
  readonly store: TenantStore;
  readonly driver: ContainerDriver;
  readonly logger: Logger;
  readonly installId: string;
  readonly baseImage: string;
  readonly wakeTimeoutMs: number;
  readonly upstream: 'bridge' | 'published';
  readonly clock?: () => number;
  readonly breaker?: BreakerPolicy;
  readonly stopGraceSeconds?: number;
  /** How often runners send heartbeats. */
  readonly heartbeatMs?: number;
  /** Where it tells of every tenant that became ready, every stop and every wake's outcome (default: a stream no one hears). */
  readonly events?: TenantEvents;
  /**
   * The tenant's mounts besides its workspace, made ready on the host (throws when one is refused), and the
   * files to put into its container (copy mode: a remote engine).
   */
  readonly prepareMounts?: (slug: string, config: Tenant['config']) => { readonly mounts: MountSpec[]; readonly files?: readonly ContainerFile[] };
  /** At most this many wakes (not waiters: wakes) of one tenant per minute; more get 429. */
  readonly wakesPerMinute?: number;
  /** The tenant locks shared with other napbox processes; without them, this process is alone. */
  readonly locks?: TenantLocks;
  /**
   * Resolves once every other napbox process has seen a stop lock taken at
   * `since` (they stop routing to the tenant), or at its own deadline. Without
   * it, stops wait for no one.
   */
  readonly fence?: (since: number) => Promise<unknown>;
}

export interface WakeOptions {
  /** An admin's explicit wake: ignores an open circuit breaker. */
  readonly force?: boolean;
}

const LOG_LINES = 15;
/** How long each readiness probe asks the runner to hold its answer until the app is ready (GET /ready?wait=). */
const READY_HOLD_MS = 10_000;

export class Lifecycle {
  private readonly inflight = new Map<string, Promise<Running>>();
  private readonly running = new Map<string, Running>();
  private readonly chains = new Map<string, Promise<unknown>>();
  private readonly recentWakes = new Map<string, number[]>();
  private readonly clock: () => number;
  private readonly breaker: BreakerPolicy;
  private readonly events: TenantEvents;

  constructor(private readonly deps: LifecycleDeps) {
    this.clock = deps.clock ?? Date.now;
    this.events = deps.events ?? new TenantEvents();
    this.breaker = deps.breaker ?? DEFAULT_BREAKER;
  }

  /** The running tenant's endpoints, when this process knows it is running and ready. */
  endpointOf(slug: string): Running | undefined {
    return this.running.get(slug);
  }

  /** True while a wake or stop of this tenant is under way, in this process or in another one. */
  busy(slug: string): boolean {
    return this.chains.has(slug) || (this.deps.locks?.heldByOther(slug) ?? false);
  }

  /**
   * Freezes the tenant's running container (docker pause: memory, sockets and
   * the runner channel are kept, nothing runs). Other napbox processes stop
   * routing to it first (the stop lock and its fence), as for a stop. The
   * next wake thaws it (wakeLocked). The container is the one this process
   * knows, or the one the engine says runs (another process woke it, or it
   * was adopted at start-up). Resolves false, changing nothing, when none
   * runs or the engine refuses; the lock (the sweep's, taken over) is let go
   * in every case.
   */
  pause(slug: string, reason: PauseReason): Promise<boolean> {
    return this.serialize(slug, async () => {
      if (!this.deps.driver.canPause) return false; // this engine cannot freeze: it keeps running, routed as before
      const known = this.running.get(slug);
      this.running.delete(slug); // routed to nowhere from here: a request now wakes it, which waits for this
      const lock = await this.lock(slug, 'stop', this.clock() + this.deps.wakeTimeoutMs);
      try {
        if (lock && this.deps.fence) await this.deps.fence(lock.takenAt + 1);
        const found = known ? [] : await this.deps.driver.findByLabels(tenantLabels(this.deps.installId, slug));
        const containerId = known?.containerId ?? found.find((c) => c.status === 'running')?.id;
        if (!containerId) return false; // stopped, paused or going: nothing to freeze
        await this.deps.driver.pause(containerId);
        // Read once frozen: the engine's stats take about a second, which must not delay the freeze, and a frozen
        // container's memory no longer grows.
        const memoryBytes = (await this.deps.driver.memoryUsage(containerId).catch(() => undefined)) ?? null;
        const said = describePause(reason);
        this.deps.store.setState(slug, { state: 'paused', reason: said, containerId, pausedMemory: memoryBytes, records: 'stop' }, this.clock());
        this.events.emit('paused', { slug, reason, memoryBytes });
        this.deps.logger.info({ tenant: slug, reason: said, memoryBytes }, 'tenant paused');
        return true;
      } catch (err) {
        // Not frozen after all (it exited, or the engine refused): the next wake finds out what it is.
        this.deps.logger.warn({ tenant: slug, err: (err as Error).message }, 'tenant could not be paused');
        return false;
      } finally {
        lock?.release();
      }
    });
  }

  /**
   * Asks the engine whether the tenant's container still runs; when not, forgets
   * it and records why (its exit code), so the next wake starts it again.
   */
  async verify(slug: string, context: string): Promise<boolean> {
    const known = this.running.get(slug);
    // Paused, or an operation under way (a pause about to freeze it): not dead; a message sent just before a
    // pause is answered after the thaw.
    if (!known) return this.busy(slug) || this.deps.store.get(slug)?.state === 'paused';
    const info = await this.deps.driver.inspect(known.containerId);
    if (info?.running) return true;
    if (this.running.get(slug) !== known) return false;
    this.running.delete(slug);
    const exit = info ? `exit code ${info.exitCode}${info.oomKilled ? ', out of memory' : ''}` : 'container removed';
    if (!this.busy(slug)) {
      this.deps.store.setState(slug, { state: 'stopped', reason: `container stopped unexpectedly (${exit}) ${context}`, records: 'stop' }, this.clock());
    }
    this.deps.logger.warn({ tenant: slug, exit, context }, 'tenant container no longer running');
    return false;
  }

  /** Drops what this process believes about a tenant's container (it was found gone, or the tenant deleted). */
  forget(slug: string): void {
    this.running.delete(slug);
  }

  wake(slug: string, reason: string, options: WakeOptions = {}): Promise<Running> {
    const known = this.running.get(slug);
    if (known) return Promise.resolve(known);
    const pending = this.inflight.get(slug);
    // biome-ignore lint/nursery/noMisusedPromises: a test of whether a wake is in flight (Promise or undefined), not of its result
    if (pending) return pending;
    const started = this.clock();
    const limited = this.rateLimit(slug, started);
    if (limited) return Promise.reject(limited);
    const timeoutMs = this.wakeTimeoutFor(slug);
    const work = this.serialize(slug, () => this.doWake(slug, reason, options, started, timeoutMs));
    const waited = withDeadline(work, timeoutMs, () => this.timeoutError(slug, timeoutMs));
    this.inflight.set(slug, waited);
    const clear = () => {
      if (this.inflight.get(slug) === waited) this.inflight.delete(slug);
    };
    waited.then(clear, clear);
    return waited;
  }

  /** Counts a wake in the tenant's one-minute window; an error when the window is full (a wake storm). */
  private rateLimit(slug: string, now: number): NapboxError | undefined {
    const limit = this.deps.wakesPerMinute ?? 30;
    const recent = (this.recentWakes.get(slug) ?? []).filter((t) => t > now - 60_000);
    if (recent.length >= limit) {
      this.recentWakes.set(slug, recent);
      const retryAfterSeconds = Math.max(1, Math.ceil((recent[0]! + 60_000 - now) / 1000));
      return new NapboxError('rate_limited', `tenant ${slug} was woken ${limit} times in the last minute: waiting before the next wake`, { retryAfterSeconds });
    }
    recent.push(now);
    this.recentWakes.set(slug, recent);
    return undefined;
  }

  stop(slug: string, reason: StopReason): Promise<void> {
    this.running.delete(slug);
    return this.serialize(slug, async () => {
      this.running.delete(slug);
      const lock = await this.lock(slug, 'stop', this.clock() + this.deps.wakeTimeoutMs);
      try {
        // No other process may send a request to a container on its way down (they forget it, then wait on the lock).
        if (lock && this.deps.fence) await this.deps.fence(lock.takenAt + 1);
        await this.doStop(slug, reason);
      } finally {
        lock?.release();
      }
    });
  }

  private async doStop(slug: string, stopReason: StopReason): Promise<void> {
    this.running.delete(slug);
    const reason = describeStop(stopReason);
    const tenant = this.deps.store.get(slug);
    const containers = await this.deps.driver.findByLabels(tenantLabels(this.deps.installId, slug));
    const live = containers.filter((c) => c.status === 'running' || c.status === 'restarting' || c.status === 'paused');
    if (tenant && live.length > 0) this.deps.store.setState(slug, { state: 'stopping', reason, records: 'stop' }, this.clock());
    for (const c of live) await this.deps.driver.stop(c.id, this.deps.stopGraceSeconds ?? 10);
    if (tenant) this.deps.store.setState(slug, { state: 'stopped', reason, records: 'stop' }, this.clock());
    if (live.length > 0) this.events.emit('stopped', { slug, reason: stopReason });
    this.deps.logger.info({ tenant: slug, reason, containers: live.length }, 'tenant stopped');
  }

  /** Removes the tenant's containers, its network (tenant scope) and its volumes: the workspace with its sessions, and copy mode's (the tenant is being deleted). */
  async destroy(slug: string): Promise<void> {
    this.running.delete(slug);
    await this.serialize(slug, async () => {
      this.running.delete(slug);
      const lock = await this.lock(slug, 'destroy', this.clock() + this.deps.wakeTimeoutMs);
      try {
        if (lock && this.deps.fence) await this.deps.fence(lock.takenAt + 1);
        for (const c of await this.deps.driver.findByLabels(tenantLabels(this.deps.installId, slug))) {
          await this.deps.driver.remove(c.id, { force: true });
        }
        if (this.deps.driver.networkScope === 'tenant') await this.deps.driver.removeNetwork(tenantNetwork(this.deps.installId, slug, 'tenant').name);
        // Deleting a tenant is the explicit admin call that also deletes its workspace.
        for (const volume of await this.deps.driver.findVolumesByLabels(tenantLabels(this.deps.installId, slug))) await this.deps.driver.removeVolume(volume);
      } finally {
        lock?.release();
      }
    });
  }

  /** Runs `fn` after every earlier operation on the same tenant has settled. */
  private serialize<T>(slug: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.chains.get(slug) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    this.chains.set(slug, next);
    const clear = () => {
      if (this.chains.get(slug) === next) this.chains.delete(slug);
    };
    next.then(clear, clear);
    return next;
  }

  /**
   * Takes the tenant's lock shared with other napbox processes (none: alone),
   * waiting for another process's operation until `deadline`.
   */
  private async lock(slug: string, op: LockOp, deadline: number): Promise<HeldLock | undefined> {
    const locks = this.deps.locks;
    if (!locks) return undefined;
    try {
      const lock = await locks.acquire(slug, op, deadline);
      if (lock.waitedFor) this.deps.logger.debug({ tenant: slug, op, waitedMs: lock.waitedMs, for: lock.waitedFor.op }, 'waited for another napbox process');
      return lock;
    } catch (err) {
      if (!(err instanceof LockTimeoutError)) throw err;
      throw new NapboxError(op === 'wake' ? 'wake_timeout' : 'engine_error', `${err.message} (NAPBOX_WAKE_TIMEOUT)`, {
        retryAfterSeconds: 5,
        details: { tenant: slug },
      });
    }
  }

  /** How long a wake of the tenant may take: its own wakeTimeout, else NAPBOX_WAKE_TIMEOUT. */
  private wakeTimeoutFor(slug: string): number {
    const config = this.deps.store.get(slug)?.config;
    return config ? wakeTimeoutOf(config, this.deps.wakeTimeoutMs) : this.deps.wakeTimeoutMs;
  }

  private async doWake(slug: string, reason: string, options: WakeOptions, started: number, timeoutMs: number): Promise<Running> {
    const known = this.running.get(slug);
    if (known) return known; // woken by the operation queued before this one
    const lock = await this.lock(slug, 'wake', started + timeoutMs);
    try {
      return await this.wakeLocked(slug, reason, options, started, timeoutMs);
    } finally {
      lock?.release();
    }
  }

  private async wakeLocked(slug: string, reason: string, options: WakeOptions, started: number, timeoutMs: number): Promise<Running> {
    // Read after the lock: another process may have just woken it (or failed to).
    const tenant = this.deps.store.require(slug);
    const gate = decideWakeGate(tenant, this.clock());
    if (gate.kind === 'refuse' && !options.force) {
      throw new NapboxError('circuit_open', `tenant ${slug} is not being started after repeated failures; last: ${tenant.stateReason}`, {
        retryAfterSeconds: gate.retryAfterSeconds,
        details: { tenant: slug, retryAt: new Date(gate.retryAt).toISOString() },
      });
    }
    const deadline = started + timeoutMs;
    let startedHere = false;
    let thawedHere = false;
    const starting = (): void => {
      if (startedHere) return;
      startedHere = true;
      this.deps.store.setState(
        slug,
        { state: 'starting', reason, records: 'start', failures: tenant.failures, lastFailureAt: tenant.lastFailureAt, retryAt: tenant.retryAt },
        this.clock(),
      );
    };
    let info: ContainerInfo | undefined;
    try {
      info = await this.bringUp(tenant, starting, () => (thawedHere = true));
      if (!info.running) throw await this.failure(slug, info.id, 'exited before it was ready');
      // The port the container was made with (a changed "port" setting applies from its next container).
      const app = endpointFor(info, appPortOf(info.labels), this.deps.upstream);
      const control = endpointFor(info, CONTROL_PORT, this.deps.upstream);
      if (!app || !control) {
        // A container that exits at once can be seen running, yet without an address (a swarm task's): it failed.
        if (!(await this.deps.driver.inspect(info.id))?.running) throw await this.failure(slug, info.id, 'exited before it was ready');
        throw new NapboxError('wake_failed', `container of ${slug} has no ${this.deps.upstream} address`);
      }
      const containerId = info.id;
      const stillRunning = async (): Promise<boolean> => (await this.deps.driver.inspect(containerId))?.running ?? false;
      let outcome = await waitReady({
        endpoint: control,
        path: '/ready',
        holdMs: READY_HOLD_MS, // the runner answers the moment its app listens (docs/container-contract.md)
        // A tenant's own app may be ready before its runner (launch.sh starts it first): on a bridge address its
        // port accepting is the same fact, noticed without waiting for the runner's start.
        app: tenant.config.app && this.deps.upstream === 'bridge' ? app : undefined,
        deadline,
        now: this.clock,
        stillRunning,
      });
      const readinessPath = tenant.config.readinessPath;
      if (outcome.kind === 'ready' && readinessPath)
        outcome = await waitAnswers({ endpoint: app, path: readinessPath, deadline, now: this.clock, stillRunning });
      if (outcome.kind !== 'ready') {
        throw await this.failure(
          slug,
          containerId,
          outcome.kind === 'exited' ? 'exited before it was ready' : `was not ready within ${formatDuration(timeoutMs)} (${outcome.lastError})`,
          outcome.kind === 'exited' ? 'wake_failed' : 'wake_timeout',
        );
      }
      if (this.clock() > deadline) throw this.timeoutError(slug, timeoutMs);
      // A thawed container's heartbeat and idle clocks start again from here (a fresh grace).
      const running: Running = { slug, containerId, app, control, since: this.clock() };
      // Adopting a container another process (or an earlier napbox) made ready keeps the reason it was started for.
      const adopted = !startedHere && !thawedHere && tenant.state === 'running' && tenant.containerId === containerId;
      if (thawedHere) {
        this.deps.store.setState(
          slug,
          { state: 'running', reason: `thawed: ${reason}`, containerId, failures: 0, retryAt: null, records: 'start' },
          this.clock(),
        );
        this.events.emit('thawed', { slug, ms: this.clock() - started });
      } else if (!adopted) this.deps.store.setState(slug, { state: 'running', reason, containerId, failures: 0, retryAt: null }, this.clock());
      this.running.set(slug, running);
      this.events.emit('ready', running);
      this.events.emit('wakeDone', { slug, outcome: 'ready', ms: this.clock() - started });
      this.deps.logger.info({ tenant: slug, containerId: containerId.slice(0, 12), reason, ms: this.clock() - started }, 'tenant ready');
      return running;
    } catch (err) {
      const error =
        err instanceof NapboxError ? err : new NapboxError('wake_failed', `tenant ${slug} could not be started: ${(err as Error).message}`, { cause: err });
      // An engine that does not answer, or a machine at a limit, is not the tenant's fault: it opens no breaker.
      const engineDown = error.code === 'engine_unreachable' || error.code === 'capacity';
      // Below NAPBOX_BREAKER_FAILURES in the window the circuit stays closed (retryAt null): the next request tries again.
      const opened = engineDown ? tenant : afterFailure(tenant, this.clock(), this.breaker, started);
      const retryAt = engineDown ? this.clock() + 2000 : (opened.retryAt ?? this.clock() + 1000);
      this.deps.store.setState(
        slug,
        {
          state: 'failed',
          reason: error.message,
          records: 'start',
          failures: opened.failures,
          lastFailureAt: opened.lastFailureAt,
          retryAt: opened.retryAt,
        },
        this.clock(),
      );
      this.deps.logger.warn({ tenant: slug, err: error.message, failures: opened.failures }, 'wake failed');
      this.events.emit('wakeDone', { slug, outcome: error.code === 'wake_timeout' ? 'timeout' : 'failed', ms: this.clock() - started });
      if (info?.id) await this.deps.driver.stop(info.id, 1).catch(() => undefined); // failed means not running
      const code = error.code === 'engine_unreachable' || error.code === 'capacity' || error.code === 'wake_timeout' ? error.code : 'wake_failed';
      throw new NapboxError(code, error.message, {
        cause: error.cause ?? error,
        retryAfterSeconds: Math.max(1, Math.ceil((retryAt - this.clock()) / 1000)),
        // What failed first: a container that started and died (the tenant's) or the engine (not the tenant's).
        details: { tenant: slug, failedAs: error.code, ...(error.details ?? {}) },
      });
    }
  }

  /** Finds the tenant's container (or makes it) and starts it; `starting` is called before anything is changed in the engine. */
  private async bringUp(tenant: Tenant, starting: () => void, thawing: () => void): Promise<ContainerInfo> {
    const { driver, installId } = this.deps;
    const prepared = this.deps.prepareMounts?.(tenant.slug, tenant.config);
    const spec = buildContainerSpec({
      installId,
      slug: tenant.slug,
      config: tenant.config,
      image: tenant.image ?? this.deps.baseImage,
      publish: this.deps.upstream === 'published',
      channelKey: this.deps.store.channelKey(tenant.slug),
      mounts: prepared?.mounts ?? [],
      files: prepared?.files ?? [],
      heartbeatMs: this.deps.heartbeatMs ?? 5000,
      networkScope: driver.networkScope,
    });
    const found = await driver.findByLabels(tenantLabels(installId, tenant.slug));
    let current = found.find((c) => c.status === 'running' || c.status === 'paused') ?? found[0];
    if ((current?.status !== 'running' && current?.status !== 'paused') || found.length > 1) starting();
    else if (current.status === 'paused') thawing();
    for (const extra of found) {
      if (extra !== current) await driver.remove(extra.id, { force: true }); // never two per tenant
    }
    if (current && current.status !== 'running' && current.status !== 'paused' && current.labels[LABEL_SPEC] !== spec.labels[LABEL_SPEC]) {
      await driver.remove(current.id, { force: true }); // out of date: recreate from the current spec
      current = undefined;
    }
    let id = current?.id;
    if (!id) {
      await driver.ensureNetwork(tenantNetwork(installId, tenant.slug, driver.networkScope));
      try {
        id = (await driver.create(spec)).id;
      } catch (err) {
        if (!(err instanceof NapboxError && err.code === 'conflict')) throw err;
        const raced = await driver.findByLabels(tenantLabels(installId, tenant.slug));
        id = raced[0]?.id;
        if (!id) throw err;
      }
    }
    if (current?.status === 'paused')
      await driver.unpause(id); // paused by napbox (or by hand): thawed, in tens of ms
    else if (current?.status !== 'running') await driver.start(id);
    const info = await driver.inspect(id);
    if (!info) throw new NapboxError('wake_failed', `container of ${tenant.slug} disappeared while starting`);
    return info;
  }

  /** An error describing why the container did not become ready: exit code, OOM, last log lines. */
  private async failure(slug: string, containerId: string, what: string, code: 'wake_failed' | 'wake_timeout' = 'wake_failed'): Promise<NapboxError> {
    const info = await this.deps.driver.inspect(containerId).catch(() => undefined);
    const logs = await this.deps.driver.logs(containerId, { tail: LOG_LINES }).catch(() => '');
    const exit = info && !info.running ? `; exit code ${info.exitCode}${info.oomKilled ? ' (killed: out of memory)' : ''}` : '';
    const tail = logs.trim().slice(-2000);
    return new NapboxError(code, `tenant ${slug}: container ${what}${exit}${tail ? `; last log lines:\n${tail}` : ''}`, {
      details: { exitCode: info?.exitCode ?? null, logs: tail },
    });
  }

  private timeoutError(slug: string, timeoutMs: number): NapboxError {
    const setting = timeoutMs === this.deps.wakeTimeoutMs ? 'NAPBOX_WAKE_TIMEOUT' : 'its wakeTimeout setting';
    return new NapboxError('wake_timeout', `tenant ${slug} was not ready within ${formatDuration(timeoutMs)} (${setting})`, {
      retryAfterSeconds: 5,
      details: { tenant: slug },
    });
  }
}

/** Settles with `promise`, or rejects with `onTimeout()` after `ms`, whichever comes first. */
function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(onTimeout()), ms);
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
