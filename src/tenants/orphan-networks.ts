// Networks of this install that nothing needs any more, removed by label: at
// start-up and with the sweep's periodic prune. With the Docker driver every
// tenant shares one network (`install` scope), so any other network of the
// install is left from an older napbox, which gave each tenant its own; with
// Swarm (`tenant` scope) a network is an orphan once its tenant is gone.
//
// A network still in use (an old container running on it until its next
// stop) is refused by the engine and left for a later pass: its container is
// recreated on the shared network at its next wake, since its spec changed.

import type { Logger } from '../log.js';
import type { NetworkVolumeDriver } from '../runtime/container-driver.js';
import { LABEL_INSTALL, sharedNetwork, tenantNetwork } from '../runtime/container-spec.js';
import type { TenantStore } from './tenant-store.js';

export interface OrphanNetworkDeps {
  readonly driver: NetworkVolumeDriver;
  readonly installId: string;
  readonly store: Pick<TenantStore, 'list'>;
  readonly logger: Logger;
}

/** Removes the install's networks no tenant needs; returns the names removed. */
export async function removeOrphanNetworks(deps: OrphanNetworkDeps): Promise<string[]> {
  const { driver, installId } = deps;
  const wanted = new Set<string>(
    driver.networkScope === 'install' ? [sharedNetwork(installId).name] : deps.store.list().map((t) => tenantNetwork(installId, t.slug, 'tenant').name),
  );
  const removed: string[] = [];
  for (const name of await driver.findNetworksByLabels({ [LABEL_INSTALL]: installId })) {
    if (wanted.has(name)) continue;
    try {
      await driver.removeNetwork(name);
      removed.push(name);
    } catch (err) {
      deps.logger.debug({ network: name, err: (err as Error).message }, 'network not removed yet (in use)');
    }
  }
  if (removed.length > 0) deps.logger.info({ networks: removed.length }, "removed networks no tenant needs (older per-tenant networks, or deleted tenants')");
  return removed;
}
