// The Swarm driver's pure half: a napbox ContainerSpec as a swarm service
// spec, and a service's task list read back as one container's state. No I/O.
//
// Invariants this mapping keeps (the driver relies on them):
// - A tenant is one replicated service with 0 or 1 replicas and restart
//   condition `none`: swarm never restarts a task on its own, napbox decides
//   (the same "no restart loops" rule as the plain Docker driver).
// - The service runs the image by its id (`sha256:...`): swarm's agent skips
//   its registry pull for an id, so a cold start never waits on a registry,
//   and the task runs exactly the image napbox resolved. Tasks are pinned to
//   the node napbox talks to, where that image, the volumes and the bind
//   sources are.
// - Labels go on the service and on its task containers; the tag the spec
//   named is kept in a driver label, since the task template holds the id.
// - The task gets what a container gets (engine-spec.ts: env, mounts, init,
//   no capabilities), except `no-new-privileges`, which a service cannot say.
// - A service read back from the engine goes through ServiceSchema, which
//   keeps every field it does not name: the driver writes the spec back
//   whole when it scales or relabels a service.
// - The endpoint is `dnsrr` (napbox addresses the task itself, so no virtual
//   IP or load balancer is set up); published ports use `PublishMode: host`.

import crypto from 'node:crypto';
import { z } from 'zod';
import { DEFAULT_FILE_MODE, mountHolding, type ContainerFile, type ContainerSpec, type ContainerStatus } from './container-driver.js';
import { engineEnv, engineMounts, HARDENING } from './engine-spec.js';

/** The service label holding the image reference the spec named. */
export const LABEL_SWARM_IMAGE = 'napbox.swarm.image';

export interface ServiceTarget {
  /** The image's id (`sha256:...`), resolved on the node. */
  readonly imageId: string;
  /** The swarm node id tasks are pinned to. */
  readonly nodeId: string;
  /** Swarm configs made for the spec's files outside its volumes (see splitFiles). */
  readonly configs?: readonly ConfigFile[];
}

/** A swarm config mounted as one file: root's, with its mode. */
export interface ConfigFile {
  readonly path: string;
  readonly configId: string;
  readonly configName: string;
  readonly mode: number;
}

/**
 * Where each of a spec's files goes: a file in a volume is written into the
 * volume (it is there for the task like any volume content, and a non-fresh
 * volume keeps it); any other file (the container's own filesystem) becomes a
 * swarm config, which swarm mounts as a root-owned file with its mode, also
 * on a read-only root filesystem.
 */
export function splitFiles(spec: ContainerSpec): { inVolumes: ContainerFile[]; asConfigs: ContainerFile[] } {
  const inVolumes: ContainerFile[] = [];
  const asConfigs: ContainerFile[] = [];
  for (const file of spec.files ?? []) (mountHolding(file.path, spec.mounts)?.type === 'volume' ? inVolumes : asConfigs).push(file);
  return { inVolumes, asConfigs };
}

/** A config's name: the service's, and a hash of the file (configs are immutable; the same file is the same config). */
export function configName(serviceName: string, file: ContainerFile): string {
  const hash = crypto
    .createHash('sha256')
    .update(file.path)
    .update('\0')
    .update(String(file.mode ?? DEFAULT_FILE_MODE))
    .update('\0')
    .update(file.content)
    .digest('hex');
  return `${serviceName}-${hash.slice(0, 16)}`;
}

export interface TmpfsSpec {
  readonly SizeBytes?: number;
  readonly Mode?: number;
}

const SIZE = /^(\d+)([kmg]?)$/i;
const UNITS: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/**
 * Docker's tmpfs option string (`rw,noexec,nosuid,size=64m,uid=10001`) as a
 * swarm TmpfsOptions, which holds only a size and a mode. Swarm mounts every
 * tmpfs `nosuid,nodev,noexec`; an owner (`uid=`/`gid=`) cannot be expressed,
 * so such a mount gets mode 1777 (sticky, writable by the container's user).
 */
export function tmpfsOptions(options: string): TmpfsSpec {
  let size: number | undefined;
  let mode: number | undefined;
  let owned = false;
  for (const part of options
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean)) {
    const [key, value = ''] = part.split('=', 2) as [string, string?];
    if (key === 'size') {
      const match = SIZE.exec(value);
      if (!match) throw new Error(`tmpfs size ${JSON.stringify(value)} is not a size like 64m`);
      size = Number(match[1]) * (UNITS[(match[2] ?? '').toLowerCase()] ?? 1);
    } else if (key === 'mode') {
      if (!/^[0-7]{3,4}$/.test(value)) throw new Error(`tmpfs mode ${JSON.stringify(value)} is not an octal mode`);
      mode = parseInt(value, 8);
    } else if (key === 'uid' || key === 'gid') {
      owned = true;
    }
  }
  if (mode === undefined && owned) mode = 0o1777;
  return { ...(size !== undefined ? { SizeBytes: size } : {}), ...(mode !== undefined ? { Mode: mode } : {}) };
}

/** The body of `POST /services/create` for a tenant's spec, at 0 replicas. */
export function serviceSpec(spec: ContainerSpec, target: ServiceTarget): Record<string, unknown> {
  return {
    Name: spec.name,
    Labels: { ...spec.labels, [LABEL_SWARM_IMAGE]: spec.image },
    TaskTemplate: {
      ContainerSpec: {
        Image: target.imageId,
        Labels: { ...spec.labels },
        Env: engineEnv(spec),
        // Docker's Cmd is the arguments to the image's entrypoint; a service's `Args` is the same thing.
        ...(spec.cmd ? { Args: [...spec.cmd] } : {}),
        User: spec.user,
        Init: HARDENING.init,
        ReadOnly: spec.readOnlyRootfs,
        CapabilityDrop: [...HARDENING.capDrop],
        StopGracePeriod: spec.stopGraceSeconds * 1e9,
        Mounts: [
          ...engineMounts(spec),
          ...Object.entries(spec.tmpfs).map(([path, options]) => ({ Type: 'tmpfs', Target: path, TmpfsOptions: tmpfsOptions(options) })),
        ],
        ...(target.configs?.length
          ? {
              Configs: target.configs.map((c) => ({
                File: { Name: c.path, UID: '0', GID: '0', Mode: c.mode },
                ConfigID: c.configId,
                ConfigName: c.configName,
              })),
            }
          : {}),
      },
      Resources: { Limits: { MemoryBytes: spec.limits.memoryBytes, NanoCPUs: spec.limits.nanoCpus, Pids: spec.limits.pids } },
      RestartPolicy: { Condition: 'none', MaxAttempts: 0 },
      Placement: { Constraints: [`node.id==${target.nodeId}`] },
      ...(spec.network ? { Networks: [{ Target: spec.network }] } : {}),
      ForceUpdate: 0,
    },
    Mode: { Replicated: { Replicas: 0 } },
    // A replaced task is stopped before its successor starts (one container per tenant), and a failed one does not pause later updates.
    UpdateConfig: { Parallelism: 1, Delay: 0, Order: 'stop-first', FailureAction: 'continue', Monitor: 0 },
    EndpointSpec: {
      Mode: 'dnsrr',
      Ports: spec.publish ? spec.ports.map((port) => ({ Protocol: 'tcp', TargetPort: port, PublishMode: 'host' })) : [],
    },
  };
}

const TaskSchema = z.object({
  ID: z.string(),
  ServiceID: z.string(),
  CreatedAt: z.string(),
  DesiredState: z.string(),
  Status: z.object({
    Timestamp: z.string().optional(),
    State: z.string(),
    Message: z.string().optional(),
    Err: z.string().optional(),
    ContainerStatus: z.object({ ContainerID: z.string().optional(), ExitCode: z.number().optional() }).optional(),
    PortStatus: z
      .object({
        Ports: z
          .array(
            z.object({ TargetPort: z.number(), PublishedPort: z.number().optional(), PublishMode: z.string().optional(), Protocol: z.string().optional() }),
          )
          .optional(),
      })
      .optional(),
  }),
});

export type SwarmTask = z.infer<typeof TaskSchema>;

/** Tasks as the engine lists them, validated; entries that do not fit are dropped. */
export function parseTasks(raw: unknown): SwarmTask[] {
  if (!Array.isArray(raw)) return [];
  return raw.flatMap((t) => {
    const parsed = TaskSchema.safeParse(t);
    return parsed.success ? [parsed.data] : [];
  });
}

/** Task states before a container runs: the task is on its way up. */
const STARTING = new Set(['new', 'allocated', 'pending', 'assigned', 'accepted', 'preparing', 'ready', 'starting']);

export function isTerminal(task: SwarmTask): boolean {
  return task.Status.State !== 'running' && !STARTING.has(task.Status.State);
}

/** A task that runs and is meant to (swarm reports a stopped task as running for a while after its container ended). */
function live(task: SwarmTask): boolean {
  return task.Status.State === 'running' && task.DesiredState === 'running';
}

/** The task that stands for the tenant's container: one that runs and is meant to, else the newest. */
export function currentTask(tasks: readonly SwarmTask[]): SwarmTask | undefined {
  const running = tasks.filter(live);
  const pool = running.length > 0 ? running : tasks;
  return [...pool].sort((a, b) => Date.parse(b.CreatedAt) - Date.parse(a.CreatedAt) || b.CreatedAt.localeCompare(a.CreatedAt))[0];
}

export interface TaskState {
  readonly status: ContainerStatus;
  readonly running: boolean;
  readonly exitCode: number | null;
  readonly containerId: string | null;
}

/** A service's state as a container's: no task yet is `created`; a task on its way up is `restarting`. */
export function taskState(task: SwarmTask | undefined): TaskState {
  if (!task) return { status: 'created', running: false, exitCode: null, containerId: null };
  const containerId = task.Status.ContainerStatus?.ContainerID || null;
  if (live(task)) return { status: 'running', running: true, exitCode: null, containerId };
  // Being stopped: whether its container still runs is the container's to say (the driver asks it).
  if (task.Status.State === 'running') return { status: 'exited', running: false, exitCode: null, containerId };
  if (STARTING.has(task.Status.State)) {
    return task.DesiredState === 'running'
      ? { status: 'restarting', running: false, exitCode: null, containerId }
      : { status: 'exited', running: false, exitCode: null, containerId };
  }
  return { status: 'exited', running: false, exitCode: containerId ? (task.Status.ContainerStatus?.ExitCode ?? null) : null, containerId };
}

/**
 * Published (host-mode) ports of a running task: container port -> host port.
 * The engine may publish IPv4 and IPv6 on different ports, and this list has
 * both without saying which is which: the driver asks the container first
 * (swarm-task-containers.ts) and falls back to this.
 */
export function publishedPorts(task: SwarmTask | undefined): Record<number, number> {
  const out: Record<number, number> = {};
  for (const p of task?.Status.PortStatus?.Ports ?? []) {
    if (p.PublishMode === 'host' && p.PublishedPort && (p.Protocol ?? 'tcp') === 'tcp') out[p.TargetPort] = p.PublishedPort;
  }
  return out;
}

// ---- a service read back from the engine ----

/** The exit code of the task a stop ended (swarm deletes scaled-down tasks). */
export const LABEL_SWARM_EXIT = 'napbox.swarm.exit';
const DRIVER_LABELS = [LABEL_SWARM_IMAGE, LABEL_SWARM_EXIT];

// Loose objects: fields not named here are kept, so a spec written back is the spec read.
const ServiceSpecSchema = z.looseObject({
  Name: z.string(),
  Labels: z.record(z.string(), z.string()).optional(),
  TaskTemplate: z.looseObject({
    ForceUpdate: z.number().optional(),
    ContainerSpec: z
      .looseObject({
        Image: z.string().optional(),
        Mounts: z
          .array(z.looseObject({ Type: z.string().optional(), Source: z.string().optional(), Target: z.string().optional(), ReadOnly: z.boolean().optional() }))
          .optional(),
        Configs: z
          .array(
            z.looseObject({
              File: z.looseObject({ Name: z.string().optional(), Mode: z.number().optional() }).optional(),
              ConfigID: z.string().optional(),
              ConfigName: z.string().optional(),
            }),
          )
          .optional(),
      })
      .optional(),
  }),
  Mode: z.looseObject({ Replicated: z.looseObject({ Replicas: z.number().optional() }).optional() }),
});

/** A service as `GET /services/{id}` and `GET /services` answer it. */
export const ServiceSchema = z.looseObject({
  ID: z.string(),
  Version: z.looseObject({ Index: z.number() }),
  Spec: ServiceSpecSchema,
});

export type ServiceData = z.infer<typeof ServiceSchema>;
export type ServiceSpecData = z.infer<typeof ServiceSpecSchema>;

export function withoutDriverLabels(labels: Readonly<Record<string, string>> | undefined): Record<string, string> {
  const out: Record<string, string> = { ...(labels ?? {}) };
  for (const key of DRIVER_LABELS) delete out[key];
  return out;
}

export function replicas(service: ServiceData): number {
  return service.Spec.Mode.Replicated?.Replicas ?? 0;
}
