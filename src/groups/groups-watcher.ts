// groups/ as files: chokidar watches it, and a folder with a valid
// tenant.json is a tenant. A new one registers the tenant; an edit applies
// (debounced) to its next container and re-materializes its read-only files;
// an invalid file logs one clear error and changes nothing; removing a folder
// never deletes a tenant or its data (that takes `napbox tenants rm`).
// Secrets never live in groups/: an openai provider names the environment
// variable of napbox that holds its key.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import chokidar, { type FSWatcher } from 'chokidar';
import type { Logger } from '../log.js';
import { asNapboxError } from '../errors.js';
import type { TenantConfig } from '../model/tenant-config.js';
import type { TenantService } from '../tenants/tenant-service.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { readPlainFile } from '../safe-read.js';
import { parseTenantFile, TENANT_FILE, TENANT_FILE_MAX_BYTES, type TenantFile } from './tenant-file.js';

export interface GroupsWatcherDeps {
  readonly groupsDir: string;
  readonly store: TenantStore;
  readonly tenants: TenantService;
  readonly logger: Logger;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly debounceMs?: number;
  /** Told of settings applied from a file (re-materializes the tenant's read-only files). */
  readonly onApplied?: (slug: string, config: TenantConfig) => void;
}

/** The tenant's settings from its file; the openai key is looked up in napbox's environment. */
function configFromFile(file: TenantFile, env: Readonly<Record<string, string | undefined>>): TenantConfig | string {
  const { provider, ...rest } = file;
  if (provider?.kind !== 'openai') return { ...rest, ...(provider ? { provider } : {}) };
  const { apiKeyEnv, ...openai } = provider;
  const apiKey = env[apiKeyEnv];
  if (!apiKey) return `provider.apiKeyEnv names ${apiKeyEnv}, which is not set in napbox's environment: set it and restart napbox`;
  return { ...rest, provider: { ...openai, apiKey } };
}

export class GroupsWatcher {
  private watcher: FSWatcher | undefined;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** The last problem logged per folder, so one bad file logs one error, not one per event. */
  private readonly lastProblem = new Map<string, string>();

  constructor(private readonly deps: GroupsWatcherDeps) {}

  async start(): Promise<void> {
    fs.mkdirSync(this.deps.groupsDir, { recursive: true });
    this.watcher = chokidar.watch(this.deps.groupsDir, {
      depth: 1,
      followSymlinks: false,
      ignored: (file) => path.basename(file).startsWith('.'),
      ignoreInitial: false,
      awaitWriteFinish: { stabilityThreshold: 100, pollInterval: 25 },
    });
    const onFile = (file: string): void => {
      const rel = path.relative(this.deps.groupsDir, file).split(path.sep);
      if (rel.length === 2 && rel[1] === TENANT_FILE && rel[0] !== 'global') this.schedule(rel[0]!);
    };
    this.watcher.on('add', onFile).on('change', onFile);
    // A folder made with its tenant.json at once: the file's own event can be lost while the new folder's watch is
    // set up, so the folder's arrival also schedules a read (a folder without tenant.json is left alone).
    this.watcher.on('addDir', (dir) => {
      const rel = path.relative(this.deps.groupsDir, dir).split(path.sep);
      if (rel.length === 1 && rel[0] !== '' && rel[0] !== 'global') this.schedule(rel[0]!);
    });
    this.watcher.on('unlink', (file) => {
      const rel = path.relative(this.deps.groupsDir, file).split(path.sep);
      if (rel.length === 2 && rel[1] === TENANT_FILE)
        this.deps.logger.info({ folder: rel[0] }, 'tenant.json removed: the tenant and its data are kept (remove it with `napbox tenants rm`)');
    });
    await new Promise<void>((resolve) => this.watcher!.once('ready', () => resolve()));
  }

  private schedule(folder: string): void {
    clearTimeout(this.timers.get(folder));
    this.timers.set(
      folder,
      setTimeout(() => {
        this.timers.delete(folder);
        this.apply(folder);
      }, this.deps.debounceMs ?? 200),
    );
  }

  /** Reads and applies groups/<folder>/tenant.json; never throws. */
  apply(folder: string): void {
    const file = path.join(this.deps.groupsDir, folder, TENANT_FILE);
    try {
      if (!fs.lstatSync(path.join(this.deps.groupsDir, folder)).isDirectory()) {
        return this.problem(folder, `groups/${folder} is not a plain folder (a symbolic link?): napbox never follows links in groups/; make it a folder`);
      }
      const text = readPlainFile(file, TENANT_FILE_MAX_BYTES);
      if (text === undefined) return;
      const parsed = parseTenantFile(text, folder);
      if (!parsed.ok) return this.problem(folder, parsed.problem);
      const config = configFromFile(parsed.config, this.deps.env ?? process.env);
      if (typeof config === 'string') return this.problem(folder, `groups/${folder}/${TENANT_FILE}: ${config}`);
      const existed = this.deps.store.get(parsed.slug) !== undefined || !this.created(parsed.slug, config);
      if (existed) this.deps.tenants.replaceConfig(parsed.slug, config);
      this.lastProblem.delete(folder);
      this.deps.onApplied?.(parsed.slug, config);
      this.deps.logger.info({ tenant: parsed.slug, file }, existed ? 'tenant settings updated from groups/' : 'tenant registered from groups/');
    } catch (err) {
      this.problem(folder, `groups/${folder}/${TENANT_FILE}: ${asNapboxError(err).message}`);
    }
  }

  /** Registers the tenant; false when it exists already (another napbox process on the data dir registered it first). */
  private created(slug: string, config: TenantConfig): boolean {
    try {
      this.deps.tenants.create({ slug, ...config });
      return true;
    } catch (err) {
      if (asNapboxError(err).code === 'conflict') return false;
      throw err;
    }
  }

  private problem(folder: string, message: string): void {
    const key = crypto.createHash('sha256').update(message).digest('hex');
    if (this.lastProblem.get(folder) === key) return;
    this.lastProblem.set(folder, key);
    this.deps.logger.error({ folder, problem: message }, 'tenant.json refused; nothing changed');
  }

  async close(): Promise<void> {
    for (const timer of this.timers.values()) clearTimeout(timer);
    await this.watcher?.close();
  }
}
