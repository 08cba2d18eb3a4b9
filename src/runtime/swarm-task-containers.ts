// The containers of a swarm service's tasks, read and acted on through the
// engine napbox talks to: the node tasks are pinned to (swarm-driver.ts).
// Swarm itself has no call for these: a task's container's end and exit
// code as the engine sees them, thawing a paused one so a stop can reach it,
// killing one a stop has waited on long enough, and its gateway address.

import type Docker from 'dockerode';
import { z } from 'zod';
import { absentAs, parseEngine } from './engine-client.js';

type Call = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** The bridge swarm attaches every task with a network to, for its traffic out; the host reaches tasks there. */
const GATEWAY_BRIDGE = 'docker_gwbridge';
const GatewaySchema = z.object({ Containers: z.record(z.string(), z.object({ IPv4Address: z.string().optional() })).nullish() });

export interface TaskContainerState {
  readonly running: boolean;
  readonly exitCode: number | null;
  readonly oomKilled: boolean;
}

export class TaskContainers {
  /** Task container id -> its address on the gateway bridge (fixed for a container's life). */
  private readonly gatewayIps = new Map<string, string>();
  /** Task container id -> container port -> host port (fixed for a container's life). */
  private readonly hostPortsOf = new Map<string, Record<number, number>>();

  constructor(
    private readonly docker: Docker,
    private readonly call: Call,
  ) {}

  /** A container that is gone no longer runs. */
  async state(containerId: string): Promise<TaskContainerState> {
    const data = await this.call(`inspect container ${containerId.slice(0, 12)}`, () =>
      absentAs(undefined, () => this.docker.getContainer(containerId).inspect()),
    );
    if (!data) return { running: false, exitCode: null, oomKilled: false };
    return { running: data.State.Running, exitCode: data.State.Running ? null : data.State.ExitCode, oomKilled: data.State.OOMKilled };
  }

  async unpause(containerId: string): Promise<void> {
    const container = this.docker.getContainer(containerId);
    await this.call(`unpause container ${containerId.slice(0, 12)}`, () =>
      absentAs(
        undefined,
        async () => {
          if ((await container.inspect()).State.Paused) await container.unpause();
        },
        [404, 409], // gone, or not paused any more
      ),
    );
  }

  async kill(containerId: string): Promise<void> {
    // 404, 409: gone, or not running any more
    await this.call(`kill container ${containerId.slice(0, 12)}`, () => absentAs(undefined, () => this.docker.getContainer(containerId).kill(), [404, 409]));
  }

  /**
   * The host ports a task container's ports are published on, for the
   * address family napbox dials. The engine binds IPv4 and IPv6 separately
   * and may give them different ports; the task's PortStatus lists both
   * without saying which is which, so the container's own bindings decide.
   * Undefined when the container is not on this engine.
   */
  async hostPorts(containerId: string, ipv6: boolean): Promise<Record<number, number> | undefined> {
    const known = this.hostPortsOf.get(containerId);
    if (known) return known;
    const ports = await this.call(`inspect container ${containerId.slice(0, 12)}`, () =>
      absentAs(undefined, async () => (await this.docker.getContainer(containerId).inspect()).NetworkSettings?.Ports ?? {}),
    );
    if (!ports) return undefined;
    const out: Record<number, number> = {};
    for (const [key, binds] of Object.entries(ports)) {
      const match = /^(\d+)\/tcp$/.exec(key);
      const family = (binds ?? []).filter((b) => (b.HostIp.includes(':') ? ipv6 : !ipv6) && b.HostPort);
      const bind = family[0] ?? binds?.find((b) => b.HostPort);
      if (match && bind) out[Number(match[1])] = Number(bind.HostPort);
    }
    if (Object.keys(out).length > 0) {
      if (this.hostPortsOf.size > 1000) this.hostPortsOf.clear();
      this.hostPortsOf.set(containerId, out);
    }
    return out;
  }

  /**
   * The task container's address on the gateway bridge: the address the host
   * reaches it on (its overlay address lives in the overlay's own namespace).
   * Tasks on no network have none there: their own default-bridge address.
   */
  async gatewayIp(containerId: string): Promise<string | null> {
    const known = this.gatewayIps.get(containerId);
    if (known) return known;
    const ip = await this.call('inspect the gateway bridge', async () => {
      const raw: unknown = await absentAs(undefined, () => this.docker.getNetwork(GATEWAY_BRIDGE).inspect());
      const address =
        raw === undefined ? undefined : parseEngine(GatewaySchema, raw, 'inspect the gateway bridge').Containers?.[containerId]?.IPv4Address?.split('/')[0];
      if (address) return address;
      const data = await absentAs(undefined, () => this.docker.getContainer(containerId).inspect());
      return data?.NetworkSettings?.Networks?.bridge?.IPAddress || null;
    });
    if (ip) {
      if (this.gatewayIps.size > 1000) this.gatewayIps.clear();
      this.gatewayIps.set(containerId, ip);
    }
    return ip;
  }
}
