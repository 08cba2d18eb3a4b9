// The build queue: turns "tenant T wants these package lists" into a tenant
// image, one engine build at a time per tenant and at most `concurrency`
// builds at once, and applies each result through BuildStore.finish.
//
// Invariants:
// - The newest request of a tenant wins. A queued build it replaces is failed
//   as superseded and never built; a running one finishes (its image stays,
//   for prune to judge) but is not applied.
// - One engine build per tag: requests for an image that is being built (by
//   any tenant) join that build and share its log; a tag the engine already
//   has is ready at once, with no build (the cached path).
// - A queued build waits `settleMs` before it starts, so two requests in a row
//   build only the newest list.
// - Builds belong to the queue, not to whoever asked: a caller that goes away
//   cancels nothing. Every engine call is async (dockerode streams), so a
//   build never blocks the event loop.
// - The log file is closed before the build's state becomes final.

import { EventEmitter } from 'node:events';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import pino from 'pino';
import type { Logger } from '../log.js';
import type { ImageDriver } from '../runtime/container-driver.js';
import { NapboxError, asNapboxError } from '../errors.js';
import { isEmpty, parsePackageLists, type PackageLists } from './packages.js';
import { hashOfTag, prepareTenantBuildContext, tenantImageLabels, tenantImageTag } from './tenant-image.js';
import type { Build, BuildStore } from './build-store.js';
import { BuildLog, describeFailure, showMs } from './build-log.js';

export interface BuildQueueOptions {
  readonly driver: ImageDriver;
  readonly store: BuildStore;
  readonly installId: string;
  /** The base agent image tag to build FROM (e.g. `requireAgentImage(...)`). */
  readonly baseImage: () => Promise<string>;
  /**
   * A build the tenant still wants is ready: switch the tenant to `tag` (null:
   * the base agent image, for empty lists). Runs synchronously inside the
   * transaction that marks the build ready; throwing rolls that back and the
   * build is failed with the error.
   */
  readonly onReady: (tenant: string, tag: string | null, buildId: string) => void;
  /** A build the tenant still wants failed; the tenant keeps its image. Same transaction rules. */
  readonly onFailed: (tenant: string, buildId: string, error: string) => void;
  /** Engine builds running at once (different tenants). Default 2. */
  readonly concurrency?: number;
  /** How long a queued build waits for a newer request before it starts. Default 1000 ms. */
  readonly settleMs?: number;
  /** A build still running after this long is stopped and failed. Default 20 minutes. */
  readonly buildTimeoutMs?: number;
  readonly now?: () => number;
  readonly newId?: () => string;
  readonly logger?: Logger;
  /** Where build context folders are made. */
  readonly tmpDir?: string;
}

export type BuildEvent = { readonly kind: 'log'; readonly buildId: string; readonly line: string } | { readonly kind: 'state'; readonly build: Build };

export interface LogChunk {
  readonly text: string;
  /** Where the next read starts. */
  readonly nextOffset: number;
  /** The build has ended and every byte of its log has been read. */
  readonly done: boolean;
}

/** One engine build of one tag, shared by every build row that wants it. */
interface Job {
  readonly tag: string;
  readonly baseTag: string;
  readonly lists: PackageLists;
  readonly logPath: string;
  readonly notBefore: number;
  readonly rows: Set<string>;
  state: 'queued' | 'building';
  startedAt: number | null;
}

const MAX_CHUNK = 256 * 1024;

export class BuildQueue {
  private readonly driver: ImageDriver;
  private readonly store: BuildStore;
  private readonly installId: string;
  private readonly baseImage: () => Promise<string>;
  private readonly hooks: Pick<BuildQueueOptions, 'onReady' | 'onFailed'>;
  private readonly concurrency: number;
  private readonly settleMs: number;
  private readonly buildTimeoutMs: number;
  private readonly now: () => number;
  private readonly newId: () => string;
  private readonly log: Logger;
  private readonly tmpDir: string;

  private readonly jobs = new Map<string, Job>();
  private readonly events = new EventEmitter();
  private running = 0;
  private timer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private readonly lanes = new Map<string, Promise<Build>>();

  constructor(options: BuildQueueOptions) {
    this.driver = options.driver;
    this.store = options.store;
    this.installId = options.installId;
    this.baseImage = options.baseImage;
    this.hooks = { onReady: options.onReady, onFailed: options.onFailed };
    this.concurrency = Math.max(1, options.concurrency ?? 2);
    this.settleMs = Math.max(0, options.settleMs ?? 1000);
    this.buildTimeoutMs = options.buildTimeoutMs ?? 20 * 60_000;
    this.now = options.now ?? Date.now;
    this.newId = options.newId ?? (() => `b_${crypto.randomBytes(8).toString('hex')}`);
    this.log = options.logger ?? pino({ level: 'silent' });
    this.tmpDir = options.tmpDir ?? os.tmpdir();
    this.events.setMaxListeners(0);
  }

  /**
   * Stores the tenant's lists and asks for its image. Refuses a bad list whole
   * ('bad_request', nothing stored). Resolves with the build as soon as it is
   * queued, joined or (cached, empty lists) ready; it does not wait for the build.
   */
  async request(tenant: string, input: unknown): Promise<Build> {
    const lists = parsePackageLists(input);
    // Requests of one tenant are decided in the order they came, so "newest" means the last one asked.
    const next = (this.lanes.get(tenant) ?? Promise.resolve()).catch(() => undefined).then(() => this.decide(tenant, lists));
    this.lanes.set(tenant, next);
    try {
      return await next;
    } finally {
      if (this.lanes.get(tenant) === next) this.lanes.delete(tenant);
    }
  }

  private async decide(tenant: string, lists: PackageLists): Promise<Build> {
    if (!this.store.tenantExists(tenant)) throw new NapboxError('not_found', `no tenant ${tenant}: create it with \`napbox tenants add ${tenant}\``);
    const baseTag = await this.baseImage();
    const base = await this.driver.inspectImage(baseTag);
    if (!base) throw new NapboxError('not_found', `the base agent image ${baseTag} is missing: run \`npm run setup\``);
    const tag = isEmpty(lists) ? null : tenantImageTag(base.id, lists, this.installId);
    await this.store.ensureLogDir();
    const exists = tag === null || (!this.jobs.has(tag) && (await this.driver.inspectImage(tag)) !== undefined);
    const freshId = this.newId();
    if (exists) {
      // Written before the row exists, so a reader never sees a ready build without its log.
      const what = tag === null ? 'no packages: the tenant runs the base agent image' : `${tag} already exists: nothing to build`;
      await fs.promises.writeFile(this.store.logPathFor(freshId), `napbox: ${what}\n`, { mode: 0o600 });
    }

    // From here to the end of the transaction nothing awaits: the decision and its writes are one step.
    // Changes to the in-memory jobs wait in `effects` until the transaction has committed.
    const changed: string[] = [];
    const effects: Array<() => void> = [];
    const build = this.store.transaction(() => {
      const open = this.store.listOpen(tenant);
      const same = tag === null ? undefined : open.find((b) => b.tag === tag && this.jobs.get(tag)?.rows.has(b.id));
      const id = same?.id ?? freshId;
      this.replaceOthers(open, id, changed, effects);
      if (same) {
        this.store.want(tenant, lists, same.id, this.now());
        return this.store.require(same.id);
      }
      const job = tag === null ? undefined : this.jobs.get(tag);
      const logPath = job?.logPath ?? this.store.logPathFor(id);
      const row = { id, tenant, tag, baseImage: baseTag, lists };
      if (job) {
        this.store.insert({ ...row, state: job.state, startedAt: job.startedAt }, logPath, this.now());
        effects.push(() => job.rows.add(id));
      } else if (exists) {
        this.store.insert({ ...row, state: 'building', startedAt: this.now(), cached: true }, logPath, this.now());
      } else {
        this.store.insert({ ...row, state: 'queued' }, logPath, this.now());
        const fresh: Job = { tag: tag!, baseTag, lists, logPath, notBefore: this.now() + this.settleMs, rows: new Set([id]), state: 'queued', startedAt: null };
        effects.push(() => this.jobs.set(fresh.tag, fresh));
      }
      this.store.want(tenant, lists, id, this.now());
      // The cached path: ready and applied in this same transaction (a throwing onReady undoes the request).
      if (!job && exists) return this.store.finish(id, { state: 'ready' }, this.now(), this.hooks);
      return this.store.require(id);
    });
    for (const effect of effects) effect();
    if (build.id !== freshId && exists) await fs.promises.rm(this.store.logPathFor(freshId), { force: true });

    for (const id of changed) this.emitState(id);
    this.emitState(build.id);
    this.log.info({ tenant, build: build.id, tag: build.tag, state: build.state, cached: build.cached }, 'build requested');
    this.checkIdle();
    this.schedule();
    return build;
  }

  get(id: string): Build | undefined {
    return this.store.get(id);
  }

  require(id: string): Build {
    return this.store.require(id);
  }

  /** Resolves with the build once it is ready or failed. */
  async wait(id: string): Promise<Build> {
    for (;;) {
      const build = this.store.require(id);
      if (build.state === 'ready' || build.state === 'failed') return build;
      await new Promise<void>((resolve) => {
        const off = this.subscribe(id, (event) => {
          if (event.kind === 'state') {
            off();
            resolve();
          }
        });
      });
    }
  }

  /** Reads the build's log from `offset`; while it runs, only whole lines. */
  async readLog(id: string, offset = 0, maxBytes = MAX_CHUNK): Promise<LogChunk> {
    const build = this.store.require(id);
    const final = build.state === 'ready' || build.state === 'failed';
    let handle: fs.promises.FileHandle;
    try {
      handle = await fs.promises.open(build.logPath, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { text: '', nextOffset: offset, done: final };
      throw err;
    }
    try {
      const size = (await handle.stat()).size;
      const want = Math.max(0, Math.min(size - offset, maxBytes));
      const buffer = Buffer.alloc(want);
      const { bytesRead } = await handle.read(buffer, 0, want, offset);
      let bytes = buffer.subarray(0, bytesRead);
      const lastNewline = bytes.lastIndexOf(0x0a);
      // Whole lines only, unless this is the end of a finished log (or a single line longer than a chunk).
      if ((!final || offset + bytesRead < size) && lastNewline !== -1) bytes = bytes.subarray(0, lastNewline + 1);
      else if (!final && lastNewline === -1 && bytesRead < maxBytes) bytes = bytes.subarray(0, 0);
      const nextOffset = offset + bytes.length;
      return { text: bytes.toString('utf8'), nextOffset, done: final && nextOffset >= size };
    } finally {
      await handle.close();
    }
  }

  /** Live events of one build: each log line as it is written, and each change of state. */
  subscribe(id: string, listener: (event: BuildEvent) => void): () => void {
    this.events.on(id, listener);
    return () => this.events.off(id, listener);
  }

  /**
   * The log from `offset` as it grows, and the build's state whenever it
   * changes, until the build has ended and all of its log was given. For
   * streaming to a client; stopping the iteration (or `signal`) stops only
   * the reading, never the build.
   */
  async *follow(id: string, offset = 0, signal?: AbortSignal): AsyncGenerator<{ kind: 'log'; text: string; offset: number } | { kind: 'state'; build: Build }> {
    let wake: (() => void) | undefined;
    let dirty = false;
    const poke = () => {
      dirty = true;
      wake?.();
    };
    const off = this.subscribe(id, poke);
    signal?.addEventListener('abort', poke);
    let lastState: string | undefined;
    try {
      while (!signal?.aborted) {
        dirty = false;
        const chunk = await this.readLog(id, offset);
        if (chunk.text) yield { kind: 'log', text: chunk.text, offset };
        offset = chunk.nextOffset;
        const build = this.store.require(id);
        if (build.state !== lastState) {
          lastState = build.state;
          yield { kind: 'state', build };
        }
        if (chunk.done) return;
        if (!chunk.text && !dirty) {
          await new Promise<void>((resolve) => {
            wake = resolve;
            setTimeout(resolve, 1000).unref(); // a safety net; events normally wake it
          });
          wake = undefined;
        }
      }
    } finally {
      off();
      signal?.removeEventListener('abort', poke);
    }
  }

  /** Tags that queued or running builds target: prune must keep them. */
  activeTags(): string[] {
    return [...this.jobs.keys()];
  }

  /** Resolves when no build is queued or running. */
  idle(): Promise<void> {
    if (this.jobs.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * At start-up: builds left queued or building by an earlier process can no
   * longer finish. They are failed (the tenant keeps its image, and is told
   * why through onFailed); asking for the packages again builds them.
   */
  recover(): Build[] {
    const stale = this.store.listOpen().filter((b) => b.tag === null || !this.jobs.has(b.tag));
    for (const b of stale) this.end(b.id, { state: 'failed', error: 'napbox stopped during this build: ask for the packages again to build them' });
    return stale.map((b) => this.store.require(b.id));
  }

  /** Supersedes the tenant's other open builds by `by`: queued ones never build, a running one is not applied. */
  private replaceOthers(open: readonly Build[], by: string, changed: string[], effects: Array<() => void>): void {
    for (const old of open) {
      if (old.id === by) continue;
      changed.push(old.id);
      const job = old.tag === null ? undefined : this.jobs.get(old.tag);
      if (old.state === 'queued') {
        this.store.supersede(old.id, by, this.now());
        effects.push(() => {
          job?.rows.delete(old.id);
          if (job && job.state === 'queued' && job.rows.size === 0) this.jobs.delete(job.tag);
        });
      } else {
        this.store.markSuperseded(old.id, by);
      }
    }
  }

  private schedule(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const now = this.now();
    let nextAt = Infinity;
    const busy = new Set<string>();
    for (const job of this.jobs.values()) if (job.state === 'building') for (const id of job.rows) busy.add(this.store.require(id).tenant);
    for (const job of this.jobs.values()) {
      if (this.running >= this.concurrency) break;
      if (job.state !== 'queued') continue;
      if (job.notBefore > now) {
        nextAt = Math.min(nextAt, job.notBefore);
        continue;
      }
      // Another napbox process on the same database may have superseded a row since (docs/scale-out.md): not built.
      const rows = [...job.rows].map((id) => this.store.require(id));
      for (const row of rows) if (row.state !== 'queued') job.rows.delete(row.id);
      if (job.rows.size === 0) {
        this.jobs.delete(job.tag);
        continue;
      }
      const tenants = rows.filter((row) => job.rows.has(row.id)).map((row) => row.tenant);
      if (tenants.some((t) => busy.has(t))) continue; // one build at a time per tenant; it is scheduled again when that one ends
      for (const t of tenants) busy.add(t);
      this.start(job);
    }
    if (nextAt !== Infinity && this.running < this.concurrency) this.timer = setTimeout(() => this.schedule(), Math.max(0, nextAt - now));
  }

  private start(job: Job): void {
    job.state = 'building';
    job.startedAt = this.now();
    this.running += 1;
    this.store.markBuilding([...job.rows], job.startedAt);
    for (const id of job.rows) this.emitState(id);
    this.run(job)
      .catch((err: unknown) => {
        // Not a build failure (those are outcomes) but a bug: still end the job, so its tag is not stuck.
        this.log.error({ err, tag: job.tag }, 'build queue error');
        if (this.jobs.get(job.tag) !== job) return;
        this.jobs.delete(job.tag);
        for (const id of job.rows) this.end(id, { state: 'failed', error: `internal error while building: ${asNapboxError(err).message}` });
        this.checkIdle();
      })
      .finally(() => {
        this.running -= 1;
        this.schedule();
      });
  }

  private async run(job: Job): Promise<void> {
    const started = this.now();
    const log = new BuildLog(job.logPath, (line) => {
      for (const id of job.rows) this.events.emit(id, { kind: 'log', buildId: id, line } satisfies BuildEvent);
    });
    log.line(`napbox: building ${job.tag} from ${job.baseTag}`);
    log.line(`napbox: apt: ${job.lists.apt.join(' ') || '(none)'}; npm: ${job.lists.npm.join(' ') || '(none)'}`);
    this.log.info({ tag: job.tag, builds: [...job.rows] }, 'build started');
    let outcome: { state: 'ready' } | { state: 'failed'; error: string };
    let context: string | undefined;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), this.buildTimeoutMs);
    try {
      context = await prepareTenantBuildContext(job.baseTag, job.lists, this.tmpDir);
      await this.driver.buildImage({
        contextDir: context,
        dockerfile: 'Dockerfile',
        tag: job.tag,
        labels: tenantImageLabels(this.installId, hashOfTag(job.tag)),
        buildArgs: {},
        onLog: (line) => log.line(line),
        signal: deadline.signal,
      });
      outcome = { state: 'ready' };
    } catch (err) {
      const timedOut = deadline.signal.aborted;
      const message = timedOut ? `the build ran longer than ${showMs(this.buildTimeoutMs)} and was stopped` : asNapboxError(err).message;
      outcome = { state: 'failed', error: describeFailure(message, log.recent) };
    } finally {
      clearTimeout(timer);
      if (context) await fs.promises.rm(context, { recursive: true, force: true }).catch(() => undefined);
    }
    const seconds = ((this.now() - started) / 1000).toFixed(1);
    log.line(outcome.state === 'ready' ? `napbox: built ${job.tag} in ${seconds}s` : `napbox: build failed after ${seconds}s: ${outcome.error}`);
    await log.close();
    this.log.info({ tag: job.tag, state: outcome.state, seconds: Number(seconds) }, 'build ended');

    this.jobs.delete(job.tag);
    for (const id of job.rows) this.end(id, outcome);
    this.checkIdle();
  }

  private checkIdle(): void {
    if (this.jobs.size === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
  }

  /** Ends a build row through the store (applying it if still wanted) and tells its subscribers. */
  private end(id: string, outcome: { state: 'ready' } | { state: 'failed'; error: string }): void {
    try {
      const build = this.store.finish(id, outcome, this.now(), this.hooks);
      if (build.state === 'failed' && build.supersededBy === null) this.log.warn({ tenant: build.tenant, build: id, error: build.error }, 'build failed');
    } catch (err) {
      this.log.error({ err, build: id }, 'applying a build failed');
      const error = `the build ended ${outcome.state}, but applying it to the tenant failed: ${asNapboxError(err).message}`;
      try {
        this.store.finish(id, { state: 'failed', error }, this.now(), this.hooks);
      } catch {
        this.store.fail(id, error, this.now());
      }
    }
    this.emitState(id);
  }

  private emitState(id: string): void {
    const build = this.store.get(id);
    if (build) this.events.emit(id, { kind: 'state', build } satisfies BuildEvent);
  }
}
