// What every test of the driver contract suite starts from: a driver made for
// it and names no other test shares (its own install id, so its own labels,
// network and container names), and the removal, after the test whether it
// passed or not, of everything carrying those labels. No test reads another's
// leftovers, so one failure cannot cascade.

import crypto from 'node:crypto';
import type { TestContext } from 'node:test';
import type { ContainerSpec, ImageDriver, NetworkVolumeDriver, WorkloadDriver } from './container-driver.js';
import { DEFAULT_LIMITS } from './container-spec.js';

export interface ContractOptions {
  /** An image that runs the napbox runner (the agent image, or the fake's). */
  readonly image: string;
  /** How the test reaches a container: its bridge address, or ports published on the host. */
  readonly mode: 'bridge' | 'published';
}

export interface FreshNames {
  readonly install: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly network: string;
  /** A runner container of this test, on its network, with a workspace volume. */
  spec(slug: string, env?: Record<string, string>): ContainerSpec;
}

function freshNames(options: ContractOptions): FreshNames {
  const install = `contract${crypto.randomBytes(4).toString('hex')}`;
  const labels = { 'napbox.install': install };
  const network = `napbox-${install}`;
  return {
    install,
    labels,
    network,
    spec: (slug, env = {}) => ({
      name: `napbox-${install}-${slug}`,
      image: options.image,
      labels: { ...labels, 'napbox.tenant': slug },
      env: { NAPBOX_TENANT: slug, ...env },
      user: '10001:10001',
      limits: DEFAULT_LIMITS,
      readOnlyRootfs: false,
      tmpfs: {},
      mounts: [{ type: 'volume', source: `napbox-${install}-${slug}-ws`, target: '/workspace', readOnly: false }],
      network,
      ports: [8080, 8081],
      publish: options.mode === 'published',
      stopGraceSeconds: 5,
    }),
  };
}

/** Runs every step, then throws the first failure: one leftover that will not go does not keep the others. */
async function allOf(steps: ReadonlyArray<() => Promise<unknown>>): Promise<void> {
  const failures: unknown[] = [];
  for (const step of steps) await step().catch((err: unknown) => failures.push(err));
  if (failures.length > 0) throw failures[0];
}

/** A fresh driver and names for a test of workloads, networks or volumes; what it made is removed after it. */
export function freshWorkloads<D extends WorkloadDriver & NetworkVolumeDriver>(
  t: TestContext,
  makeDriver: () => D,
  options: ContractOptions,
): { driver: D; names: FreshNames } {
  const driver = makeDriver();
  const names = freshNames(options);
  t.after(async () => {
    const containers = await driver.findByLabels(names.labels);
    await allOf(containers.map((c) => () => driver.remove(c.id, { force: true })));
    await allOf([
      () => driver.removeNetwork(names.network),
      async () => allOf((await driver.findVolumesByLabels(names.labels)).map((v) => () => driver.removeVolume(v))),
    ]);
  });
  return { driver, names };
}

/** A fresh driver and names for a test of images; every image carrying its labels (each tag, then the id) is removed after it. */
export function freshImages<D extends ImageDriver>(t: TestContext, makeDriver: () => D, options: ContractOptions): { driver: D; names: FreshNames } {
  const driver = makeDriver();
  const names = freshNames(options);
  t.after(async () => {
    const images = await driver.findImagesByLabels(names.labels);
    await allOf(images.flatMap((image) => [...image.tags.filter((tag) => tag !== '<none>:<none>'), image.id].map((ref) => () => driver.removeImage(ref))));
  });
  return { driver, names };
}
