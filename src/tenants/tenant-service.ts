// Tenant administration: create, read, delete, as the admin API and CLI see
// it. Validates every input before anything is written, and shapes tenants
// for output (never with secrets).
// A view's `image` is what the tenant's container runs while it has one up
// (running or paused: the engine's word, learned once per container, since a
// container's image never changes), else what its next start would use;
// `nextImage` is said only when the next start would use another.

import { z } from 'zod';
import { NapboxError } from '../errors.js';
import { assertSlug } from '../model/slug.js';
import { TenantConfigSchema, publicConfig, type TenantConfig } from '../model/tenant-config.js';
import type { ActivityTracker } from './activity.js';
import type { WakeHistory, WakeRecord } from './wake-history.js';
import type { Lifecycle } from './lifecycle.js';
import type { Tenant, TenantStore } from './tenant-store.js';
import type { TenantEvents } from './tenant-events.js';

export const CreateTenantSchema = z
  .object({ slug: z.string().max(100) })
  .extend(TenantConfigSchema.shape)
  .strict();
export type CreateTenant = z.infer<typeof CreateTenantSchema>;

const settings = TenantConfigSchema.shape;
/** PATCH's body: the settings it changes; a setting given as null is removed (back to its default, like the built-in page for `app`). */
export const ConfigChangesSchema = z
  .object(
    Object.fromEntries(Object.entries(settings).map(([key, schema]) => [key, schema.nullable()])) as {
      [K in keyof typeof settings]: z.ZodNullable<(typeof settings)[K]>;
    },
  )
  .strict();
type ConfigChanges = z.infer<typeof ConfigChangesSchema>;

/** A tenant's newest image build: its id, state and why it failed. */
export interface BuildSummary {
  readonly id: string;
  readonly state: string;
  readonly error: string | null;
}

export interface TenantView {
  readonly slug: string;
  readonly state: string;
  readonly reason: string;
  readonly stateChangedAt: string;
  readonly lastStartReason: string | null;
  readonly lastStopReason: string | null;
  readonly lastActivity: string | null;
  readonly lastHeartbeat: string | null;
  /** The image its container runs (running or paused), else the one its next start uses. */
  readonly image: string;
  /** The image its next start would use, when that is not `image` (a build finished, the agent image changed). */
  readonly nextImage?: string;
  readonly containerId: string | null;
  readonly failures: number;
  readonly retryAt: string | null;
  /** What keeps it awake now (requests, websockets, messages, leases); empty when nothing does. */
  readonly holds: readonly string[];
  /** While paused: since when, and the memory its frozen container keeps (bytes; null when the engine did not say). */
  readonly paused: { readonly since: string; readonly memoryBytes: number | null } | null;
  readonly url: string;
  readonly build: BuildSummary | null;
  /** The last few wakes: when, how long to ready (ms), and how each ended. */
  readonly recentWakes: readonly WakeRecord[];
  readonly config: Record<string, unknown>;
}

const iso = (ms: number | null): string | null => (ms === null || ms === 0 ? null : new Date(ms).toISOString());

export interface TenantServiceDeps {
  readonly store: TenantStore;
  readonly lifecycle: Lifecycle;
  readonly activity: ActivityTracker;
  readonly baseImage: string;
  readonly tenantUrl: (slug: string) => string;
  readonly holds: (slug: string) => string[];
  /** Why each extra mount would be refused by the allowlist now. */
  readonly mountRefusals: (requests: NonNullable<TenantConfig['mounts']>) => string[];
  /** Each tenant's newest image build (only `slug`'s when given), read in one query. */
  readonly lastBuilds: (slug?: string) => ReadonlyMap<string, BuildSummary>;
  readonly wakes?: WakeHistory;
  readonly clock?: () => number;
  /** Takes a deleted tenant's files off the host (groups/ folder archived, napbox's files removed). */
  readonly removeFiles?: (slug: string) => void;
  /** Where it says that a tenant's settings changed (a tenant now private: connections that skip per-request checks close). */
  readonly events?: TenantEvents;
  /** The image a container was created from (the engine's inspect); undefined when it is gone. Absent: views show the configured image. */
  readonly containerImage?: (containerId: string) => Promise<string | undefined>;
}

/** How long a read of the API waits for the engine to say which image a container runs, before it answers without. */
const IMAGE_WAIT_MS = 2000;
const IMAGE_RETRY_MS = 10_000;

export class TenantService {
  private readonly clock: () => number;
  /** Container id -> the image it was created from: learned once per container, kept while a tenant's container has that id. */
  private readonly containerImages = new Map<string, string>();
  private readonly learning = new Map<string, { readonly done: Promise<void>; readonly since: number }>();
  /** Container id -> when the engine last failed to say (it is asked again IMAGE_RETRY_MS later, not on every view). */
  private readonly unanswered = new Map<string, number>();

  constructor(private readonly deps: TenantServiceDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  create(input: CreateTenant): TenantView {
    const slug = assertSlug(input.slug);
    const { slug: _ignored, ...config } = input;
    const parsed = TenantConfigSchema.parse(config);
    this.checkMounts(parsed);
    return this.view(this.deps.store.create(slug, parsed, this.clock()), null); // a new tenant has no build yet
  }

  /** Changes some settings; the tenant's next container uses them (a running one keeps its own until it stops). */
  update(slugInput: string, changes: ConfigChanges): TenantView {
    const slug = assertSlug(slugInput);
    const tenant = this.deps.store.require(slug);
    // Top-level merge: a setting given replaces the stored one whole (limits too); null removes it.
    const merged: Record<string, unknown> = { ...tenant.config };
    for (const [key, value] of Object.entries(changes)) {
      if (value === null) delete merged[key];
      else if (value !== undefined) merged[key] = value;
    }
    const next = TenantConfigSchema.parse(merged);
    this.checkMounts(next);
    this.deps.store.updateConfig(slug, next);
    this.deps.events?.emit('changed', { slug, visibility: next.visibility ?? 'public' });
    return this.get(slug);
  }

  /** Replaces all settings (groups/<slug>/tenant.json owns them); used from the tenant's next container. */
  replaceConfig(slugInput: string, config: TenantConfig): void {
    const slug = assertSlug(slugInput);
    this.deps.store.require(slug);
    const parsed = TenantConfigSchema.parse(config);
    this.checkMounts(parsed);
    this.deps.store.updateConfig(slug, parsed);
    this.deps.events?.emit('changed', { slug, visibility: parsed.visibility ?? 'public' });
  }

  /** Refuses a config whose extra mounts the allowlist refuses, saying why for each. */
  checkMounts(config: TenantConfig): void {
    const refused = this.deps.mountRefusals(config.mounts ?? []);
    if (refused.length) throw new NapboxError('bad_request', `mount refused: ${refused.join('; ')}`);
  }

  list(): TenantView[] {
    const builds = this.deps.lastBuilds();
    const tenants = this.deps.store.list();
    const current = new Set(tenants.map((t) => t.containerId));
    for (const id of this.containerImages.keys()) if (!current.has(id)) this.containerImages.delete(id);
    for (const id of this.unanswered.keys()) if (!current.has(id)) this.unanswered.delete(id);
    return tenants.map((t) => this.view(t, builds.get(t.slug) ?? null));
  }

  /**
   * Asks the engine which image the containers of running or paused tenants (only `slug`'s when given) run,
   * for those not known yet; waits at most IMAGE_WAIT_MS (a view without it shows the configured image).
   */
  async learnImages(slug?: string): Promise<void> {
    const tenants = slug === undefined ? this.deps.store.list() : [this.deps.store.get(slug)].filter((t) => t !== undefined);
    const pending = tenants.map((t) => this.learn(t)).filter((p) => p !== undefined);
    if (pending.length === 0) return;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(pending), new Promise<void>((resolve) => (timer = setTimeout(resolve, IMAGE_WAIT_MS)))]);
    clearTimeout(timer);
  }

  /** Starts learning the image of the tenant's container when it is up and not known yet; the learning under way, if any. */
  private learn(tenant: Tenant): Promise<void> | undefined {
    const id = tenant.containerId;
    const inspect = this.deps.containerImage;
    if (!inspect || !id || (tenant.state !== 'running' && tenant.state !== 'paused') || this.containerImages.has(id)) return undefined;
    if (this.clock() - (this.unanswered.get(id) ?? Number.NEGATIVE_INFINITY) < IMAGE_RETRY_MS) return undefined;
    const under = this.learning.get(id);
    // An inspect the engine has not answered for IMAGE_WAIT_MS is not waited for again: every view would pay for it.
    if (under) return this.clock() - under.since < IMAGE_WAIT_MS ? under.done : undefined;
    const done = inspect(id)
      .then((image) => {
        if (image) this.containerImages.set(id, image);
        this.unanswered.delete(id);
      })
      .catch(() => void this.unanswered.set(id, this.clock())) // the view shows the configured image meanwhile
      .finally(() => this.learning.delete(id));
    this.learning.set(id, { done, since: this.clock() });
    return done;
  }

  get(slug: string): TenantView {
    const tenant = this.deps.store.require(assertSlug(slug));
    return this.view(tenant, this.deps.lastBuilds(tenant.slug).get(tenant.slug) ?? null);
  }

  async remove(slug: string): Promise<void> {
    this.deps.store.require(assertSlug(slug));
    await this.deps.lifecycle.destroy(slug);
    this.deps.activity.forget(slug);
    this.deps.wakes?.forget(slug);
    if (!this.deps.store.remove(slug)) throw new NapboxError('not_found', `no tenant ${slug}`);
    this.deps.removeFiles?.(slug);
  }

  private view(tenant: Tenant, build: BuildSummary | null): TenantView {
    const activity = this.deps.activity.get(tenant.slug);
    const lastActivity = Math.max(tenant.lastActivity ?? 0, activity?.lastActivity ?? 0);
    const next = tenant.image ?? this.deps.baseImage;
    const up = (tenant.state === 'running' || tenant.state === 'paused') && tenant.containerId !== null;
    if (up) void this.learn(tenant); // for the next view (the live feed's next tick), when not known yet
    const image = (up && tenant.containerId !== null ? this.containerImages.get(tenant.containerId) : undefined) ?? next;
    return {
      slug: tenant.slug,
      state: tenant.state,
      reason: tenant.stateReason,
      stateChangedAt: new Date(tenant.stateChangedAt).toISOString(),
      lastStartReason: tenant.lastStartReason,
      lastStopReason: tenant.lastStopReason,
      lastActivity: iso(lastActivity),
      lastHeartbeat: iso(tenant.lastHeartbeat),
      image,
      ...(image === next ? {} : { nextImage: next }),
      containerId: tenant.containerId,
      failures: tenant.failures,
      retryAt: iso(tenant.retryAt),
      holds: tenant.state === 'running' ? this.deps.holds(tenant.slug) : [],
      paused: tenant.state === 'paused' ? { since: new Date(tenant.stateChangedAt).toISOString(), memoryBytes: tenant.pausedMemory } : null,
      url: this.deps.tenantUrl(tenant.slug),
      build,
      recentWakes: this.deps.wakes?.recent(tenant.slug) ?? [],
      config: publicConfig(tenant.config),
    };
  }
}
