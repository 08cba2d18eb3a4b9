// The tenant the bench measures: a real napbox process (the test helper's
// launcher, on a free port with a temp data dir) on one driver (the plain
// Docker one; the Swarm one for its cold starts), the tenant `bench` in it,
// and that driver for reaching the same container around napbox. Owns
// getting that set up, the "stopped before a try" state, and removing every
// container, network and temp file afterwards.

import fs from 'node:fs';
import { api, removeInstall, startNapbox, type NapboxProcess } from '../test/helpers/napbox-process.js';
import { DockerDriver } from '../src/runtime/docker-driver.js';
import { SwarmDriver } from '../src/runtime/swarm-driver.js';
import { APP_PORT, tenantLabels } from '../src/runtime/container-spec.js';
import type { ContainerDriver, Endpoint } from '../src/runtime/container-driver.js';
import { within } from './stats.js';

export const SLUG = 'bench';
/** The grace a stop gives the runner; it exits on SIGTERM at once, so this is only a bound. */
const STOP_GRACE_SECONDS = 10;
const SHUTDOWN_WAIT_MS = 10_000;

export interface BenchTenant {
  readonly nb: NapboxProcess;
  /** The driver napbox runs the tenant with (NAPBOX_DRIVER), for reaching the same container around napbox. */
  readonly driver: ContainerDriver;
  /** The Host header that routes a request on napbox's port to the tenant. */
  readonly host: string;
}

/**
 * Starts napbox (logging at info, so its own wake timings can be read) on the
 * given driver, and creates and wakes the tenant. On `swarm`, an engine in no
 * swarm becomes a single-node swarm first, as set-up does.
 */
export async function openBenchTenant(driverName: 'docker' | 'swarm' = 'docker', env: Readonly<Record<string, string>> = {}): Promise<BenchTenant> {
  let driver: ContainerDriver = new DockerDriver();
  if (driverName === 'swarm') {
    const swarm = new SwarmDriver();
    await swarm.ensureSwarm();
    driver = swarm;
  }
  const nb = await startNapbox({ env: { NAPBOX_LOG_LEVEL: 'info', NAPBOX_DRIVER: driverName, ...env } });
  const tenant = { nb, driver, host: `${SLUG}.localhost:${nb.port}` };
  try {
    await adminCall(tenant, 'POST', '/api/tenants', { slug: SLUG });
    await wakeViaApi(tenant);
    return tenant;
  } catch (err) {
    await closeBenchTenant(tenant);
    throw err;
  }
}

/** Stops napbox (killing it if it does not exit in time) and removes everything of its install; never throws. */
export async function closeBenchTenant(tenant: BenchTenant): Promise<void> {
  const exited = await within(
    tenant.nb.stop().then(
      () => true,
      () => false,
    ),
    SHUTDOWN_WAIT_MS,
  );
  if (!exited) await tenant.nb.kill();
  await removeInstall(tenant.nb.installId).catch((err: unknown) => {
    process.stderr.write(`bench: could not remove the containers of install ${tenant.nb.installId}: ${String(err)}\n`);
  });
  fs.rmSync(tenant.nb.dataDir, { recursive: true, force: true });
}

async function adminCall(tenant: BenchTenant, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await api(tenant.nb, method, path, body);
  if (res.status < 200 || res.status > 299) throw new Error(`${method} ${path} answered ${res.status}: ${JSON.stringify(res.json)}`);
  return res.json;
}

export async function wakeViaApi(tenant: BenchTenant): Promise<void> {
  await adminCall(tenant, 'POST', `/api/tenants/${SLUG}/wake`);
}

/**
 * Brings the tenant to "stopped" in both napbox's view and the engine's: the
 * admin API stop (napbox forgets it was running; it only learns that through
 * its own wake), then the engine's stop, a no-op unless the container runs.
 */
export async function stopEverywhere(tenant: BenchTenant): Promise<void> {
  await adminCall(tenant, 'POST', `/api/tenants/${SLUG}/stop`);
  await tenant.driver.stop(await containerId(tenant), STOP_GRACE_SECONDS);
}

/** The tenant's one container, found by its labels as napbox finds it. */
export async function containerId(tenant: BenchTenant): Promise<string> {
  const found = await tenant.driver.findByLabels(tenantLabels(tenant.nb.installId, SLUG));
  if (found.length !== 1) throw new Error(`expected one container for tenant ${SLUG}, found ${found.length}`);
  return found[0]!.id;
}

/** The running container's app port on its bridge address. */
export async function appEndpoint(tenant: BenchTenant): Promise<Endpoint> {
  const info = await tenant.driver.inspect(await containerId(tenant));
  if (!info?.running || !info.bridgeIp) throw new Error(`the container of ${SLUG} is not running with a bridge address`);
  return { host: info.bridgeIp, port: APP_PORT };
}
