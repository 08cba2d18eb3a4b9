// The cold-start baseline: what a user would run without napbox. The same
// app, from the Node.js base image the tenant's image is built on, started by
// the engine alone in a plain container: its own command as the entrypoint
// (no runner, no init, no mounts, no napbox environment), on the same network, as the
// same user, with the same limits and hardening napbox gives tenants (so the
// comparison is of napbox's own cost, not of the hardening). Timed from the
// engine's `start` call to the app's first 200 on its bridge address, probed
// as napbox's readiness loop would (a GET every 2 ms, 250 ms per attempt).
//
// These containers are the bench's, not napbox's: they carry the label
// napbox.bench.cold-baseline=<the bench napbox's install id>, never napbox's
// install label (napbox would remove them as orphans), and `removeBaselines`
// removes them by that label.

import type Docker from 'dockerode';
import { performance } from 'node:perf_hooks';
import { AGENT_USER, APP_PORT, DEFAULT_LIMITS } from '../src/runtime/container-spec.js';
import { waitReady } from '../src/runtime/readiness.js';

const LABEL = 'napbox.bench.cold-baseline';
/** The engine-alone readiness loop: napbox's own defaults (src/runtime/readiness.ts). */
export const BASELINE_PROBE = Object.freeze({ attemptTimeoutMs: 250, intervalMs: 2 });

export interface BaselineContainer {
  readonly id: string;
  readonly network: string;
}

export interface BaselineTry {
  /** Epoch ms of the `start` call. */
  readonly startedAt: number;
  /** From the `start` call to the first 200, ms. */
  readonly ms: number;
}

/** A plain container running `argv` from `image` on `network` (created, not started). */
export interface BaselineSpec {
  readonly name: string;
  /** The install id of the bench's napbox: the containers' label value. */
  readonly installId: string;
  readonly image: string;
  readonly network: string;
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

export async function createBaseline(docker: Docker, { name, installId, image, network, argv, env }: BaselineSpec): Promise<BaselineContainer> {
  const container = await docker.createContainer({
    name,
    Image: image,
    Entrypoint: [...argv],
    Cmd: [],
    Env: Object.entries({ PORT: String(APP_PORT), ...env }).map(([k, v]) => `${k}=${v}`),
    User: AGENT_USER,
    Labels: { [LABEL]: installId },
    HostConfig: {
      NetworkMode: network,
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges'],
      Memory: DEFAULT_LIMITS.memoryBytes,
      MemorySwap: DEFAULT_LIMITS.memoryBytes,
      NanoCpus: DEFAULT_LIMITS.nanoCpus,
      PidsLimit: DEFAULT_LIMITS.pids,
    },
  });
  return { id: container.id, network };
}

/** Starts the stopped container and times its app's first 200; leaves it running. */
export async function baselineTry(docker: Docker, baseline: BaselineContainer, timeoutMs: number): Promise<BaselineTry> {
  const container = docker.getContainer(baseline.id);
  const startedAt = performance.timeOrigin + performance.now();
  const started = performance.now();
  await container.start();
  const info = await container.inspect();
  const host = info.NetworkSettings.Networks[baseline.network]?.IPAddress;
  if (!host) throw new Error(`the baseline container has no address on ${baseline.network}`);
  const outcome = await waitReady({
    endpoint: { host, port: APP_PORT },
    path: '/',
    deadline: Date.now() + timeoutMs,
    stillRunning: async () => (await container.inspect()).State.Running,
    ...BASELINE_PROBE,
  });
  const ms = performance.now() - started;
  if (outcome.kind !== 'ready') throw new Error(`the baseline container was not ready: ${JSON.stringify(outcome)}`);
  return { startedAt, ms };
}

export async function stopBaseline(docker: Docker, baseline: BaselineContainer): Promise<void> {
  // A bare `node -e` server as pid 1 ignores SIGTERM: killed at once instead of after the 10 s grace, so a round takes seconds.
  await docker
    .getContainer(baseline.id)
    .stop({ t: 0 })
    .catch((err: unknown) => {
      if ((err as { statusCode?: number }).statusCode !== 304) throw err; // 304: not running
    });
}

/** Removes every baseline container of the bench's install; never throws. */
export async function removeBaselines(docker: Docker, installId: string): Promise<void> {
  try {
    for (const c of await docker.listContainers({ all: true, filters: { label: [`${LABEL}=${installId}`] } })) {
      await docker.getContainer(c.Id).remove({ force: true });
    }
  } catch (err) {
    process.stderr.write(`bench: could not remove the baseline containers: ${String(err)}\n`);
  }
}
