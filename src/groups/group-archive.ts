// What happens to a deleted tenant's files on the host. Deleting a tenant is
// final: its folder leaves groups/ (so neither the watcher nor a restart
// registers it again from whatever its code wrote there), and napbox's own
// files for it (data/tenants/<slug>/) are removed.
//
// The folder is archived, not removed: it may hold the operator's tenant.json
// and instructions. It moves to groups/.deleted/<slug>-<UTC time>/, inside
// groups/ so that the move is a rename on one filesystem; the watcher ignores
// dot-folders. Removing the archive is the operator's call.
//
// Nothing here follows a link: rename moves a link itself, and rm never
// descends through one.

import fs from 'node:fs';
import path from 'node:path';
import { tenantDir } from '../mounts/mount-plan.js';
import { assertSlug } from '../model/slug.js';

const ARCHIVE_DIR = '.deleted';

/** Archives groups/<slug>/ and removes data/tenants/<slug>/; returns where the folder went, if it existed. */
export function archiveTenantFiles(groupsDir: string, dataDir: string, slugInput: string, nowMs: number): string | undefined {
  const slug = assertSlug(slugInput);
  fs.rmSync(tenantDir(dataDir, slug), { recursive: true, force: true });
  const folder = path.join(groupsDir, slug);
  try {
    fs.lstatSync(folder);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const archive = path.join(groupsDir, ARCHIVE_DIR);
  fs.mkdirSync(archive, { recursive: true, mode: 0o700 });
  const stamp = new Date(nowMs)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  let target = path.join(archive, `${slug}-${stamp}`);
  for (let n = 2; fs.existsSync(target); n++) target = path.join(archive, `${slug}-${stamp}-${n}`);
  fs.renameSync(folder, target);
  return target;
}
