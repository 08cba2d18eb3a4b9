// The I/O around the pure mount plan, done at each wake: makes the folders a
// tenant's container mounts, writes the files napbox materializes for it
// (read-only inside its group folder), checks its extra mounts against the
// allowlist as it is now, and returns the mounts for its container spec.
// The workspace is not here: it is a volume (container-spec.ts).
//
// In copy mode (a remote engine) it touches no folder the engine would mount:
// it reads tenant.json, the materialized files and groups/global/ into the
// container spec's `files` (regular files only: a symlink is skipped, never
// followed, so a link in groups/global cannot copy a host file out), within
// a size budget.
//
// Invariants:
// - A tenant whose extra mounts are refused does not start; the error names
//   each refused mount and why, so a person can fix it.
// - No bind source is reached through a symlink: the engine follows links in a
//   source path on the host, so each folder napbox mounts is checked at every
//   wake (lstat, then realpath equal to the path itself, inside its root)
//   before it goes into the spec, and a link found where a folder should be
//   stops the wake with a clear error. Only groups/<slug>/files is the
//   tenant's to write; groups/<slug>/ itself (tenant.json) is never mounted.

import fs from 'node:fs';
import path from 'node:path';
import { NapboxError } from '../errors.js';
import { readPlainFile } from '../safe-read.js';
import type { Logger } from '../log.js';
import type { ContainerFile, MountSpec } from '../runtime/container-driver.js';
import { publicConfig, type TenantConfig } from '../model/tenant-config.js';
import { AllowlistWatcher, checkMount, type MountRequest } from './allowlist.js';
import {
  COPY_MODE_EXTRA_REFUSAL,
  GROUP_FILES,
  globalGroupDir,
  groupDir,
  groupFilesDir,
  materializedDir,
  planMounts,
  type CopyRow,
  type MountMode,
} from './mount-plan.js';

const AGENT_UID = 10001;
/**
 * Copy mode: at most this much is put into one container (groups/global is copied into every tenant).
 * It is read and hashed at every wake, on the event loop (it decides whether the container is up to date).
 */
/** groups/global/instructions.md is read at every wake: larger is refused. */
const GLOBAL_INSTRUCTIONS_MAX_BYTES = 256 * 1024;
const COPY_MAX_FILES = 1000;
export const COPY_MAX_BYTES = 8 * 1024 * 1024;

/** A tenant's mounts for its container spec (all but the workspace volume), and in copy mode the files to put in. */
export interface PreparedMounts {
  readonly mounts: MountSpec[];
  readonly files: ContainerFile[];
}

export interface MountPreparerOptions {
  readonly dataDir: string;
  readonly groupsDir: string;
  readonly allowlistFile: string;
  readonly logger: Logger;
  readonly isRoot?: boolean;
  /** NAPBOX_MOUNTS; default `bind`. */
  readonly mode?: MountMode;
  /** Names copy mode's volumes. */
  readonly installId?: string;
}

function lstatOrUndefined(file: string): fs.Stats | undefined {
  try {
    return fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Refuses a folder that is a link, or is reached through one, or lies outside `root`: the engine would
 * follow the link on the host and mount whatever it names.
 */
function realFolder(folder: string, root: string): void {
  const stat = lstatOrUndefined(folder);
  const real = stat?.isDirectory() ? fs.realpathSync(folder) : undefined;
  const rel = real === undefined ? '..' : path.relative(root, real);
  if (real !== folder || rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new NapboxError(
      'bad_request',
      `${folder} must be a plain folder inside ${root}, not a symbolic link or reached through one: napbox never mounts through a link; replace it with a folder`,
    );
  }
}

function realDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return fs.realpathSync(dir);
}

export class MountPreparer {
  private readonly allowlist: AllowlistWatcher;
  private readonly isRoot: boolean;
  private readonly mode: MountMode;
  /** The data and groups folders, made and resolved (symlinks followed once, here) by start(). */
  private dirs: { readonly data: string; readonly groups: string } | undefined;

  constructor(private readonly options: MountPreparerOptions) {
    this.allowlist = new AllowlistWatcher(options.allowlistFile);
    this.isRoot = options.isRoot ?? process.getuid?.() === 0;
    this.mode = options.mode ?? 'bind';
  }

  /** Makes the data and groups folders, and starts watching the allowlist. */
  async start(): Promise<void> {
    this.dirs = { data: realDir(this.options.dataDir), groups: realDir(this.options.groupsDir) };
    await this.allowlist.start();
  }

  private get dataDir(): string {
    if (!this.dirs) throw new Error('MountPreparer used before start()');
    return this.dirs.data;
  }

  private get groupsDir(): string {
    if (!this.dirs) throw new Error('MountPreparer used before start()');
    return this.dirs.groups;
  }

  /** Why each of these extra mounts would be refused now (empty: all allowed). */
  refusals(requests: readonly MountRequest[]): string[] {
    if (this.mode === 'copy') return requests.map((request) => `${request.hostPath} -> /extra/${request.containerPath}: ${COPY_MODE_EXTRA_REFUSAL}`);
    const allowlist = this.allowlist.current();
    return requests.flatMap((request) => {
      const decision = checkMount(request, allowlist);
      return decision.allowed ? [] : [`${request.hostPath} -> /extra/${request.containerPath}: ${decision.reason}`];
    });
  }

  /** Makes the tenant's folders and files, and returns its mounts (all but the workspace volume) and files to copy. */
  prepare(slug: string, config: TenantConfig): PreparedMounts {
    if (this.mode === 'copy') return this.prepareCopies(slug, config);
    const files = this.groupFiles(slug);
    const napboxDir = path.join(files, '.napbox');
    // The mount point of napbox's files inside the tenant's folder: anything else there (a link it planted) goes.
    const existing = lstatOrUndefined(napboxDir);
    if (existing && !existing.isDirectory()) fs.unlinkSync(napboxDir);
    if (!existing?.isDirectory()) fs.mkdirSync(napboxDir);
    fs.mkdirSync(globalGroupDir(this.groupsDir), { recursive: true });
    realFolder(globalGroupDir(this.groupsDir), this.groupsDir);
    this.materialize(slug, config);
    realFolder(materializedDir(this.dataDir, slug), this.dataDir);

    const allowlist = this.allowlist.current();
    const extras = (config.mounts ?? []).map((request) => ({ request, decision: checkMount(request, allowlist) }));
    const plan = planMounts({ dataDir: this.dataDir, groupsDir: this.groupsDir, slug, extras });
    if (plan.refused.length > 0) {
      const reasons = plan.refused.map((r) => `${r.request.hostPath} -> /extra/${r.request.containerPath}: ${r.reason}`);
      throw new NapboxError('bad_request', `tenant ${slug} asks for mounts that are refused: ${reasons.join('; ')}`);
    }
    for (const warning of plan.warnings) this.options.logger.warn({ tenant: slug, warning }, 'mount');
    return { mounts: [...plan.mounts], files: [] };
  }

  /**
   * groups/<slug>/files, made if missing and checked: a real folder (no link on the way), owned by the
   * agent's user. An install from before this layout had the tenant's files directly in groups/<slug>/:
   * they are moved into files/ once (renamed, never followed), tenant.json excepted.
   */
  private groupFiles(slug: string): string {
    const group = groupDir(this.groupsDir, slug);
    fs.mkdirSync(group, { recursive: true });
    realFolder(group, this.groupsDir);
    const files = groupFilesDir(this.groupsDir, slug);
    if (!lstatOrUndefined(files)) {
      fs.mkdirSync(files);
      const moved = fs.readdirSync(group).filter((name) => name !== GROUP_FILES && name !== 'tenant.json');
      for (const name of moved) fs.renameSync(path.join(group, name), path.join(files, name));
      if (moved.length > 0)
        this.options.logger.info(
          { tenant: slug, moved: moved.length },
          `moved the tenant's files from groups/${slug}/ into groups/${slug}/${GROUP_FILES}/ (its folder from now on)`,
        );
    }
    realFolder(files, this.groupsDir);
    const owner = fs.lstatSync(files);
    if (owner.uid !== AGENT_UID) {
      if (this.isRoot) fs.lchownSync(files, AGENT_UID, owner.gid);
      else this.options.logger.warn({ tenant: slug, folder: files }, `the tenant cannot write its group folder: make it writable by uid ${AGENT_UID}`);
    }
    return files;
  }

  private prepareCopies(slug: string, config: TenantConfig): PreparedMounts {
    this.materialize(slug, config);
    const plan = planMounts({
      dataDir: this.dataDir,
      groupsDir: this.groupsDir,
      slug,
      extras: (config.mounts ?? []).map((request) => ({ request, decision: { allowed: false as const, reason: COPY_MODE_EXTRA_REFUSAL } })),
      mode: 'copy',
      ...(this.options.installId ? { installId: this.options.installId } : {}),
    });
    if (plan.refused.length > 0) {
      const reasons = plan.refused.map((r) => `${r.request.hostPath} -> /extra/${r.request.containerPath}: ${r.reason}`);
      throw new NapboxError('bad_request', `tenant ${slug} asks for mounts that are refused: ${reasons.join('; ')}`);
    }
    const budget = { files: 0, bytes: 0 };
    const files = plan.copies.flatMap((copy) => this.readCopy(slug, copy, budget));
    return { mounts: [...plan.mounts], files };
  }

  /** The regular files of one copy row, as container files (a missing source is nothing to copy). */
  private readCopy(slug: string, copy: CopyRow, budget: { files: number; bytes: number }): ContainerFile[] {
    const out: ContainerFile[] = [];
    const visit = (source: string, target: string): void => {
      let stat: fs.Stats;
      try {
        stat = fs.lstatSync(source);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      if (stat.isDirectory()) {
        for (const name of fs.readdirSync(source).sort()) visit(path.join(source, name), `${target}/${name}`);
        return;
      }
      if (!stat.isFile()) {
        this.options.logger.warn({ tenant: slug, path: source }, 'not copied into the container: only regular files are (symlinks are not followed)');
        return;
      }
      budget.files += 1;
      budget.bytes += stat.size;
      if (budget.files > COPY_MAX_FILES || budget.bytes > COPY_MAX_BYTES) {
        throw new NapboxError(
          'bad_request',
          `tenant ${slug}: the files copied into its container (${copy.source} among them) pass ${COPY_MAX_FILES} files or ${COPY_MAX_BYTES / 1024 / 1024} MiB; keep groups/global small with a remote engine`,
        );
      }
      out.push({ path: target, content: fs.readFileSync(source) });
    };
    if (copy.folder) {
      if (!lstatOrUndefined(copy.source)) return out;
      realFolder(copy.source, path.dirname(copy.source));
      for (const name of fs.readdirSync(copy.source).sort()) visit(path.join(copy.source, name), `${copy.target}/${name}`);
    } else {
      visit(copy.source, copy.target);
    }
    return out;
  }

  /**
   * Writes the files napbox materializes for the tenant. With bind mounts a running container sees them at
   * once; in copy mode they reach the container at its next creation (its spec, files included, changed).
   */
  materialize(slug: string, config: TenantConfig): void {
    const materialized = materializedDir(this.dataDir, slug);
    fs.mkdirSync(materialized, { recursive: true });
    fs.writeFileSync(path.join(materialized, 'config.json'), `${JSON.stringify({ tenant: slug, ...publicConfig(config) }, null, 2)}\n`);
    fs.writeFileSync(path.join(materialized, 'instructions.md'), this.instructions(config));
  }

  private instructions(config: TenantConfig): string {
    const global = (readPlainFile(path.join(globalGroupDir(this.groupsDir), 'instructions.md'), GLOBAL_INSTRUCTIONS_MAX_BYTES) ?? '').trim();
    return `${[global, (config.instructions ?? '').trim()].filter(Boolean).join('\n\n')}\n`;
  }

  close(): Promise<void> {
    return this.allowlist.close();
  }
}
