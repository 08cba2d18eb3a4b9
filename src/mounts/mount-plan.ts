// The mounts of a tenant's container, as a pure function of where napbox keeps
// things, the tenant's slug and its extra mounts (already decided by
// allowlist.ts's checkMount). The caller does every bit of I/O: resolving
// dataDir and groupsDir through symlinks, creating the folders, writing the
// materialized files.
//
// Invariants this keeps (and checks, rather than trusts):
// - The tenant cannot write what the host trusts. Of the data dir, only this
//   tenant's own `tenants/<slug>/workspace` (rw) and `tenants/<slug>/materialized`
//   (ro) are mounted; any host path inside the data dir but outside
//   `tenants/<slug>/`, or above the data dir, is refused. Its tenant.json is
//   mounted read-only over itself, so the agent cannot rewrite its own limits,
//   provider or mounts through the read-write group folder.
// - Nothing of another tenant: of groups/, only `<slug>/` (rw) and `global/`
//   (ro). An extra mount may not be inside or above the data dir or groups/.
// - Read-only is nested after read-write: /group/.napbox comes after /group,
//   so the engine mounts it on top and the agent can read but not change it.

import path from 'node:path';
import { NapboxError } from '../errors.js';
import type { MountSpec } from '../runtime/container-driver.js';
import { assertSlug } from '../tenants/slug.js';
import type { MountDecision, MountRequest } from './allowlist.js';

export const WORKSPACE_TARGET = '/workspace';
export const GROUP_TARGET = '/group';
export const MATERIALIZED_TARGET = '/group/.napbox';
export const TENANT_FILE_TARGET = '/group/tenant.json';
export const GLOBAL_TARGET = '/global';

export interface MountPlanInputs {
  /** Absolute, symlinks resolved (fs.realpathSync) by the caller. */
  readonly dataDir: string;
  /** Absolute, symlinks resolved by the caller. */
  readonly groupsDir: string;
  readonly slug: string;
  /** Whether groups/<slug>/tenant.json exists: it is then mounted read-only over itself. */
  readonly tenantFilePresent: boolean;
  /** The tenant's extra mount requests, each with checkMount's decision. */
  readonly extras: readonly { readonly request: MountRequest; readonly decision: MountDecision }[];
}

export interface MountRow {
  readonly target: string;
  readonly source: string;
  readonly type: MountSpec['type'];
  readonly mode: 'rw' | 'ro';
  readonly purpose: string;
}

export interface MountPlan {
  /** In mount order (parents before the mounts nested in them). */
  readonly mounts: readonly MountSpec[];
  /** The same mounts, described for a table or a status page. */
  readonly rows: readonly MountRow[];
  /** Extra mounts left out, with the reason a person can act on. */
  readonly refused: readonly { readonly request: MountRequest; readonly reason: string }[];
  /** Extra mounts made, but not as asked (read-only instead of read-write). */
  readonly warnings: readonly string[];
}

export function tenantDir(dataDir: string, slug: string): string {
  return path.join(dataDir, 'tenants', slug);
}
export function workspaceDir(dataDir: string, slug: string): string {
  return path.join(tenantDir(dataDir, slug), 'workspace');
}
export function materializedDir(dataDir: string, slug: string): string {
  return path.join(tenantDir(dataDir, slug), 'materialized');
}
export function groupDir(groupsDir: string, slug: string): string {
  return path.join(groupsDir, slug);
}
export function globalGroupDir(groupsDir: string): string {
  return path.join(groupsDir, 'global');
}

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/** Why a host path must not be mounted for this tenant, or undefined. */
export function hostPathProblem(source: string, inputs: Pick<MountPlanInputs, 'dataDir' | 'groupsDir' | 'slug'>): string | undefined {
  const { dataDir, groupsDir, slug } = inputs;
  if (!path.isAbsolute(source)) return `${source} is not an absolute path`;
  if (isInside(dataDir, source)) return `${source} holds napbox's data dir ${dataDir} (every tenant's state and secrets)`;
  if (isInside(source, dataDir) && !isInside(source, tenantDir(dataDir, slug))) {
    return `${source} is inside napbox's data dir ${dataDir} but outside this tenant's ${tenantDir(dataDir, slug)}`;
  }
  if (isInside(groupsDir, source)) return `${source} holds the groups folder ${groupsDir} (every tenant's group folder)`;
  if (isInside(source, groupsDir) && !isInside(source, groupDir(groupsDir, slug)) && !isInside(source, globalGroupDir(groupsDir))) {
    return `${source} is another tenant's group folder`;
  }
  return undefined;
}

function row(mount: MountSpec, purpose: string): MountRow {
  return { target: mount.target, source: mount.source, type: mount.type, mode: mount.readOnly ? 'ro' : 'rw', purpose };
}

export function planMounts(inputs: MountPlanInputs): MountPlan {
  const slug = assertSlug(inputs.slug);
  for (const [name, dir] of [['dataDir', inputs.dataDir], ['groupsDir', inputs.groupsDir]] as const) {
    if (!path.isAbsolute(dir)) throw new NapboxError('internal', `planMounts: ${name} ${JSON.stringify(dir)} must be absolute`);
  }
  if (isInside(inputs.groupsDir, inputs.dataDir) || isInside(inputs.dataDir, inputs.groupsDir)) {
    throw new NapboxError(
      'config_invalid',
      `NAPBOX_GROUPS_DIR (${inputs.groupsDir}) and NAPBOX_DATA_DIR (${inputs.dataDir}) must not be inside one another: tenants would see napbox's state or each other's folders; put them side by side`,
    );
  }

  const planned: MountRow[] = [];
  const add = (source: string, target: string, readOnly: boolean, purpose: string): void => {
    planned.push(row({ type: 'bind', source, target, readOnly }, purpose));
  };
  add(workspaceDir(inputs.dataDir, slug), WORKSPACE_TARGET, false, 'workspace; sessions in /workspace/sessions/<session>');
  add(groupDir(inputs.groupsDir, slug), GROUP_TARGET, false, "the tenant's group folder");
  if (inputs.tenantFilePresent) {
    add(path.join(groupDir(inputs.groupsDir, slug), 'tenant.json'), TENANT_FILE_TARGET, true, 'its settings, which napbox trusts: readable, not writable');
  }
  add(materializedDir(inputs.dataDir, slug), MATERIALIZED_TARGET, true, 'files napbox writes for it: config.json, instructions.md');
  add(globalGroupDir(inputs.groupsDir), GLOBAL_TARGET, true, 'shared by every tenant');

  for (const p of planned) {
    const problem = hostPathProblem(p.source, { ...inputs, slug });
    if (problem) throw new NapboxError('internal', `mount plan invariant broken for ${p.target}: ${problem}`);
  }

  const refused: { request: MountRequest; reason: string }[] = [];
  const warnings: string[] = [];
  const targets = new Set(planned.map((p) => p.target));
  for (const { request, decision } of inputs.extras) {
    if (!decision.allowed) {
      refused.push({ request, reason: decision.reason });
      continue;
    }
    const { mount } = decision;
    const napboxOwn =
      isInside(mount.source, inputs.dataDir) || isInside(inputs.dataDir, mount.source) || isInside(mount.source, inputs.groupsDir) || isInside(inputs.groupsDir, mount.source);
    if (napboxOwn) {
      const why = hostPathProblem(mount.source, { ...inputs, slug }) ?? `${mount.source} is one of napbox's own folders, which napbox mounts itself`;
      refused.push({ request, reason: `extra mount refused: ${why}` });
      continue;
    }
    if (mount.type !== 'bind' || !mount.target.startsWith('/extra/')) {
      refused.push({ request, reason: `extra mount refused: target ${mount.target} is not under /extra/` });
      continue;
    }
    if (targets.has(mount.target)) {
      refused.push({ request, reason: `extra mount refused: ${mount.target} is already mounted by an earlier entry; give each a different containerPath` });
      continue;
    }
    targets.add(mount.target);
    if (decision.warning) warnings.push(decision.warning);
    planned.push(row(mount, `extra mount of ${request.hostPath}`));
  }

  return {
    mounts: planned.map((p) => ({ type: p.type, source: p.source, target: p.target, readOnly: p.mode === 'ro' })),
    rows: planned,
    refused,
    warnings,
  };
}

function cell(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
}

/**
 * The plan as a Markdown table. `hostLabels` replaces host path prefixes with
 * labels for docs, e.g. `{ '/srv/napbox/data': '<dataDir>' }`.
 */
export function renderMountTable(plan: MountPlan, hostLabels: Readonly<Record<string, string>> = {}): string {
  const prefixes = Object.entries(hostLabels).sort((a, b) => b[0].length - a[0].length);
  const label = (source: string): string => {
    for (const [prefix, name] of prefixes) {
      if (source === prefix) return name;
      if (isInside(source, prefix)) return `${name}/${path.relative(prefix, source).split(path.sep).join('/')}`;
    }
    return source;
  };
  const lines = ['| container path | host path | mode | what |', '|---|---|---|---|'];
  for (const r of plan.rows) {
    lines.push(`| \`${cell(r.target)}\` | \`${cell(label(r.source))}\` | ${r.mode === 'rw' ? 'read-write' : 'read-only'} | ${cell(r.purpose)} |`);
  }
  return `${lines.join('\n')}\n`;
}
