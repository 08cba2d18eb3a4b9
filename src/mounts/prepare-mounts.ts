// The I/O around the pure mount plan, done at each wake: makes the folders a
// tenant's container mounts, writes the files napbox materializes for it
// (read-only inside its group folder), checks its extra mounts against the
// allowlist as it is now, and returns the mounts for its container spec.
// The workspace is not here: it is a volume (container-spec.ts).
//
// Invariant: a tenant whose extra mounts are refused does not start; the
// error names each refused mount and why, so a person can fix it.

import fs from 'node:fs';
import path from 'node:path';
import { NapboxError } from '../errors.js';
import type { Logger } from '../log.js';
import type { MountSpec } from '../runtime/container-driver.js';
import { publicConfig, type TenantConfig } from '../tenants/tenant-config.js';
import { AllowlistWatcher, checkMount, type MountRequest } from './allowlist.js';
import { globalGroupDir, groupDir, materializedDir, planMounts, WORKSPACE_TARGET } from './mount-plan.js';

const AGENT_UID = 10001;

export interface MountPreparerOptions {
  readonly dataDir: string;
  readonly groupsDir: string;
  readonly allowlistFile: string;
  readonly logger: Logger;
  readonly isRoot?: boolean;
}

function realDir(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return fs.realpathSync(dir);
}

export class MountPreparer {
  private readonly allowlist: AllowlistWatcher;
  private readonly dataDir: string;
  private readonly groupsDir: string;
  private readonly isRoot: boolean;

  constructor(private readonly options: MountPreparerOptions) {
    this.allowlist = new AllowlistWatcher(options.allowlistFile);
    this.dataDir = realDir(options.dataDir);
    this.groupsDir = realDir(options.groupsDir);
    this.isRoot = options.isRoot ?? process.getuid?.() === 0;
  }

  /** Why each of these extra mounts would be refused now (empty: all allowed). */
  refusals(requests: readonly MountRequest[]): string[] {
    const allowlist = this.allowlist.current();
    return requests.flatMap((request) => {
      const decision = checkMount(request, allowlist);
      return decision.allowed ? [] : [`${request.hostPath} -> /extra/${request.containerPath}: ${decision.reason}`];
    });
  }

  /** Makes the tenant's folders and files, and returns its mounts (all but the workspace volume). */
  prepare(slug: string, config: TenantConfig): MountSpec[] {
    const group = groupDir(this.groupsDir, slug);
    fs.mkdirSync(path.join(group, '.napbox'), { recursive: true });
    if (!fs.lstatSync(path.join(group, '.napbox')).isDirectory()) {
      throw new NapboxError('bad_request', `${path.join(group, '.napbox')} must be a folder (napbox mounts its files there)`);
    }
    // The group folder is the tenant's to write: its top folder belongs to the agent's user (its group kept).
    const owner = fs.statSync(group);
    if (owner.uid !== AGENT_UID) {
      if (this.isRoot) fs.chownSync(group, AGENT_UID, owner.gid);
      else this.options.logger.warn({ tenant: slug, folder: group }, `the tenant cannot write its group folder: make it writable by uid ${AGENT_UID}`);
    }
    fs.mkdirSync(globalGroupDir(this.groupsDir), { recursive: true });
    this.materialize(slug, config);

    const allowlist = this.allowlist.current();
    const extras = (config.mounts ?? []).map((request) => ({ request, decision: checkMount(request, allowlist) }));
    const plan = planMounts({
      dataDir: this.dataDir,
      groupsDir: this.groupsDir,
      slug,
      tenantFilePresent: fs.existsSync(path.join(group, 'tenant.json')),
      extras,
    });
    if (plan.refused.length > 0) {
      const reasons = plan.refused.map((r) => `${r.request.hostPath} -> /extra/${r.request.containerPath}: ${r.reason}`);
      throw new NapboxError('bad_request', `tenant ${slug} asks for mounts that are refused: ${reasons.join('; ')}`);
    }
    for (const warning of plan.warnings) this.options.logger.warn({ tenant: slug, warning }, 'mount');
    return plan.mounts.filter((m) => m.target !== WORKSPACE_TARGET);
  }

  /** Writes the files napbox materializes for the tenant; a running container sees them at once (a bind mount). */
  materialize(slug: string, config: TenantConfig): void {
    const materialized = materializedDir(this.dataDir, slug);
    fs.mkdirSync(materialized, { recursive: true });
    fs.writeFileSync(path.join(materialized, 'config.json'), `${JSON.stringify({ tenant: slug, ...publicConfig(config) }, null, 2)}\n`);
    fs.writeFileSync(path.join(materialized, 'instructions.md'), this.instructions(config));
  }

  private instructions(config: TenantConfig): string {
    const globalFile = path.join(globalGroupDir(this.groupsDir), 'instructions.md');
    const global = fs.existsSync(globalFile) ? fs.readFileSync(globalFile, 'utf8').trim() : '';
    return `${[global, (config.instructions ?? '').trim()].filter(Boolean).join('\n\n')}\n`;
  }

  close(): Promise<void> {
    return this.allowlist.close();
  }
}
