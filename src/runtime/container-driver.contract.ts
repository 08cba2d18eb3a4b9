// The contract every ContainerDriver keeps, as one suite per concern of the
// interface, run against each driver: the Docker driver
// (test/integration/docker-driver.test.ts), the Swarm driver
// (test/integration/swarm-driver.test.ts) and the fake used by unit tests
// (fake-driver.test.ts). A behaviour the rest of napbox relies on belongs
// here, so no driver can quietly differ. Every test starts from nothing of
// another's and removes what it made, also when it fails
// (driver-contract-fixture.ts).

import type { ContainerDriver } from './container-driver.js';
import type { ContractOptions } from './driver-contract-fixture.js';
import { runImageContract } from './image-driver.contract.js';
import { runNetworkVolumeContract } from './network-volume-driver.contract.js';
import { runWorkloadContract } from './workload-driver.contract.js';

export function runDriverContract(name: string, makeDriver: () => ContainerDriver, options: ContractOptions): void {
  runWorkloadContract(name, makeDriver, options);
  runNetworkVolumeContract(name, makeDriver, options);
  runImageContract(name, makeDriver, options);
}
