// Pruning tenant images: which of this install's tenant images no tenant
// needs any more (a pure choice), and removing them through the driver.
//
// Invariants:
// - Only images labelled napbox.role=tenant and napbox.install=<this
//   install> are ever candidates; anything else is kept whatever the caller
//   passed in.
// - Kept: each tenant's current image, its previous one (to go back to) and
//   the one its container runs or will run, and every image a queued or
//   running build targets.
// - The engine has the last word: an image a container still uses (even a
//   stopped one) is refused by the engine, and reported as kept.

import type { ImageDriver, ImageInfo } from '../runtime/container-driver.js';
import { LABEL_INSTALL } from '../runtime/container-spec.js';
import { LABEL_ROLE } from './agent-image.js';
import { ROLE_TENANT } from './tenant-image.js';
import type { TenantImageUse } from './build-store.js';
import { asNapboxError } from '../errors.js';

export interface PruneInputs {
  readonly installId: string;
  /** The engine's images labelled as this install's tenant images. */
  readonly images: readonly ImageInfo[];
  readonly uses: readonly TenantImageUse[];
  /** Tags that queued or running builds target (`BuildQueue.activeTags()`). */
  readonly building: readonly string[];
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

/** Why each tag must stay, from the tenants' use and the builds in flight. */
function keepReasons(uses: readonly TenantImageUse[], building: readonly string[]): Map<string, string[]> {
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
  return reasons;
}

export function choosePrune(inputs: PruneInputs): PruneChoice {
  const reasons = keepReasons(inputs.uses, inputs.building);
  const remove: PrunePick[] = [];
  const keep: PrunePick[] = [];
  for (const image of inputs.images) {
    const tags = image.tags.filter((t) => t !== NO_TAG);
    const refs = tags.length > 0 ? tags : [image.id];
    if (image.labels[LABEL_INSTALL] !== inputs.installId || image.labels[LABEL_ROLE] !== ROLE_TENANT) {
      for (const ref of refs) keep.push({ ref, imageId: image.id, reason: "not this install's tenant image" });
      continue;
    }
    const why = refs.flatMap((ref) => reasons.get(ref) ?? []).concat(reasons.get(image.id) ?? []);
    if (why.length > 0) {
      for (const ref of refs) keep.push({ ref, imageId: image.id, reason: why.join(', ') });
    } else {
      for (const ref of refs) remove.push({ ref, imageId: image.id, reason: 'no tenant uses it' });
    }
  }
  return { remove, keep };
}

export interface PruneReport {
  readonly removed: readonly PrunePick[];
  readonly kept: readonly PrunePick[];
}

/** Removes the tenant images no tenant needs; what the engine refuses (in use by a container) is reported as kept. */
export async function pruneImages(driver: ImageDriver, inputs: Omit<PruneInputs, 'images'>): Promise<PruneReport> {
  const images = await driver.findImagesByLabels({ [LABEL_INSTALL]: inputs.installId, [LABEL_ROLE]: ROLE_TENANT });
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
