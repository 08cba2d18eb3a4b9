// The builds and tenant_packages tables: a tenant's package lists, the build
// it asked for last, the images it has had, and every build with its state,
// times, error and log file. Every row read back is validated.
//
// Invariants:
// - A tenant's lists and the build they ask for are written in one
//   transaction (`want`): `tenant_packages.build_id` is the one build whose
//   result may become the tenant's image. A build that is not that one when it
//   ends (a newer request came) finishes, but is never applied.
// - A build ends (`finish`) in one transaction with its application: the
//   row's state, the tenant's image and previous image, and the caller's hook
//   (which switches the tenant) commit together or not at all.
// - A build's state is final only after its log file is complete (the queue
//   closes the log first), so a reader that sees a final state has the whole log.

import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { NapboxError } from '../errors.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { parsePackageLists, type PackageLists } from './packages.js';

// The tables are migration 3 in src/db/migrations.ts.

const BUILD_STATES = ['queued', 'building', 'ready', 'failed'] as const;
type BuildState = (typeof BUILD_STATES)[number];

const BUILD_ID = /^b_[A-Za-z0-9_-]{1,64}$/;

export function isBuildId(id: string): boolean {
  return BUILD_ID.test(id);
}

const JsonList = z.string().transform((s, ctx) => {
  try {
    return JSON.parse(s) as unknown;
  } catch {
    ctx.addIssue({ code: 'custom', message: 'not JSON' });
    return z.NEVER;
  }
});

const BuildRow = z.object({
  id: z.string().regex(BUILD_ID),
  tenant: z.string(),
  state: z.enum(BUILD_STATES),
  tag: z.string().nullable(),
  base_image: z.string(),
  apt: JsonList,
  npm: JsonList,
  created_at: z.number().int(),
  started_at: z.number().int().nullable(),
  finished_at: z.number().int().nullable(),
  error: z.string().nullable(),
  log_path: z.string(),
  cached: z.union([z.literal(0), z.literal(1)]),
  applied: z.union([z.literal(0), z.literal(1)]),
  superseded_by: z.string().nullable(),
});

const PackagesRow = z.object({
  slug: z.string(),
  apt: JsonList,
  npm: JsonList,
  updated_at: z.number().int(),
  build_id: z.string().nullable(),
  image: z.string().nullable(),
  previous_image: z.string().nullable(),
  image_at: z.number().int().nullable(),
});

export interface Build {
  readonly id: string;
  readonly tenant: string;
  readonly state: BuildState;
  /** The image this build makes; null for empty lists (the tenant runs the base agent image). */
  readonly tag: string | null;
  /** The base agent image it is built FROM. */
  readonly baseImage: string;
  readonly lists: PackageLists;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly error: string | null;
  readonly logPath: string;
  /** The image already existed: nothing was built. */
  readonly cached: boolean;
  /** Its image became the tenant's. */
  readonly applied: boolean;
  /** The newer build of the same tenant that replaced this one, if any. */
  readonly supersededBy: string | null;
}

export interface TenantPackages {
  readonly slug: string;
  readonly lists: PackageLists;
  readonly updatedAt: number;
  /** The build these lists asked for: the only one that may be applied. */
  readonly buildId: string | null;
  /** The image the last applied build gave the tenant; null: the base agent image. */
  readonly image: string | null;
  readonly previousImage: string | null;
  readonly imageAt: number | null;
}

/** What prune must keep for a tenant (see prune.ts). */
export interface TenantImageUse {
  readonly tenant: string;
  readonly current: string | null;
  readonly previous: string | null;
  /** `tenants.image`: what its container runs or will run on its next wake. */
  readonly running: string | null;
}

/** What a new build row is made from: the build's identity and inputs; times and flags start empty. */
export type NewBuild = Pick<Build, 'id' | 'tenant' | 'state' | 'tag' | 'baseImage' | 'lists'> & {
  readonly startedAt?: number | null;
  readonly cached?: boolean;
};

export interface FinishHooks {
  /** Runs inside the transaction that applies a ready build; throwing rolls it all back. */
  readonly onReady: (tenant: string, tag: string | null, buildId: string) => void;
  readonly onFailed: (tenant: string, buildId: string, error: string) => void;
}

/** Lists read back from the database: checked again; a bad row is napbox's fault, not the caller's. */
function storedLists(apt: unknown, npm: unknown, where: string): PackageLists {
  try {
    return parsePackageLists({ apt, npm });
  } catch (err) {
    throw new NapboxError('internal', `${where} holds invalid package lists: ${(err as Error).message}`, { cause: err });
  }
}

function toBuild(raw: unknown): Build {
  const r = BuildRow.parse(raw);
  return {
    id: r.id,
    tenant: r.tenant,
    state: r.state,
    tag: r.tag,
    baseImage: r.base_image,
    lists: storedLists(r.apt, r.npm, `build ${r.id}`),
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    error: r.error,
    logPath: r.log_path,
    cached: r.cached === 1,
    applied: r.applied === 1,
    supersededBy: r.superseded_by,
  };
}

/** A build as the API shows it (no host paths). */
/** A build as the API shows it (api/answers.ts holds its schema). */
export type BuildView = Omit<Build, 'logPath'>;

export function buildView(build: Build): BuildView {
  const { logPath: _logPath, ...view } = build;
  return view;
}

export class BuildStore {
  readonly logDir: string;

  /** @param tenants the tenants, read through their own store (whether one exists, the image it runs). */
  constructor(
    private readonly db: Db,
    dataDir: string,
    private readonly tenants: Pick<TenantStore, 'get' | 'list'>,
  ) {
    this.logDir = path.join(dataDir, 'builds');
  }

  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn).immediate();
  }

  logPathFor(id: string): string {
    if (!isBuildId(id)) throw new NapboxError('internal', `${JSON.stringify(id)} is not a build id`);
    return path.join(this.logDir, `${id}.log`);
  }

  async ensureLogDir(): Promise<void> {
    await fs.promises.mkdir(this.logDir, { recursive: true, mode: 0o700 });
  }

  tenantExists(slug: string): boolean {
    return this.tenants.get(slug) !== undefined;
  }

  insert(build: NewBuild, logPath: string, now: number): Build {
    const final = build.state === 'ready' || build.state === 'failed';
    this.db
      .prepare(
        `INSERT INTO builds (id, tenant, state, tag, base_image, apt, npm, created_at, started_at, finished_at, log_path, cached)
         VALUES (@id, @tenant, @state, @tag, @base, @apt, @npm, @now, @started, @finished, @logPath, @cached)`,
      )
      .run({
        id: build.id,
        tenant: build.tenant,
        state: build.state,
        tag: build.tag,
        base: build.baseImage,
        apt: JSON.stringify(build.lists.apt),
        npm: JSON.stringify(build.lists.npm),
        now,
        started: build.startedAt ?? (final ? now : null),
        finished: final ? now : null,
        logPath,
        cached: build.cached ? 1 : 0,
      });
    return this.require(build.id);
  }

  /** Stores the tenant's lists and makes `buildId` the build they ask for. */
  want(slug: string, lists: PackageLists, buildId: string, now: number): void {
    this.db
      .prepare(
        `INSERT INTO tenant_packages (slug, apt, npm, updated_at, build_id) VALUES (@slug, @apt, @npm, @now, @buildId)
         ON CONFLICT(slug) DO UPDATE SET apt = excluded.apt, npm = excluded.npm, updated_at = excluded.updated_at, build_id = excluded.build_id`,
      )
      .run({ slug, apt: JSON.stringify(lists.apt), npm: JSON.stringify(lists.npm), now, buildId });
    this.db.prepare('UPDATE builds SET superseded_by = NULL WHERE id = ?').run(buildId);
  }

  get(id: string): Build | undefined {
    const row = this.db.prepare('SELECT * FROM builds WHERE id = ?').get(id);
    return row === undefined ? undefined : toBuild(row);
  }

  require(id: string): Build {
    const build = isBuildId(id) ? this.get(id) : undefined;
    if (!build) throw new NapboxError('not_found', `no build ${JSON.stringify(id.slice(0, 80))}: list a tenant's builds with \`napbox packages list <slug>\``);
    return build;
  }

  /** Each tenant's newest build (only `tenant`'s when given), in one query: what tenant lists show. */
  latestByTenant(tenant?: string): Map<string, Build> {
    const only = tenant === undefined ? '' : ' WHERE b.tenant = @tenant';
    const sql = `SELECT * FROM builds b${only} ${only ? 'AND' : 'WHERE'} b.rowid = (SELECT rowid FROM builds WHERE tenant = b.tenant ORDER BY created_at DESC, rowid DESC LIMIT 1)`;
    const rows = this.db
      .prepare(sql)
      .all(tenant === undefined ? {} : { tenant })
      .map(toBuild);
    return new Map(rows.map((b) => [b.tenant, b]));
  }

  /** Builds not yet ended (queued or building), oldest first. */
  listOpen(tenant?: string): Build[] {
    const sql = `SELECT * FROM builds WHERE state IN ('queued','building')${tenant === undefined ? '' : ' AND tenant = @tenant'} ORDER BY created_at, rowid`;
    return this.db
      .prepare(sql)
      .all(tenant === undefined ? {} : { tenant })
      .map(toBuild);
  }

  markBuilding(ids: readonly string[], now: number): void {
    const stmt = this.db.prepare("UPDATE builds SET state = 'building', started_at = ? WHERE id = ? AND state = 'queued'");
    this.transaction(() => {
      for (const id of ids) stmt.run(now, id);
    });
  }

  /** A queued build replaced by a newer request: failed, never built. */
  supersede(id: string, by: string, now: number): void {
    this.db
      .prepare("UPDATE builds SET state = 'failed', error = ?, superseded_by = ?, finished_at = ? WHERE id = ? AND state = 'queued'")
      .run(`superseded by ${by} before it started; not built`, by, now, id);
  }

  /** Notes on a running build that a newer request replaced it: it finishes but is not applied. */
  markSuperseded(id: string, by: string): void {
    this.db.prepare("UPDATE builds SET superseded_by = ? WHERE id = ? AND state IN ('queued','building')").run(by, id);
  }

  /**
   * Ends a build and, if it is still the one its tenant asks for, applies it:
   * ready makes its tag the tenant's image (the old one becomes the previous
   * one), failed leaves the image as it was; the matching hook runs inside the
   * same transaction. Returns the ended build.
   */
  finish(id: string, outcome: { state: 'ready' } | { state: 'failed'; error: string }, now: number, hooks: FinishHooks): Build {
    return this.transaction(() => {
      const build = this.require(id);
      const wanted = this.getPackagesRow(build.tenant)?.build_id ?? null;
      const error = outcome.state === 'failed' ? outcome.error : null;
      this.db.prepare('UPDATE builds SET state = ?, error = ?, finished_at = ? WHERE id = ?').run(outcome.state, error, now, id);
      if (wanted !== id) {
        if (wanted !== null) this.db.prepare('UPDATE builds SET superseded_by = coalesce(superseded_by, ?) WHERE id = ?').run(wanted, id);
        return this.require(id);
      }
      if (outcome.state === 'ready') {
        this.db
          .prepare(
            `UPDATE tenant_packages SET previous_image = CASE WHEN image IS ? THEN previous_image ELSE image END, image = ?, image_at = ? WHERE slug = ?`,
          )
          .run(build.tag, build.tag, now, build.tenant);
        this.db.prepare('UPDATE builds SET applied = 1 WHERE id = ?').run(id);
        hooks.onReady(build.tenant, build.tag, id);
      } else {
        hooks.onFailed(build.tenant, id, outcome.error);
      }
      return this.require(id);
    });
  }

  /** Marks a build failed without applying anything (its hook itself failed). */
  fail(id: string, error: string, now: number): void {
    this.db.prepare("UPDATE builds SET state = 'failed', applied = 0, error = ?, finished_at = coalesce(finished_at, ?) WHERE id = ?").run(error, now, id);
  }

  getPackages(slug: string): TenantPackages | undefined {
    const raw = this.getPackagesRow(slug);
    if (raw === undefined) return undefined;
    return {
      slug: raw.slug,
      lists: storedLists(raw.apt, raw.npm, `the packages of ${raw.slug}`),
      updatedAt: raw.updated_at,
      buildId: raw.build_id,
      image: raw.image,
      previousImage: raw.previous_image,
      imageAt: raw.image_at,
    };
  }

  /** For every tenant, the images prune must keep. */
  imageUse(): TenantImageUse[] {
    const images = new Map(
      this.db
        .prepare('SELECT slug, image, previous_image FROM tenant_packages')
        .all()
        .map((raw) => z.object({ slug: z.string(), image: z.string().nullable(), previous_image: z.string().nullable() }).parse(raw))
        .map((r) => [r.slug, r] as const),
    );
    return this.tenants.list().map((t) => ({
      tenant: t.slug,
      current: images.get(t.slug)?.image ?? null,
      previous: images.get(t.slug)?.previous_image ?? null,
      running: t.image,
    }));
  }

  private getPackagesRow(slug: string): z.infer<typeof PackagesRow> | undefined {
    const row = this.db.prepare('SELECT * FROM tenant_packages WHERE slug = ?').get(slug);
    return row === undefined ? undefined : PackagesRow.parse(row);
  }
}
