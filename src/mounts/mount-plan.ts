// The mounts of a tenant's container, as a pure function of where napbox keeps
// things, the tenant's slug and its extra mounts (already decided by
// allowlist.ts's checkMount). The caller does every bit of I/O: resolving
// dataDir and groupsDir through symlinks, creating the folders, writing the
// materialized files.
//
// Invariants this keeps (and checks, rather than trusts):
// - The tenant cannot write what the host trusts. Of the data dir, only this
//   tenant's own `tenants/<slug>/materialized` (ro) is mounted (its workspace
//   is a volume, which container-spec.ts adds, not part of this plan); any host path inside the data dir but outside
//   `tenants/<slug>/`, or above the data dir, is refused. Of its group folder
//   only the `files/` sub-folder is mounted (rw, at /group): `groups/<slug>/`
//   itself, where the trusted tenant.json lives, is never mounted, so nothing
//   the tenant writes can become its settings or a link napbox follows.
// - Nothing of another tenant: of groups/, only `<slug>/files/` (rw) and
//   `global/` (ro). An extra mount may not be inside or above the data dir or groups/.
// - Read-only is nested after read-write: /group/.napbox comes after /group,
//   so the engine mounts it on top and the agent can read but not change it.
//
// Two modes (NAPBOX_MOUNTS). `bind`: the engine shares napbox's filesystem and
// every layer is a bind mount of a host folder. `copy` (a remote engine):
// nothing of the host is mounted; the read-write layers are labelled volumes
// that live in the engine, and the read-only ones are `fresh` volumes that
// napbox fills through the engine's API at each container creation (root-owned,
// so uid 10001 reads but cannot write them). napbox never reads anything back
// from a volume, so nothing the tenant writes there is trusted. Extra mounts of
// host folders cannot exist on a remote engine and are refused.

import path from 'node:path';
import { NapboxError } from '../errors.js';
import type { MountSpec } from '../runtime/container-driver.js';
import { assertSlug } from '../model/slug.js';
import type { MountDecision, MountRequest } from './allowlist.js';

const GROUP_TARGET = '/group';
const MATERIALIZED_TARGET = '/group/.napbox';
const GLOBAL_TARGET = '/global';

export type MountMode = 'bind' | 'copy';

export interface MountPlanInputs {
  /** Absolute, symlinks resolved (fs.realpathSync) by the caller. */
  readonly dataDir: string;
  /** Absolute, symlinks resolved by the caller. */
  readonly groupsDir: string;
  readonly slug: string;
  /** The tenant's extra mount requests, each with checkMount's decision. */
  readonly extras: readonly { readonly request: MountRequest; readonly decision: MountDecision }[];
  /** Default `bind`. */
  readonly mode?: MountMode;
  /** Names the volumes of copy mode; required with it. */
  readonly installId?: string;
}

/** Copy mode: a host file or folder whose content napbox puts into the container at `target`. */
export interface CopyRow {
  readonly source: string;
  readonly target: string;
  /** A folder: its regular files, recursively (symlinks are not followed). */
  readonly folder: boolean;
}

export interface MountPlan {
  /** In mount order (parents before the mounts nested in them). */
  readonly mounts: readonly MountSpec[];
  /** Extra mounts left out, with the reason a person can act on. */
  readonly refused: readonly { readonly request: MountRequest; readonly reason: string }[];
  /** Extra mounts made, but not as asked (read-only instead of read-write). */
  readonly warnings: readonly string[];
  /** Copy mode: what napbox puts into the container through the engine's API (empty in bind mode). */
  readonly copies: readonly CopyRow[];
}

/** Copy mode's volumes, besides the workspace (container-spec.ts). All carry the tenant's labels. */
function groupVolume(installId: string, slug: string): string {
  return `napbox-${installId}-${slug}-group`;
}
function napboxFilesVolume(installId: string, slug: string): string {
  return `napbox-${installId}-${slug}-napbox`;
}
function globalVolume(installId: string, slug: string): string {
  return `napbox-${installId}-${slug}-global`;
}

export function tenantDir(dataDir: string, slug: string): string {
  return path.join(dataDir, 'tenants', slug);
}
export function materializedDir(dataDir: string, slug: string): string {
  return path.join(tenantDir(dataDir, slug), 'materialized');
}
/** The tenant's folder in groups/: napbox's and the operator's (tenant.json); never mounted. */
export function groupDir(groupsDir: string, slug: string): string {
  return path.join(groupsDir, slug);
}
/** The tenant's own files, mounted read-write at /group: everything in it is the tenant's, so untrusted. */
export function groupFilesDir(groupsDir: string, slug: string): string {
  return path.join(groupsDir, slug, GROUP_FILES);
}
export const GROUP_FILES = 'files';
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
  if (isInside(source, groupDir(groupsDir, slug)) && !isInside(source, groupFilesDir(groupsDir, slug))) {
    return `${source} is this tenant's settings folder (its tenant.json), which the tenant must not see or write`;
  }
  return undefined;
}

export function planMounts(inputs: MountPlanInputs): MountPlan {
  const slug = assertSlug(inputs.slug);
  for (const [name, dir] of [
    ['dataDir', inputs.dataDir],
    ['groupsDir', inputs.groupsDir],
  ] as const) {
    if (!path.isAbsolute(dir)) throw new NapboxError('internal', `planMounts: ${name} ${JSON.stringify(dir)} must be absolute`);
  }
  if (isInside(inputs.groupsDir, inputs.dataDir) || isInside(inputs.dataDir, inputs.groupsDir)) {
    throw new NapboxError(
      'config_invalid',
      `NAPBOX_GROUPS_DIR (${inputs.groupsDir}) and NAPBOX_DATA_DIR (${inputs.dataDir}) must not be inside one another: tenants would see napbox's state or each other's folders; put them side by side`,
    );
  }

  if ((inputs.mode ?? 'bind') === 'copy') return planCopyMounts(inputs, slug);

  const planned: MountSpec[] = [
    // The tenant's own files (groups/<slug>/files; its tenant.json stays outside).
    { type: 'bind', source: groupFilesDir(inputs.groupsDir, slug), target: GROUP_TARGET, readOnly: false },
    // Files napbox writes for it: config.json, instructions.md.
    { type: 'bind', source: materializedDir(inputs.dataDir, slug), target: MATERIALIZED_TARGET, readOnly: true },
    { type: 'bind', source: globalGroupDir(inputs.groupsDir), target: GLOBAL_TARGET, readOnly: true },
  ];

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
      isInside(mount.source, inputs.dataDir) ||
      isInside(inputs.dataDir, mount.source) ||
      isInside(mount.source, inputs.groupsDir) ||
      isInside(inputs.groupsDir, mount.source);
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
    planned.push(mount);
  }

  return { mounts: planned, refused, warnings, copies: [] };
}

export const COPY_MODE_EXTRA_REFUSAL =
  "extra mount refused: the Docker engine is remote (NAPBOX_MOUNTS=copy) and cannot see this machine's folders; put the files in the tenant's group folder (/group) or in groups/global instead, or run napbox beside the engine with NAPBOX_MOUNTS=bind";

function planCopyMounts(inputs: MountPlanInputs, slug: string): MountPlan {
  const install = inputs.installId;
  if (!install) throw new NapboxError('internal', 'planMounts: copy mode needs the install id (it names the volumes)');
  const mounts: MountSpec[] = [
    { type: 'volume', source: groupVolume(install, slug), target: GROUP_TARGET, readOnly: false },
    { type: 'volume', source: napboxFilesVolume(install, slug), target: MATERIALIZED_TARGET, readOnly: false, fresh: true },
    { type: 'volume', source: globalVolume(install, slug), target: GLOBAL_TARGET, readOnly: false, fresh: true },
  ];
  const copies: CopyRow[] = [
    { source: materializedDir(inputs.dataDir, slug), target: MATERIALIZED_TARGET, folder: true },
    { source: globalGroupDir(inputs.groupsDir), target: GLOBAL_TARGET, folder: true },
  ];
  for (const c of copies) {
    const problem = hostPathProblem(c.source, { ...inputs, slug });
    if (problem) throw new NapboxError('internal', `mount plan invariant broken for ${c.target}: ${problem}`);
  }
  const refused = inputs.extras.map(({ request }) => ({ request, reason: COPY_MODE_EXTRA_REFUSAL }));
  return { mounts, refused, warnings: [], copies };
}
