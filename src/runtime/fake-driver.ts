// An in-memory ContainerDriver for unit tests of the logic above the driver
// (wake, sweep, router). It models the agent image: a started container
// serves GET /ready and GET / on loopback ports it publishes, prints
// "runner ready", and exits at once with code N when NAPBOX_APP_COMMAND is
// ["sh","-c","exit N"]. Its runner (fake-runner.ts) also serves the channel,
// so messages are delivered and answered. Its images are entries by tag
// (`images`), each listing all of the image's tags. It passes the same
// contract suite as DockerDriver (workload-, image- and
// network-volume-driver.contract.ts), so it cannot drift from the engine.

import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { NapboxError } from '../errors.js';
import { startFakeRunner, type FakeCommand, type FakeRunner } from './fake-runner.js';
import { containerFileProblem, DEFAULT_FILE_MODE, mountHolding } from './container-driver.js';
import type {
  BuildRequest,
  ContainerDriver,
  ContainerFileInfo,
  ContainerInfo,
  ContainerSpec,
  ContainerStatus,
  ContainerSummary,
  Endpoint,
  ImageInfo,
  ImageNode,
  NetworkSpec,
} from './container-driver.js';

interface FakeContainer {
  readonly id: string;
  readonly spec: ContainerSpec;
  status: ContainerStatus;
  exitCode: number | null;
  logs: string[];
  /** When each line of `logs` was written (epoch ms), for `since`. */
  logTimes: number[];
  servers: http.Server[];
  runner?: FakeRunner;
  published: Record<number, Endpoint>;
  /** Files in its own filesystem (and in bind mounts), by absolute path. */
  readonly ownFiles: Map<string, ContainerFileInfo>;
  /** While paused: what its servers' requests wait for before they are handled. */
  thawed?: { readonly promise: Promise<void>; readonly release: () => void };
}

const EXIT_COMMAND = /^\["sh","-c","exit (\d+)"\]$/;

export class FakeDriver implements ContainerDriver {
  readonly networkScope = 'install' as const;
  readonly containers = new Map<string, FakeContainer>();
  readonly networks = new Map<string, NetworkSpec>();
  readonly images = new Map<string, ImageInfo>();
  /** Image id -> the id of the image it was built on, for listImageTree (builds record their FROM; tests may set more). */
  readonly imageParents = new Map<string, string>();
  /** Counts of calls, for tests that check how often the engine was asked. */
  readonly calls = { create: 0, start: 0, stop: 0, remove: 0, pause: 0, unpause: 0 };
  readonly canPause = true;
  /** The memory every fake container says it uses. */
  memoryBytes = 64 * 1024 * 1024;
  /** Milliseconds `start` takes, to widen race windows in tests. */
  startDelayMs = 0;
  /** How the fake runner answers a `command` provider, by its argv as JSON (the fake runs no processes). */
  readonly commands = new Map<string, FakeCommand>();

  constructor(images: readonly string[] = ['napbox-agent:test']) {
    for (const tag of images) this.images.set(tag, { id: `sha256:${crypto.createHash('sha256').update(tag).digest('hex')}`, tags: [tag], labels: {} });
  }

  async ping(): Promise<void> {}

  async create(spec: ContainerSpec): Promise<ContainerInfo> {
    this.calls.create += 1;
    if (!this.images.has(spec.image)) throw new NapboxError('engine_error', `create container ${spec.name} failed: No such image: ${spec.image}`);
    if ([...this.containers.values()].some((c) => c.spec.name === spec.name)) {
      throw new NapboxError('conflict', `create container ${spec.name}: name already in use`);
    }
    for (const file of spec.files ?? []) {
      const problem = containerFileProblem(file);
      if (problem) throw new NapboxError('internal', `container ${spec.name}: file ${problem}`);
      const mount = mountHolding(file.path, spec.mounts);
      if (mount?.readOnly) throw new NapboxError('engine_error', `put files into ${spec.name} failed: mounted volume is marked read-only`);
      if (!mount && spec.readOnlyRootfs) throw new NapboxError('engine_error', `put files into ${spec.name} failed: container rootfs is marked read-only`);
    }
    for (const m of spec.mounts) {
      if (m.type !== 'volume' || !m.fresh) continue;
      if ([...this.containers.values()].some((c) => c.spec.mounts.some((o) => o.type === 'volume' && o.source === m.source))) {
        throw new NapboxError('conflict', `remove volume ${m.source}: volume is in use`);
      }
      this.volumes.delete(m.source);
      this.volumeFiles.delete(m.source);
    }
    const id = crypto.randomBytes(32).toString('hex');
    for (const m of spec.mounts) if (m.type === 'volume' && !this.volumes.has(m.source)) this.volumes.set(m.source, { ...spec.labels });
    const ownFiles = new Map<string, ContainerFileInfo>();
    for (const file of spec.files ?? []) {
      const info = { content: Buffer.from(file.content), mode: file.mode ?? DEFAULT_FILE_MODE, uid: 0, gid: 0 };
      const mount = mountHolding(file.path, spec.mounts);
      if (mount?.type === 'volume') {
        const files = this.volumeFiles.get(mount.source) ?? new Map<string, ContainerFileInfo>();
        files.set(file.path.slice(mount.target.length), info);
        this.volumeFiles.set(mount.source, files);
      } else {
        ownFiles.set(file.path, info);
      }
    }
    this.containers.set(id, { id, spec, status: 'created', exitCode: null, logs: [], logTimes: [], servers: [], published: {}, ownFiles });
    return this.info(id)!;
  }

  async readFile(id: string, filePath: string): Promise<ContainerFileInfo | undefined> {
    const c = this.containers.get(id);
    if (!c) return undefined;
    const mount = mountHolding(filePath, c.spec.mounts);
    if (mount?.type === 'volume') return this.volumeFiles.get(mount.source)?.get(filePath.slice(mount.target.length));
    return c.ownFiles.get(filePath);
  }

  async start(id: string): Promise<void> {
    this.calls.start += 1;
    const c = this.require(id);
    if (c.status === 'running') return;
    if (this.startDelayMs) await new Promise((r) => setTimeout(r, this.startDelayMs));
    const exit = EXIT_COMMAND.exec(c.spec.env.NAPBOX_APP_COMMAND ?? '');
    if (exit) {
      c.logs.push('tenant app exited');
      c.logTimes.push(Date.now());
      c.status = 'exited';
      c.exitCode = Number(exit[1]);
      return;
    }
    c.servers = [];
    c.published = {};
    const runner = startFakeRunner(c.spec.env, this.commands);
    c.runner = runner;
    for (const port of c.spec.ports) {
      // A frozen container's kernel still accepts connections; nothing answers until it is thawed.
      const server = http.createServer((req, res) => void (c.thawed?.promise ?? Promise.resolve()).then(() => runner.handler(req, res)));
      server.on('upgrade', (req, socket, head) => void (c.thawed?.promise ?? Promise.resolve()).then(() => runner.upgrade(req, socket, head)));
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
      c.servers.push(server);
      c.published[port] = { host: '127.0.0.1', port: (server.address() as AddressInfo).port };
    }
    c.status = 'running';
    c.exitCode = null;
    c.logs.push('runner ready');
    c.logTimes.push(Date.now());
  }

  async stop(id: string): Promise<void> {
    this.calls.stop += 1;
    const c = this.containers.get(id);
    if (c?.status === 'paused') this.thaw(c); // as the engine does: a frozen process gets no signal
    if (c?.status !== 'running') return;
    await this.halt(c, 0);
  }

  async pause(id: string): Promise<void> {
    this.calls.pause += 1;
    const c = this.require(id);
    if (c.status === 'paused') return;
    if (c.status !== 'running') throw new NapboxError('conflict', `pause container ${id.slice(0, 12)}: it is not running`);
    let release = (): void => undefined;
    const promise = new Promise<void>((resolve) => (release = resolve));
    c.thawed = { promise, release };
    c.runner?.freeze(promise);
    c.status = 'paused';
  }

  async unpause(id: string): Promise<void> {
    this.calls.unpause += 1;
    const c = this.require(id);
    if (c.status === 'paused') this.thaw(c);
  }

  async memoryUsage(id: string): Promise<number | undefined> {
    const c = this.containers.get(id);
    return c && (c.status === 'running' || c.status === 'paused') ? this.memoryBytes : undefined;
  }

  private thaw(c: FakeContainer): void {
    c.status = 'running';
    c.thawed?.release();
    c.thawed = undefined;
  }

  async remove(id: string, options: { force?: boolean } = {}): Promise<void> {
    this.calls.remove += 1;
    const c = this.containers.get(id);
    if (!c) return;
    if (c.status === 'paused') this.thaw(c);
    if (c.status === 'running') {
      if (!options.force) throw new NapboxError('conflict', `remove container ${id.slice(0, 12)}: it is running`);
      await this.halt(c, 137);
    }
    this.containers.delete(id);
  }

  async inspect(id: string): Promise<ContainerInfo | undefined> {
    return this.info(id);
  }

  async findByLabels(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]> {
    return [...this.containers.values()]
      .filter((c) => Object.entries(labels).every(([k, v]) => c.spec.labels[k] === v))
      .map((c) => ({ id: c.id, name: c.spec.name, labels: c.spec.labels, status: c.status }));
  }

  async logs(id: string, options: { tail: number }): Promise<string> {
    const c = this.containers.get(id);
    return c
      ? c.logs
          .slice(-options.tail)
          .map((l) => `${l}\n`)
          .join('')
      : '';
  }

  async followLogs(id: string, options: { tail: number; since?: number; signal: AbortSignal }): Promise<NodeJS.ReadableStream> {
    const c = this.containers.get(id);
    const since = options.since ?? Number.NEGATIVE_INFINITY;
    const lines = (c?.logs ?? [])
      .filter((_, i) => (c?.logTimes[i] ?? 0) >= since)
      .slice(-options.tail)
      .map((l) => `${l}\n`);
    return Readable.from(lines); // the fake's output never grows after start, so following ends here
  }

  readonly volumes = new Map<string, Record<string, string>>();
  /** What `files` put into each volume, by path inside the volume. */
  private readonly volumeFiles = new Map<string, Map<string, ContainerFileInfo>>();

  async findVolumesByLabels(labels: Readonly<Record<string, string>>): Promise<string[]> {
    return [...this.volumes].filter(([, l]) => Object.entries(labels).every(([k, v]) => l[k] === v)).map(([name]) => name);
  }

  async removeVolume(name: string): Promise<void> {
    this.volumes.delete(name);
    this.volumeFiles.delete(name);
  }

  async ensureNetwork(spec: NetworkSpec): Promise<void> {
    if (!this.networks.has(spec.name)) this.networks.set(spec.name, spec);
  }

  async removeNetwork(name: string): Promise<void> {
    this.networks.delete(name);
  }

  async findNetworksByLabels(labels: Readonly<Record<string, string>>): Promise<string[]> {
    return [...this.networks.values()].filter((n) => Object.entries(labels).every(([k, v]) => n.labels[k] === v)).map((n) => n.name);
  }

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    return this.images.get(ref) ?? [...this.images.values()].find((i) => i.id === ref);
  }

  async buildImage(request: BuildRequest): Promise<ImageInfo> {
    const info = { id: `sha256:${crypto.randomBytes(32).toString('hex')}`, tags: [request.tag], labels: { ...request.labels } };
    request.onLog?.(`Successfully built ${info.id.slice(7, 19)}`);
    const from = this.images.get(fromOf(request) ?? '');
    if (from) this.imageParents.set(info.id, from.id); // built on it, as the engine records a parent
    this.claim(request.tag, info);
    return info;
  }

  async importImage(_tarball: NodeJS.ReadableStream, tag: string, labels: Readonly<Record<string, string>>): Promise<ImageInfo> {
    const info = { id: `sha256:${crypto.randomBytes(32).toString('hex')}`, tags: [tag], labels: { ...labels } };
    this.claim(tag, info);
    return info;
  }

  async pullImage(): Promise<boolean> {
    return false;
  }

  async tagImage(ref: string, tag: string): Promise<void> {
    const image = await this.inspectImage(ref);
    if (!image) throw new NapboxError('engine_error', `tag image ${ref} failed: No such image`);
    this.retag(image.id, [...image.tags.filter((t) => t !== tag), tag]);
  }

  /** A tag untags (the image goes with its last tag); an id removes the image with every tag. */
  async removeImage(ref: string): Promise<void> {
    const image = await this.inspectImage(ref);
    if (!image) return;
    this.retag(image.id, this.images.has(ref) ? image.tags.filter((t) => t !== ref) : []);
  }

  /** One entry per image (the map holds one per tag). */
  async findImagesByLabels(labels: Readonly<Record<string, string>>): Promise<ImageInfo[]> {
    const byId = new Map<string, ImageInfo>();
    for (const i of this.images.values()) if (Object.entries(labels).every(([k, v]) => i.labels[k] === v)) byId.set(i.id, i);
    return [...byId.values()];
  }

  /** Every image once, with its parent in `imageParents` (image id -> parent id: a build's FROM, or one a test set). */
  async listImageTree(): Promise<ImageNode[]> {
    const byId = new Map<string, ImageNode>();
    for (const i of this.images.values()) byId.set(i.id, { ...i, parent: this.imageParents.get(i.id) ?? null });
    return [...byId.values()];
  }

  /** A new image takes the tag from the one that had it. */
  private claim(tag: string, info: ImageInfo): void {
    const old = this.images.get(tag);
    if (old)
      this.retag(
        old.id,
        old.tags.filter((t) => t !== tag),
      );
    this.images.set(tag, info);
  }

  /** Gives the image `id` exactly these tags (none: it is gone). */
  private retag(id: string, tags: readonly string[]): void {
    const image = [...this.images.values()].find((i) => i.id === id);
    if (!image) return;
    for (const [tag, i] of this.images) if (i.id === id) this.images.delete(tag);
    for (const tag of tags) this.images.set(tag, { ...image, tags: [...tags] });
  }

  /** Makes a running container exit on its own, as a crash would. */
  async crash(id: string, exitCode = 1): Promise<void> {
    await this.halt(this.require(id), exitCode);
  }

  private async halt(c: FakeContainer, exitCode: number): Promise<void> {
    c.runner?.halt();
    await Promise.all(
      c.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    c.servers = [];
    c.status = 'exited';
    c.exitCode = exitCode;
  }

  private require(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new NapboxError('engine_error', `no container ${id.slice(0, 12)}`);
    return c;
  }

  private info(id: string): ContainerInfo | undefined {
    const c = this.containers.get(id);
    if (!c) return undefined;
    return {
      id: c.id,
      name: c.spec.name,
      image: c.spec.image,
      labels: c.spec.labels,
      status: c.status,
      running: c.status === 'running' || c.status === 'paused', // as the engine says of a frozen one
      exitCode: c.status === 'running' || c.status === 'paused' || c.status === 'created' ? null : c.exitCode,
      oomKilled: false,
      bridgeIp: null,
      published: c.status === 'running' || c.status === 'paused' ? { ...c.published } : {},
    };
  }
}

/** The image a build's Dockerfile starts FROM (its first FROM, build args filled in); undefined when it cannot be read. */
function fromOf(request: BuildRequest): string | undefined {
  let text: string;
  try {
    text = fs.readFileSync(path.join(request.contextDir, request.dockerfile), 'utf8');
  } catch {
    return undefined;
  }
  const ref = /^\s*FROM\s+(?:--platform=\S+\s+)?(\S+)/im.exec(text)?.[1];
  return ref?.replace(/\$\{?(\w+)\}?/g, (_, name: string) => request.buildArgs[name] ?? '');
}
