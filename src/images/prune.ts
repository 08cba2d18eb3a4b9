// Pruning images: which of this install's images nothing needs any more (a
// pure choice), and removing them through the driver. What it may remove:
// tenant images no tenant needs, and, when asked (scope `all`: the operator's
// `napbox images prune`, never the sweep's periodic prune, which runs in every
// process, an older one in a rolling upgrade included), the agent and base
// images set-up made for this install (older `napbox-agent` tags after an
// upgrade, an older Node.js base, the debootstrapped root filesystem) that
// nothing is built on.
//
// Invariants:
// - Only images labelled napbox.install=<this install> with a role napbox
//   gives (tenant, agent-base, node-base, rootfs) are ever candidates; any
//   other image of the engine is never removed, whatever the caller passed.
// - Kept: each tenant's current image, its previous one (to go back to) and
//   the one its container runs or will run; every image a queued or running
//   build targets; the current agent and Node.js base images (by tag); and
//   any image another image that stays is built on (its parent chain, as the
//   engine reports it), so a base is never untagged under an image still
//   there. Removing a tenant image can free the agent image under it, and
//   that its base: the choice runs until nothing changes, and removals go
//   children first.
// - The engine has the last word: an image a container still uses (even a
//   stopped one) is refused by the engine, and reported as kept.

import type { ImageDriver, ImageNode } from '../runtime/container-driver.js';
import { LABEL_INSTALL } from '../runtime/container-spec.js';
import { LABEL_ROLE } from './agent-image.js';
import { ROLE_TENANT } from './tenant-image.js';
import type { TenantImageUse } from './build-store.js';
import { asNapboxError } from '../errors.js';

/** The roles of the images napbox makes, in the order they are removed (an image before what it is built on). */
const PRUNABLE_ROLES: readonly string[] = [ROLE_TENANT, 'agent-base', 'node-base', 'rootfs'];

export interface PruneInputs {
  readonly installId: string;
  /** The engine's images (every one, intermediate ones included, with parents: `listImageTree`). */
  readonly images: readonly ImageNode[];
  readonly uses: readonly TenantImageUse[];
  /** Tags that queued or running builds target (`BuildQueue.activeTags()`). */
  readonly building: readonly string[];
  /** Tags in use by this napbox whatever the tenants say: the agent image it runs, the Node.js base. */
  readonly current: readonly string[];
  /** `tenant-images` (the sweep's) or `all`: also the agent and base images of the install. */
  readonly scope: 'tenant-images' | 'all';
}

interface PrunePick {
  /** What to remove or what was kept: a tag, or the image id when it has none. */
  readonly ref: string;
  readonly imageId: string;
  readonly reason: string;
}

export interface PruneChoice {
  readonly remove: readonly PrunePick[];
  readonly keep: readonly PrunePick[];
}

const NO_TAG = '<none>:<none>';
const realTags = (image: ImageNode): string[] => image.tags.filter((t) => t !== NO_TAG);

/** Why each tag must stay, from the tenants' use, the builds in flight and what napbox runs now. */
function keepReasons(uses: readonly TenantImageUse[], building: readonly string[], current: readonly string[]): Map<string, string[]> {
  const reasons = new Map<string, string[]>();
  const add = (tag: string | null, why: string) => {
    if (tag === null) return;
    reasons.set(tag, [...(reasons.get(tag) ?? []), why]);
  };
  for (const use of uses) {
    add(use.current, `current image of ${use.tenant}`);
    add(use.previous, `previous image of ${use.tenant}`);
    add(use.running, `image of ${use.tenant}'s container`);
  }
  for (const tag of building) add(tag, 'a build targets it');
  for (const tag of current) add(tag, "napbox's current agent or base image");
  return reasons;
}

/** Who is built on what: for each image id, the ids of the images (not intermediate steps) built on it, however deep. */
function dependents(images: readonly ImageNode[], hasChild: ReadonlySet<string>): Map<string, Set<string>> {
  const parentOf = new Map(images.map((i) => [i.id, i.parent]));
  const out = new Map<string, Set<string>>();
  for (const image of images) {
    if (realTags(image).length === 0 && hasChild.has(image.id)) continue; // a build's intermediate step: not an image anyone keeps
    const seen = new Set<string>([image.id]);
    for (let up = parentOf.get(image.id) ?? null; up !== null && !seen.has(up); up = parentOf.get(up) ?? null) {
      seen.add(up);
      if (!out.has(up)) out.set(up, new Set());
      out.get(up)?.add(image.id);
    }
  }
  return out;
}

export function choosePrune(inputs: PruneInputs): PruneChoice {
  const reasons = keepReasons(inputs.uses, inputs.building, inputs.current);
  const keep: PrunePick[] = [];
  const candidates: ImageNode[] = [];
  const hasChild = new Set(inputs.images.map((i) => i.parent).filter((p) => p !== null));
  const roles = inputs.scope === 'all' ? PRUNABLE_ROLES : [ROLE_TENANT];
  for (const image of inputs.images) {
    if (image.labels[LABEL_INSTALL] !== inputs.installId) continue; // another install's, or not napbox's: not even reported
    if (inputs.scope !== 'all' && image.labels[LABEL_ROLE] !== ROLE_TENANT) continue; // tenant images only: the others are not in question
    const tags = realTags(image);
    // A build's intermediate step (untagged, an image built on it): it goes with the image it leads to.
    if (tags.length === 0 && hasChild.has(image.id)) continue;
    const refs = tags.length > 0 ? tags : [image.id];
    if (!roles.includes(image.labels[LABEL_ROLE] ?? '')) {
      for (const ref of refs) keep.push({ ref, imageId: image.id, reason: 'not an image napbox prunes (its role)' });
      continue;
    }
    const why = refs.flatMap((ref) => reasons.get(ref) ?? []).concat(reasons.get(image.id) ?? []);
    if (why.length > 0) for (const ref of refs) keep.push({ ref, imageId: image.id, reason: why.join(', ') });
    else candidates.push(image);
  }
  // Drop from the removals every image something that stays is built on, until nothing changes.
  const builtOn = dependents(inputs.images, hasChild);
  const removing = new Set(candidates.map((c) => c.id));
  for (let changed = true; changed; ) {
    changed = false;
    for (const image of candidates) {
      if (!removing.has(image.id)) continue;
      const staying = [...(builtOn.get(image.id) ?? [])].filter((id) => !removing.has(id));
      if (staying.length === 0) continue;
      removing.delete(image.id);
      changed = true;
      const refs = realTags(image).length > 0 ? realTags(image) : [image.id];
      for (const ref of refs) keep.push({ ref, imageId: image.id, reason: `${staying.length} image(s) that stay are built on it` });
    }
  }
  const order = (image: ImageNode) => PRUNABLE_ROLES.indexOf(image.labels[LABEL_ROLE] ?? '');
  const remove = candidates
    .filter((c) => removing.has(c.id))
    .sort((a, b) => order(a) - order(b))
    .flatMap((image) => {
      const tags = realTags(image);
      const why = order(image) === 0 ? 'no tenant uses it' : 'not the current one, and nothing is built on it';
      return (tags.length > 0 ? tags : [image.id]).map((ref) => ({ ref, imageId: image.id, reason: why }));
    });
  return { remove, keep };
}

export interface PruneReport {
  readonly removed: readonly PrunePick[];
  readonly kept: readonly PrunePick[];
}

/**
 * Removes this install's images nothing needs (tenant images no tenant uses, older agent and base images);
 * what the engine refuses (in use by a container) is reported as kept.
 */
export async function pruneImages(driver: ImageDriver, inputs: Omit<PruneInputs, 'images'>): Promise<PruneReport> {
  const images = await driver.listImageTree();
  const choice = choosePrune({ ...inputs, images });
  const removed: PrunePick[] = [];
  const kept: PrunePick[] = [...choice.keep];
  for (const pick of choice.remove) {
    try {
      await driver.removeImage(pick.ref);
      removed.push(pick);
    } catch (err) {
      kept.push({ ...pick, reason: `the engine refused to remove it: ${asNapboxError(err).message}` });
    }
  }
  return { removed, kept };
}
