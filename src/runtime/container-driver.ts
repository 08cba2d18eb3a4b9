// The one interface napbox uses to run containers. It speaks napbox's own
// types only: no engine SDK type crosses it, so the Docker driver, the Swarm
// driver and the fake for unit tests are interchangeable, and all of them
// pass the same contract suite (container-driver.contract.ts). It is split by
// concern: workloads (WorkloadDriver), images (ImageDriver), networks and
// volumes (NetworkVolumeDriver); ContainerDriver is all three, and code that
// needs one concern takes only its part.
//
// Invariants every driver keeps:
// - `create` with a name that exists fails with code 'conflict' and creates
//   nothing: the engine's name uniqueness is the last line of defence against
//   a duplicate container, whatever the callers did.
// - Everything a driver creates carries the labels it was given.
// - `inspect` of a container that does not exist returns undefined.
// - A container's `files` are in place before it first starts, owned by root,
//   with their mode; a `fresh` volume holds nothing but what `files` put in it.

export interface MountSpec {
  readonly type: 'bind' | 'volume';
  /** Host path (bind) or volume name (volume). */
  readonly source: string;
  /** Absolute path inside the container. */
  readonly target: string;
  readonly readOnly: boolean;
  /**
   * Volumes only: the volume is made anew at each `create` (one of this name
   * that exists is removed first; it must not be in use), so it holds only the
   * `files` put into it. For read-only layers on a remote engine: a fresh,
   * root-owned volume the container's user cannot write, whose content never
   * goes stale (a file napbox no longer puts is gone).
   */
  readonly fresh?: boolean;
}

/**
 * A file napbox puts into a container through the engine's API, for engines
 * that do not share napbox's filesystem (NAPBOX_MOUNTS=copy): the read-only
 * layers that are bind mounts on a local engine.
 *
 * The driver writes each file after creating the container and before
 * `create` returns, so it is there before the first start:
 * - owned by root (uid 0, gid 0) whatever the image's user, with `mode`
 *   (default 0o444): a container running as uid 10001 can read it but not
 *   change it; folders leading to it that do not exist are made root-owned,
 *   0755, so it cannot add files beside it either. A folder that exists keeps
 *   its owner: a file in a folder the user owns can still be deleted or
 *   replaced (napbox never reads such copies back, so that only changes the
 *   container's own view).
 * - in the mount that holds its path (the deepest mount target that is a
 *   prefix), else in the container's own filesystem, which fails when the root
 *   filesystem is read-only: put files in read-write volumes (`fresh` ones for
 *   read-only layers), never in read-only mounts (the engine refuses those).
 * - written again, as given, at every `create`, never at `start`: what a
 *   container sees changes when it is created anew (napbox recreates one whose
 *   spec, files included, changed).
 * A Swarm driver maps these to configs (file, uid, gid, mode); a Kubernetes
 * one to a ConfigMap volume.
 */
export interface ContainerFile {
  /** Absolute path in the container, normalized (no `.` or `..` parts, no trailing `/`). */
  readonly path: string;
  readonly content: string | Uint8Array;
  /** Permission bits; default 0o444. */
  readonly mode?: number;
}

/** A file as the engine holds it inside a container (`readFile`). */
export interface ContainerFileInfo {
  readonly content: Buffer;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export const DEFAULT_FILE_MODE = 0o444;

interface ResourceLimits {
  readonly memoryBytes: number;
  readonly nanoCpus: number;
  readonly pids: number;
}

export interface ContainerSpec {
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly env: Readonly<Record<string, string>>;
  readonly cmd?: readonly string[];
  /** user[:group] to run as; never root. */
  readonly user: string;
  readonly limits: ResourceLimits;
  readonly readOnlyRootfs: boolean;
  /** tmpfs mounts: container path -> mount options. */
  readonly tmpfs: Readonly<Record<string, string>>;
  readonly mounts: readonly MountSpec[];
  /** The network to attach to; created by `ensureNetwork` beforehand. */
  readonly network?: string;
  /** Container TCP ports napbox must reach. */
  readonly ports: readonly number[];
  /** Also publish `ports` on the engine host's loopback (for engines whose bridge the host cannot reach). */
  readonly publish: boolean;
  readonly stopGraceSeconds: number;
  /** Files to put into the container before it starts (see ContainerFile); absent: none. */
  readonly files?: readonly ContainerFile[];
}

export type ContainerStatus = 'created' | 'running' | 'paused' | 'restarting' | 'removing' | 'exited' | 'dead';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface ContainerInfo {
  readonly id: string;
  readonly name: string;
  readonly image: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly status: ContainerStatus;
  readonly running: boolean;
  readonly exitCode: number | null;
  /** Set when the engine killed it for memory. */
  readonly oomKilled: boolean;
  /** The container's address on its network, reachable from the host on Linux engines. */
  readonly bridgeIp: string | null;
  /** Container port -> host endpoint, for published ports. */
  readonly published: Readonly<Record<number, Endpoint>>;
}

export interface ContainerSummary {
  readonly id: string;
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly status: ContainerStatus;
}

export interface NetworkSpec {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  /** No route out of the network (tenants that must not reach anything). */
  readonly internal: boolean;
  /** Containers on it cannot reach each other (a bridge with inter-container traffic off). */
  readonly isolated?: boolean;
}

/**
 * How a driver gives tenants networks. `install`: one network for every tenant of
 * the install, with inter-container traffic off (a plain bridge can do that);
 * `tenant`: a network per tenant (Swarm's overlays cannot turn it off).
 */
export type NetworkScope = 'install' | 'tenant';

export interface ImageInfo {
  readonly id: string;
  readonly tags: readonly string[];
  readonly labels: Readonly<Record<string, string>>;
}

/** An image in the engine's tree: its parent is the image it was built on (classic builds; none for imported or pulled images). */
export interface ImageNode extends ImageInfo {
  readonly parent: string | null;
}

export interface BuildRequest {
  /** Folder whose files form the build context. */
  readonly contextDir: string;
  /** Dockerfile path relative to contextDir. */
  readonly dockerfile: string;
  readonly tag: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly buildArgs: Readonly<Record<string, string>>;
  /** Receives each line of build output as it comes. */
  readonly onLog?: (line: string) => void;
  readonly signal?: AbortSignal;
}

/**
 * Workloads: the tenants' containers (for the Swarm driver, services of 0 or 1
 * replicas standing for one container each) and the engine's liveness.
 */
export interface WorkloadDriver {
  /** Resolves when the engine answers; fails with code 'engine_unreachable' and what to do otherwise. */
  ping(): Promise<void>;
  create(spec: ContainerSpec): Promise<ContainerInfo>;
  start(id: string): Promise<void>;
  /** Graceful stop: SIGTERM, `graceSeconds`, then SIGKILL. Stopping a stopped container is not an error. */
  stop(id: string, graceSeconds: number): Promise<void>;
  /**
   * Freezes every process of a running container (the cgroup freezer): it keeps its memory, sockets and
   * connections, and runs nothing until `unpause`. Pausing a paused container is not an error; pausing one
   * that does not run is ('conflict'). A driver with `canPause` false refuses ('conflict').
   */
  pause(id: string): Promise<void>;
  /** Thaws a paused container; thawing one that is not paused is not an error. */
  unpause(id: string): Promise<void>;
  /** Whether `pause` works here (not on Swarm: docs/architecture.md says why). */
  readonly canPause: boolean;
  /** The memory the container uses now, in bytes (page cache excluded); undefined when the engine does not say. */
  memoryUsage(id: string): Promise<number | undefined>;
  /** Removes the container (stopping it first when `force`). Removing a missing container is not an error. */
  remove(id: string, options?: { force?: boolean }): Promise<void>;
  inspect(id: string): Promise<ContainerInfo | undefined>;
  /** Containers carrying every one of these labels, running or not. */
  findByLabels(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]>;
  /** The last `tail` lines of the container's output (stdout and stderr, in order). */
  logs(id: string, options: { tail: number }): Promise<string>;
  /**
   * The last `tail` lines (of those written from `since`, epoch ms, when given), then new output as it comes, as text,
   * until `signal` aborts or the container stops or is removed.
   */
  followLogs(id: string, options: { tail: number; since?: number; signal: AbortSignal }): Promise<NodeJS.ReadableStream>;
  /**
   * A regular file inside a container (running or not, in its own filesystem
   * or a volume it mounts), with its owner and mode; undefined when the
   * container or the file does not exist.
   */
  readFile(id: string, path: string): Promise<ContainerFileInfo | undefined>;
}

/** Images: built, imported, tagged and pruned on the engine's node (the one workloads run on). */
export interface ImageDriver {
  /** Undefined when no image has this tag or id. */
  inspectImage(ref: string): Promise<ImageInfo | undefined>;
  buildImage(request: BuildRequest): Promise<ImageInfo>;
  /** Creates an image from a root filesystem tarball. */
  importImage(tarball: NodeJS.ReadableStream, tag: string, labels: Readonly<Record<string, string>>): Promise<ImageInfo>;
  /** Tries a registry pull; resolves false (not throwing) when no registry is reachable. */
  pullImage(ref: string): Promise<boolean>;
  tagImage(ref: string, tag: string): Promise<void>;
  /** Removes a tag (the image with its last tag, unless a container uses it); a missing one is not an error. */
  removeImage(ref: string): Promise<void>;
  findImagesByLabels(labels: Readonly<Record<string, string>>): Promise<ImageInfo[]>;
  /** Every image of the engine, intermediate ones included, with its parent: what is built on what. */
  listImageTree(): Promise<ImageNode[]>;
}

/** Networks and volumes: what workloads attach to and keep their data in. */
export interface NetworkVolumeDriver {
  readonly networkScope: NetworkScope;
  /** Makes the network unless one of that name exists; concurrent and repeated calls make one. */
  ensureNetwork(spec: NetworkSpec): Promise<void>;
  /** Removes the network; a missing one is not an error. */
  removeNetwork(name: string): Promise<void>;
  findNetworksByLabels(labels: Readonly<Record<string, string>>): Promise<string[]>;
  /** Volumes carrying every one of these labels (volumes a container creates get the container's labels). */
  findVolumesByLabels(labels: Readonly<Record<string, string>>): Promise<string[]>;
  /** Removes a volume; a missing one is not an error. */
  removeVolume(name: string): Promise<void>;
}

/** The whole engine interface; code that needs one concern takes only that part. */
export interface ContainerDriver extends WorkloadDriver, ImageDriver, NetworkVolumeDriver {}

/** How napbox reaches a container port, given how the engine is connected. */
export function endpointFor(info: ContainerInfo, port: number, mode: 'bridge' | 'published'): Endpoint | undefined {
  if (mode === 'bridge') return info.bridgeIp ? { host: info.bridgeIp, port } : undefined;
  return info.published[port];
}

/** Why a container file's path is unusable, or undefined. */
export function containerFileProblem(file: ContainerFile): string | undefined {
  const p = file.path;
  if (
    !p.startsWith('/') ||
    p === '/' ||
    p.endsWith('/') ||
    p
      .split('/')
      .slice(1)
      .some((part) => part === '' || part === '.' || part === '..')
  ) {
    return `${JSON.stringify(p)} is not a normalized absolute file path`;
  }
  if (file.mode !== undefined && (!Number.isInteger(file.mode) || file.mode < 0 || file.mode > 0o7777))
    return `${p}: mode ${file.mode} is not a permission mode`;
  return undefined;
}

/** The mount that holds `path` in a container: the one whose target is its deepest prefix. */
export function mountHolding(path: string, mounts: readonly MountSpec[]): MountSpec | undefined {
  let best: MountSpec | undefined;
  for (const m of mounts) {
    if ((path === m.target || path.startsWith(`${m.target}/`)) && (!best || m.target.length > best.target.length)) best = m;
  }
  return best;
}
