// The networks and volumes part of the driver contract (NetworkVolumeDriver).
// The interface makes no volume on its own: a container that mounts one
// does, so that test creates a container too. Each test has names of its own
// (driver-contract-fixture.ts).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { NetworkVolumeDriver, WorkloadDriver } from './container-driver.js';
import { type ContractOptions, freshWorkloads } from './driver-contract-fixture.js';

export function runNetworkVolumeContract(name: string, makeDriver: () => WorkloadDriver & NetworkVolumeDriver, options: ContractOptions): void {
  describe(`NetworkVolumeDriver contract: ${name}`, () => {
    it('creates a network once, also when asked at the same time, finds it by label, and removes it idempotently', async (t) => {
      const { driver, names } = freshWorkloads(t, makeDriver, options);
      const spec = { name: names.network, labels: names.labels, internal: false };
      await Promise.all([driver.ensureNetwork(spec), driver.ensureNetwork(spec)]);
      await driver.ensureNetwork(spec);
      assert.deepEqual(await driver.findNetworksByLabels(names.labels), [names.network]);
      await driver.removeNetwork(names.network);
      await driver.removeNetwork(names.network);
      assert.deepEqual(await driver.findNetworksByLabels(names.labels), []);
    });

    it('creates the volumes a container mounts, labelled like the container; removes them idempotently', async (t) => {
      const { driver, names } = freshWorkloads(t, makeDriver, options);
      await driver.ensureNetwork({ name: names.network, labels: names.labels, internal: false });
      const c = await driver.create(names.spec('one'));
      assert.deepEqual(await driver.findVolumesByLabels({ ...names.labels, 'napbox.tenant': 'one' }), [`napbox-${names.install}-one-ws`]);
      await driver.remove(c.id, { force: true });
      assert.deepEqual(await driver.findVolumesByLabels(names.labels), [`napbox-${names.install}-one-ws`], 'removing a container keeps its volumes');
      await driver.removeVolume(`napbox-${names.install}-one-ws`);
      await driver.removeVolume(`napbox-${names.install}-one-ws`);
      assert.deepEqual(await driver.findVolumesByLabels(names.labels), []);
    });

    it('removes a network or volume that does not exist without an error', async (t) => {
      const { driver, names } = freshWorkloads(t, makeDriver, options);
      await driver.removeNetwork(`${names.network}-missing`);
      await driver.removeVolume(`${names.network}-missing`);
    });
  });
}
