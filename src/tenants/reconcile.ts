// Makes the database agree with the engine: the engine is the truth about
// which containers exist and run. Containers of this install whose tenant is
// gone are removed; a running container the database thinks stopped is
// adopted; a tenant the database thinks running with no running container is
// marked stopped, saying so.

import type { Logger } from '../log.js';
import type { ContainerDriver } from '../runtime/container-driver.js';
import { LABEL_INSTALL, LABEL_TENANT } from '../runtime/container-spec.js';
import type { TenantStore } from './tenant-store.js';

export interface ReconcileReport {
  readonly removed: string[];
  readonly adopted: string[];
  readonly markedStopped: string[];
}

export async function reconcile(deps: { store: TenantStore; driver: ContainerDriver; installId: string; logger: Logger; now: number; busy: (slug: string) => boolean }): Promise<ReconcileReport> {
  const { store, driver, installId, logger, now } = deps;
  const containers = await driver.findByLabels({ [LABEL_INSTALL]: installId });
  const report: ReconcileReport = { removed: [], adopted: [], markedStopped: [] };
  const runningBySlug = new Map<string, string>();
  for (const c of containers) {
    const slug = c.labels[LABEL_TENANT];
    if (!slug || !store.get(slug)) {
      await driver.remove(c.id, { force: true });
      report.removed.push(c.name);
      logger.info({ container: c.name, tenant: slug }, 'removed orphan container');
      continue;
    }
    if (c.status === 'running') runningBySlug.set(slug, c.id);
  }
  for (const tenant of store.list()) {
    if (deps.busy(tenant.slug)) continue; // a wake or stop in progress owns the state
    const running = runningBySlug.get(tenant.slug);
    if (running && tenant.state !== 'running') {
      store.setState(tenant.slug, { state: 'running', reason: 'adopted: found running in the engine', containerId: running, records: 'start' }, now);
      report.adopted.push(tenant.slug);
    } else if (!running && (tenant.state === 'running' || tenant.state === 'starting' || tenant.state === 'stopping')) {
      store.setState(tenant.slug, { state: 'stopped', reason: 'container found not running', records: 'stop' }, now);
      report.markedStopped.push(tenant.slug);
    }
  }
  return report;
}
