// Per-tenant images as the admin API sees them: the stored package lists, a
// PUT that starts (or reuses) a build, a build's state and log, and prune.
// A ready image becomes the tenant's in the same transaction that marks the
// build ready (BuildQueue's onReady); the tenant runs on it from its next
// container: after its next idle stop, or at once when the admin asked
// `apply=now` (a stop that requeues any message in flight, then the next
// request or message wakes it on the new image).

import type { IncomingMessage, ServerResponse } from 'node:http';
import { NapboxError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ImageDriver } from '../runtime/container-driver.js';
import type { Lifecycle } from '../tenants/lifecycle.js';
import { assertSlug } from '../model/slug.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { NODE_BASE_TAG } from './agent-image.js';
import { BuildQueue } from './build-queue.js';
import { buildView, isBuildId, type BuildStore, type BuildView } from './build-store.js';
import { EMPTY_PACKAGES, type PackageLists } from './packages.js';
import { pruneImages, type PruneReport } from './prune.js';
import type { BuildSummary } from '../tenants/tenant-service.js';

export interface ImageAdminDeps {
  /** The builds and their logs (the composition root opens it on napbox's database). */
  readonly buildStore: BuildStore;
  readonly driver: ImageDriver;
  readonly store: TenantStore;
  readonly lifecycle: Lifecycle;
  readonly installId: string;
  readonly baseImage: string;
  readonly logger: Logger;
  /**
   * Marks builds left open by a stopped napbox failed (default true). False
   * when another napbox process shares the data dir: the open builds may be
   * its own, running (docs/scale-out.md).
   */
  readonly recoverInterrupted?: boolean;
  /** Told of each finished build (metrics). */
  readonly onBuildDone?: (outcome: 'ready' | 'failed', seconds: number | null) => void;
}

/** A tenant's package lists, image and latest build, as the API shows them (api/answers.ts holds its schema). */
export interface PackagesView extends PackageLists {
  readonly tenant: string;
  readonly image: string;
  readonly previousImage: string | null;
  readonly build: BuildView | null;
}

export class ImageAdmin {
  readonly builds: BuildQueue;
  private readonly buildStore: BuildStore;
  private readonly applyNow = new Set<string>();

  constructor(private readonly deps: ImageAdminDeps) {
    this.buildStore = deps.buildStore;
    this.builds = new BuildQueue({
      driver: deps.driver,
      store: this.buildStore,
      installId: deps.installId,
      baseImage: async () => deps.baseImage,
      logger: deps.logger,
      onReady: (tenant, tag, buildId) => {
        deps.store.setImage(tenant, tag);
        this.reportDone(buildId, 'ready');
        if (this.applyNow.delete(tenant)) setImmediate(() => void this.restart(tenant, buildId));
      },
      onFailed: (tenant, buildId, error) => {
        this.applyNow.delete(tenant);
        this.reportDone(buildId, 'failed');
        deps.logger.warn({ tenant, build: buildId, error }, 'image build failed; the tenant keeps its image');
      },
    });
  }

  /** Marks the builds a stopped napbox left open failed (unless another process may be running them). */
  start(): void {
    const recovered = this.deps.recoverInterrupted === false ? [] : this.builds.recover();
    if (recovered.length) this.deps.logger.info({ builds: recovered.map((b) => b.id) }, 'builds interrupted by a restart marked failed');
  }

  private reportDone(buildId: string, outcome: 'ready' | 'failed'): void {
    const build = this.builds.get(buildId);
    const seconds = build?.startedAt ? (Date.now() - build.startedAt) / 1000 : null;
    this.deps.onBuildDone?.(outcome, seconds);
  }

  /** Each tenant's newest build (only `slug`'s when given): its id, state and why it failed. */
  lastBuilds(slug?: string): Map<string, BuildSummary> {
    const out = new Map<string, BuildSummary>();
    for (const [tenant, b] of this.buildStore.latestByTenant(slug)) out.set(tenant, { id: b.id, state: b.state, error: b.error ?? null });
    return out;
  }

  packages(slugInput: string): PackagesView {
    const slug = assertSlug(slugInput);
    const tenant = this.deps.store.require(slug);
    const stored = this.buildStore.getPackages(slug);
    const latest = this.buildStore.latestByTenant(slug).get(slug);
    return {
      tenant: slug,
      apt: stored?.lists.apt ?? EMPTY_PACKAGES.apt,
      npm: stored?.lists.npm ?? EMPTY_PACKAGES.npm,
      image: tenant.image ?? this.deps.baseImage,
      previousImage: stored?.previousImage ?? null,
      build: latest ? buildView(latest) : null,
    };
  }

  /** Stores the lists and asks for their image; resolves without waiting for a build. */
  async request(slugInput: string, body: unknown, applyNow: boolean): Promise<BuildView> {
    const slug = assertSlug(slugInput);
    this.deps.store.require(slug);
    if (applyNow) this.applyNow.add(slug);
    const build = await this.builds.request(slug, body);
    if (build.state === 'failed') this.applyNow.delete(slug);
    return buildView(build);
  }

  async build(id: string): Promise<BuildView & { readonly log: string }> {
    if (!isBuildId(id)) throw new NapboxError('bad_request', `${JSON.stringify(id.slice(0, 40))} is not a build id`);
    const build = this.builds.require(id);
    const log = await this.builds.readLog(id, 0, 256 * 1024);
    return { ...buildView(build), log: log.text };
  }

  /** The build's log as text; with `follow`, kept open and streamed until the build ends. */
  async streamLog(id: string, follow: boolean, req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (!isBuildId(id)) throw new NapboxError('bad_request', `${JSON.stringify(id.slice(0, 40))} is not a build id`);
    this.builds.require(id);
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
    if (!follow) {
      res.end((await this.builds.readLog(id, 0, 4 * 1024 * 1024)).text);
      return;
    }
    const abort = new AbortController();
    req.once('close', () => abort.abort()); // the watcher leaves; the build goes on
    for await (const event of this.builds.follow(id, 0, abort.signal)) {
      if (event.kind === 'log') res.write(event.text);
      else if (event.build.state === 'ready' || event.build.state === 'failed')
        res.write(`\n[napbox] build ${event.build.id} ${event.build.state}${event.build.error ? `: ${event.build.error}` : ''}\n`);
    }
    res.end();
  }

  /** Removes the tenant images nothing needs; with `all` (the operator's `images prune`), also the install's older agent and base images. */
  async prune(scope: 'tenant-images' | 'all' = 'tenant-images'): Promise<PruneReport> {
    return pruneImages(this.deps.driver, {
      installId: this.deps.installId,
      uses: this.buildStore.imageUse(),
      building: this.builds.activeTags(),
      current: [this.deps.baseImage, NODE_BASE_TAG],
      scope,
    });
  }

  private async restart(slug: string, buildId: string): Promise<void> {
    try {
      await this.deps.lifecycle.stop(slug, { kind: 'image', buildId });
    } catch (err) {
      this.deps.logger.warn({ tenant: slug, err: (err as Error).message }, 'could not restart tenant on its new image');
    }
  }
}
