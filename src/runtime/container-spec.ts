// The container a tenant runs in, as a pure function of the tenant, its image
// and the install. Hardened by default: a non-root user, every capability
// dropped, no-new-privileges (those two added by engine-spec.ts; a swarm
// service cannot say the second), and memory, CPU and pids limits. The spec's
// hash is stored as a label, so a stopped container whose spec is out of date
// is recreated rather than started as it was.

import crypto from 'node:crypto';
import type { ContainerFile, ContainerSpec, MountSpec, NetworkScope, NetworkSpec } from './container-driver.js';
import { DEFAULT_APP_PORT, RUNNER_CONTROL_PORT, type TenantConfig } from '../model/tenant-config.js';

export const CONTROL_PORT = RUNNER_CONTROL_PORT;
/** The default app port (a tenant's "port" setting changes it). */
export const APP_PORT = DEFAULT_APP_PORT;
export const AGENT_USER = '10001:10001';

export const LABEL_INSTALL = 'napbox.install';
export const LABEL_TENANT = 'napbox.tenant';
export const LABEL_SPEC = 'napbox.spec';
/**
 * Set only when napbox creates a tenant's container, never on an image: containers inherit their
 * image's labels (a build step's container carries napbox.install from the image it builds on), so
 * the install label alone does not make a container napbox's. See isTenantContainer.
 */
export const LABEL_CONTAINER = 'napbox.container';
const CONTAINER_TENANT = 'tenant';
/** The port its app was told ($PORT): a container keeps the port it was made with until it is recreated. */
const LABEL_APP_PORT = 'napbox.app-port';

export const DEFAULT_LIMITS = Object.freeze({ memoryBytes: 512 * 1024 * 1024, nanoCpus: 1_000_000_000, pids: 256 });

export interface SpecInputs {
  readonly installId: string;
  readonly slug: string;
  readonly config: TenantConfig;
  readonly image: string;
  /** Publish the ports on the engine host's loopback: for engines whose bridge napbox cannot reach. */
  readonly publish: boolean;
  /** Its group, global, materialized and extra mounts (prepare-mounts.ts); the workspace volume comes first. */
  readonly mounts?: readonly MountSpec[];
  /** Files to put into the container (copy mode: a remote engine); part of the spec's hash. */
  readonly files?: readonly ContainerFile[];
  /** The tenant's runner channel secret (docs/container-contract.md). */
  readonly channelKey: string;
  readonly heartbeatMs: number;
  /** The driver's (ContainerDriver.networkScope); default `tenant`. */
  readonly networkScope?: NetworkScope;
}

export function tenantLabels(installId: string, slug: string): Record<string, string> {
  return { [LABEL_INSTALL]: installId, [LABEL_TENANT]: slug };
}

/**
 * Whether a container of this install (found by its install label) is a tenant's container napbox
 * created: its name is napbox's name for the tenant its label names, and it carries the label set only
 * at create (napbox.container=tenant; napbox.spec for containers of versions before that label, which
 * always set it). A build step's container has a name of the engine's choosing, and no image ever
 * gives a container its name: so napbox never touches one.
 */
export function isTenantContainer(c: { readonly name: string; readonly labels: Readonly<Record<string, string>> }, installId: string): boolean {
  const slug = c.labels[LABEL_TENANT];
  if (!slug || c.name !== containerName(installId, slug)) return false;
  const marker = c.labels[LABEL_CONTAINER];
  return marker === CONTAINER_TENANT || (marker === undefined && c.labels[LABEL_SPEC] !== undefined);
}

function containerName(installId: string, slug: string): string {
  return `napbox-${installId}-${slug}`;
}

/** The tenant's workspace (sessions live in it): a volume, so it needs no shared filesystem and outlives containers. */
function workspaceVolume(installId: string, slug: string): string {
  return `napbox-${installId}-${slug}-workspace`;
}

/**
 * The network a tenant's container joins. With `install` scope every tenant shares one bridge with
 * inter-container traffic off (its name has an underscore, which no slug has, so it never names a
 * tenant's); with `tenant` scope each tenant has its own.
 */
export function tenantNetwork(installId: string, slug: string, scope: NetworkScope): NetworkSpec {
  if (scope === 'install') return sharedNetwork(installId);
  return { name: `napbox-${installId}-${slug}`, labels: tenantLabels(installId, slug), internal: false };
}

export function sharedNetwork(installId: string): NetworkSpec {
  return { name: `napbox-${installId}_tenants`, labels: { [LABEL_INSTALL]: installId }, internal: false, isolated: true };
}

/** An argv as one POSIX shell word list (`eval "set -- $x"` gives it back exactly): each argument single-quoted. */
export function shellQuoted(argv: readonly string[]): string {
  return argv.map((arg) => `'${arg.replaceAll("'", "'\\''")}'`).join(' ');
}

/** The port the tenant's app listens on in its container (its "port" setting, else 8080). */
function appPort(config: TenantConfig): number {
  return config.port ?? APP_PORT;
}

/** The app port of a container made from a spec (its label; older containers: 8080). */
export function appPortOf(labels: Readonly<Record<string, string>>): number {
  const port = Number(labels[LABEL_APP_PORT]);
  return Number.isInteger(port) && port >= 1024 && port <= 65535 && port !== CONTROL_PORT ? port : APP_PORT;
}

export function buildContainerSpec(inputs: SpecInputs): ContainerSpec {
  const port = appPort(inputs.config);
  const env: Record<string, string> = {
    // The tenant's own variables first: napbox's below win (its schema refuses their names anyway).
    ...inputs.config.env,
    NAPBOX_TENANT: inputs.slug,
    PORT: String(port),
    NAPBOX_CONTROL_PORT: String(CONTROL_PORT),
  };
  if (inputs.config.app) {
    env.NAPBOX_APP_COMMAND = JSON.stringify(inputs.config.app.command);
    // The same argv for the agent image's launch.sh, which starts the app before Node.js starts the runner.
    env.NAPBOX_APP_SH = shellQuoted(inputs.config.app.command);
  }
  env.NAPBOX_CHANNEL_KEY = inputs.channelKey;
  env.NAPBOX_HEARTBEAT_MS = String(inputs.heartbeatMs);
  env.NAPBOX_WORKSPACE = '/workspace';
  const provider = inputs.config.provider ?? { kind: 'echo' as const };
  if (provider.kind === 'openai') {
    const { apiKey, ...rest } = provider;
    env.NAPBOX_PROVIDER = JSON.stringify(rest);
    env.NAPBOX_OPENAI_API_KEY = apiKey;
  } else {
    env.NAPBOX_PROVIDER = JSON.stringify(provider);
  }
  const body = {
    name: containerName(inputs.installId, inputs.slug),
    image: inputs.image,
    env,
    user: AGENT_USER,
    limits: {
      memoryBytes: (inputs.config.limits?.memoryMiB ?? DEFAULT_LIMITS.memoryBytes / 1024 / 1024) * 1024 * 1024,
      nanoCpus: Math.round((inputs.config.limits?.cpus ?? DEFAULT_LIMITS.nanoCpus / 1e9) * 1e9),
      pids: inputs.config.limits?.pids ?? DEFAULT_LIMITS.pids,
    },
    readOnlyRootfs: inputs.config.readOnlyRootfs ?? false,
    tmpfs: (inputs.config.readOnlyRootfs ? { '/tmp': 'rw,noexec,nosuid,size=64m', '/home/agent': 'rw,nosuid,size=16m,uid=10001,gid=10001' } : {}) as Record<
      string,
      string
    >,
    mounts: [{ type: 'volume', source: workspaceVolume(inputs.installId, inputs.slug), target: '/workspace', readOnly: false }, ...(inputs.mounts ?? [])],
    network: tenantNetwork(inputs.installId, inputs.slug, inputs.networkScope ?? 'tenant').name,
    ports: [port, CONTROL_PORT],
    publish: inputs.publish,
    stopGraceSeconds: 10,
  } satisfies Omit<ContainerSpec, 'labels'>;
  const digest = crypto.createHash('sha256').update(JSON.stringify(body));
  // Files by their digest (not their bytes), and only when there are some: a spec without files hashes as before.
  const files = inputs.files ?? [];
  for (const f of files) digest.update(JSON.stringify([f.path, f.mode ?? null, crypto.createHash('sha256').update(f.content).digest('hex')]));
  const hash = digest.digest('hex').slice(0, 16);
  return {
    ...body,
    ...(files.length > 0 ? { files } : {}),
    labels: { ...tenantLabels(inputs.installId, inputs.slug), [LABEL_SPEC]: hash, [LABEL_CONTAINER]: CONTAINER_TENANT, [LABEL_APP_PORT]: String(port) },
  };
}
