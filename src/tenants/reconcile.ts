// Makes the database agree with the engine, at start-up and on every sweep
// tick: the engine is the truth about which containers exist and run.
// Only napbox's tenant containers are considered (isTenantContainer: napbox's
// name for the tenant, and a label set only at create): a container that merely
// inherits the install label from its image, as a build step's does, is never
// touched. Those whose tenant is gone are removed (orphans); a
// running container the database thinks stopped is adopted, a paused one as
// paused (napbox's, or one paused by hand: the next wake thaws it); a tenant the
// database thinks up whose container is not running is marked stopped, saying
// so. Tenants with a wake or stop under way are left to it. The cost is in
// proportion to this install's containers and its tenants that are up, not to
// all tenants.

import type { Logger } from '../log.js';
import type { ContainerSummary, WorkloadDriver } from '../runtime/container-driver.js';
import { isTenantContainer, LABEL_INSTALL, LABEL_TENANT } from '../runtime/container-spec.js';
import type { TenantStore } from './tenant-store.js';

export interface ReconcileReport {
  readonly removed: string[];
  readonly adopted: string[];
  /** Tenants whose container was found paused while the database said otherwise: no request may go to it until thawed. */
  readonly foundPaused: string[];
  readonly markedStopped: string[];
  /** Tenants whose container runs (or is paused), by slug, with its id. */
  readonly running: ReadonlyMap<string, string>;
}

export interface ReconcileDeps {
  readonly store: TenantStore;
  readonly driver: WorkloadDriver;
  readonly installId: string;
  readonly logger: Logger;
  /** Taken before the engine is asked: a state written after it is newer than the engine's answer. */
  readonly now: number;
  readonly busy: (slug: string) => boolean;
}

export async function reconcile(deps: ReconcileDeps): Promise<ReconcileReport> {
  const { store, driver, installId, logger, now } = deps;
  const labelled: ContainerSummary[] = await driver.findByLabels({ [LABEL_INSTALL]: installId });
  const containers = labelled.filter((c) => isTenantContainer(c, installId));
  const report = {
    removed: [] as string[],
    adopted: [] as string[],
    foundPaused: [] as string[],
    markedStopped: [] as string[],
    running: new Map<string, string>(),
  };
  for (const c of containers) {
    const slug = c.labels[LABEL_TENANT] as string; // isTenantContainer: it has one
    if (!store.get(slug)) {
      await driver.remove(c.id, { force: true });
      report.removed.push(c.name);
      logger.info({ container: c.name, tenant: slug }, 'removed orphan container');
      continue;
    }
    if (c.status !== 'running' && c.status !== 'paused' && c.status !== 'restarting') continue; // up, if not well: the sweep judges it
    report.running.set(slug, c.id);
    const tenant = store.get(slug);
    if (!tenant || deps.busy(slug) || tenant.stateChangedAt >= now) continue;
    if (c.status === 'paused' && tenant.state !== 'paused') {
      store.setState(slug, { state: 'paused', reason: 'found paused in the engine', containerId: c.id, records: 'stop' }, now);
      report.foundPaused.push(slug);
    } else if (c.status !== 'paused' && tenant.state !== 'running') {
      store.setState(slug, { state: 'running', reason: 'adopted: found running in the engine', containerId: c.id, records: 'start' }, now);
      report.adopted.push(slug);
    }
  }
  for (const tenant of store.listActive()) {
    if (report.running.has(tenant.slug) || deps.busy(tenant.slug) || tenant.stateChangedAt >= now) continue;
    store.setState(tenant.slug, { state: 'stopped', reason: 'container found not running', records: 'stop' }, now);
    report.markedStopped.push(tenant.slug);
  }
  return report;
}
