// ContainerDriver on a Docker engine, through dockerode: a tenant is a
// container. Its images, volumes and networks (bridges) are
// engine-objects.ts's, shared with the Swarm driver, as are the connection
// and the mapping of engine errors to NapboxErrors (engine-client.ts) and
// what a container is given alike with a swarm service (engine-spec.ts: env,
// mounts, hardening). A missing container is `undefined` or a no-op.

import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { NapboxError } from '../errors.js';
import { containerFileProblem, DEFAULT_FILE_MODE, mountHolding } from './container-driver.js';
import type {
  ContainerDriver,
  ContainerFileInfo,
  ContainerInfo,
  ContainerSpec,
  ContainerStatus,
  ContainerSummary,
  Endpoint,
  NetworkSpec,
} from './container-driver.js';
import { demuxLogs, engineSince, pipeFollowedLogs } from './docker-logs.js';
import type { DockerDriverOptions, EngineAddress } from './docker-connection.js';
import { absentAs, EngineClient, engineMessage, labelFilters, statusCode } from './engine-client.js';
import { EngineObjects } from './engine-objects.js';
import { engineEnv, engineMounts, HARDENING } from './engine-spec.js';
import { firstTarEntry, packTar, type TarFile } from './tar.js';

const PORT_KEY = /^(\d+)\/tcp$/;

export class DockerDriver extends EngineObjects implements ContainerDriver {
  /** One bridge for all tenants, inter-container traffic off: measured in bench/networks.ts (docs/architecture.md, "Networks"). */
  readonly networkScope = 'install' as const;
  private readonly address: EngineAddress;

  /** `client`: an engine connection to share (the Swarm driver's); by default one made from `dockerHost`. */
  constructor(dockerHost: string | undefined = process.env.DOCKER_HOST, options: DockerDriverOptions = {}, client = new EngineClient(dockerHost, options)) {
    super(client);
    this.address = client.address;
  }

  protected networkBody(spec: NetworkSpec): Docker.NetworkCreateOptions {
    return {
      Name: spec.name,
      Driver: 'bridge',
      Internal: spec.internal,
      Labels: { ...spec.labels },
      CheckDuplicate: true,
      ...(spec.isolated ? { Options: { 'com.docker.network.bridge.enable_icc': 'false' } } : {}),
    };
  }

  async ping(): Promise<void> {
    await this.call('ping', () => this.docker.ping());
  }

  async create(spec: ContainerSpec): Promise<ContainerInfo> {
    const exposed: Record<string, object> = {};
    const bindings: Record<string, Array<{ HostIp: string; HostPort: string }>> = {};
    for (const port of spec.ports) {
      exposed[`${port}/tcp`] = {};
      if (spec.publish) bindings[`${port}/tcp`] = [{ HostIp: this.address.publish.bindIp, HostPort: '' }];
    }
    const files = spec.files ?? [];
    for (const file of files) {
      const problem = containerFileProblem(file);
      if (problem) throw new NapboxError('internal', `container ${spec.name}: file ${problem}`);
    }
    for (const m of spec.mounts) {
      if (m.type === 'volume' && m.fresh) await this.removeVolume(m.source); // a fresh volume holds only this creation's files
    }
    const container = await this.call(`create container ${spec.name}`, () =>
      this.docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Labels: { ...spec.labels },
        Env: engineEnv(spec),
        ...(spec.cmd ? { Cmd: [...spec.cmd] } : {}),
        User: spec.user,
        ExposedPorts: exposed,
        StopTimeout: spec.stopGraceSeconds,
        HostConfig: {
          Init: HARDENING.init,
          RestartPolicy: { Name: 'no' },
          CapDrop: [...HARDENING.capDrop],
          SecurityOpt: [...HARDENING.securityOpt],
          Memory: spec.limits.memoryBytes,
          MemorySwap: spec.limits.memoryBytes,
          NanoCpus: spec.limits.nanoCpus,
          PidsLimit: spec.limits.pids,
          ReadonlyRootfs: spec.readOnlyRootfs,
          Tmpfs: { ...spec.tmpfs },
          Mounts: engineMounts(spec),
          PortBindings: bindings,
          ...(spec.network ? { NetworkMode: spec.network } : {}),
        },
      }),
    );
    try {
      await this.putFiles(container.id, spec);
    } catch (err) {
      await this.remove(container.id, { force: true }).catch(() => undefined); // never leave a container without its files
      throw err;
    }
    const info = await this.inspect(container.id);
    if (!info) throw new NapboxError('engine_error', `container ${spec.name} vanished right after it was created`);
    return info;
  }

  /** One archive per mount that holds files (the engine refuses an archive at / on a read-only root filesystem). */
  private async putFiles(id: string, spec: ContainerSpec): Promise<void> {
    const byRoot = new Map<string, TarFile[]>();
    for (const file of spec.files ?? []) {
      const root = mountHolding(file.path, spec.mounts)?.target ?? '/';
      const name = root === '/' ? file.path.slice(1) : file.path.slice(root.length + 1);
      const content = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
      byRoot.set(root, [...(byRoot.get(root) ?? []), { name, content, mode: file.mode ?? DEFAULT_FILE_MODE, uid: 0, gid: 0 }]);
    }
    for (const [root, files] of byRoot) {
      await this.call(`put ${files.length} file(s) into ${id.slice(0, 12)}:${root}`, () =>
        // Without copyUIDGID the engine makes every extracted file root's (the container's user must not own them).
        this.docker.getContainer(id).putArchive(packTar(files), { path: root }),
      );
    }
  }

  async readFile(id: string, filePath: string): Promise<ContainerFileInfo | undefined> {
    return this.call(`read ${filePath} in ${id.slice(0, 12)}`, async () => {
      const stream = await absentAs(undefined, () => this.docker.getContainer(id).getArchive({ path: filePath }));
      if (!stream) return undefined;
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
      const entry = firstTarEntry(Buffer.concat(chunks));
      if (entry?.type !== 'file') return undefined;
      return { content: entry.content, mode: entry.mode, uid: entry.uid, gid: entry.gid };
    });
  }

  async start(id: string): Promise<void> {
    // 304: already started
    await this.call(`start container ${id.slice(0, 12)}`, () => absentAs(undefined, () => this.docker.getContainer(id).start(), [304]));
  }

  async stop(id: string, graceSeconds: number): Promise<void> {
    const container = this.docker.getContainer(id);
    await this.call(`stop container ${id.slice(0, 12)}`, () =>
      absentAs(
        undefined,
        async () => {
          // A frozen (paused) container can receive no signal: thaw it so the stop can happen.
          if ((await container.inspect()).State.Paused) await container.unpause();
          await container.stop({ t: graceSeconds });
        },
        [304, 404], // already stopped, or gone
      ),
    );
  }

  readonly canPause = true;

  async pause(id: string): Promise<void> {
    // 409 "already paused" is the outcome asked for; 409 "not running" is not
    const already = (err: unknown): boolean => statusCode(err) === 409 && /already paused/i.test(engineMessage(err));
    await this.call(`pause container ${id.slice(0, 12)}`, () => absentAs(undefined, () => this.docker.getContainer(id).pause(), [], already));
  }

  async unpause(id: string): Promise<void> {
    // "is not paused" (running, or stopped; 409 or 500 by engine version): nothing to thaw
    const notPaused = (err: unknown): boolean => /is not paused/i.test(engineMessage(err));
    await this.call(`unpause container ${id.slice(0, 12)}`, () => absentAs(undefined, () => this.docker.getContainer(id).unpause(), [409], notPaused));
  }

  async memoryUsage(id: string): Promise<number | undefined> {
    return this.call(`read the memory of container ${id.slice(0, 12)}`, async () => {
      const stats = (await absentAs(undefined, () => this.docker.getContainer(id).stats({ stream: false }))) as
        | { memory_stats?: { usage?: number; stats?: { inactive_file?: number; total_inactive_file?: number } } }
        | undefined;
      const memory = stats?.memory_stats;
      if (typeof memory?.usage !== 'number') return undefined;
      // As `docker stats` shows it: without the page cache the kernel can drop (cgroup v2 names, then v1).
      const cache = memory.stats?.inactive_file ?? memory.stats?.total_inactive_file ?? 0;
      return Math.max(0, memory.usage - cache);
    });
  }

  async remove(id: string, options: { force?: boolean } = {}): Promise<void> {
    // 404: already gone; 409 "removal already in progress" is the same outcome.
    const inProgress = (err: unknown): boolean => statusCode(err) === 409 && /already in progress/.test(engineMessage(err));
    await this.call(`remove container ${id.slice(0, 12)}`, () =>
      absentAs(undefined, () => this.docker.getContainer(id).remove({ force: options.force ?? false, v: false }), [404], inProgress),
    );
  }

  async inspect(id: string): Promise<ContainerInfo | undefined> {
    return this.call(`inspect container ${id.slice(0, 12)}`, async () => {
      const data = await absentAs(undefined, () => this.docker.getContainer(id).inspect());
      if (!data) return undefined;
      const networks = Object.values(data.NetworkSettings?.Networks ?? {});
      const bridgeIp = networks.map((n) => n.IPAddress).find((ip) => typeof ip === 'string' && ip.length > 0) ?? null;
      const published: Record<number, Endpoint> = {};
      for (const [key, binds] of Object.entries(data.NetworkSettings?.Ports ?? {})) {
        const match = PORT_KEY.exec(key);
        const hostPort = binds?.[0]?.HostPort;
        if (match && hostPort) published[Number(match[1])] = { host: this.address.publish.dialHost, port: Number(hostPort) };
      }
      return {
        id: data.Id,
        name: data.Name.replace(/^\//, ''),
        image: data.Config.Image,
        labels: data.Config.Labels ?? {},
        status: data.State.Status as ContainerStatus,
        running: data.State.Running,
        exitCode: data.State.Running || data.State.Status === 'created' ? null : data.State.ExitCode,
        oomKilled: data.State.OOMKilled,
        bridgeIp,
        published,
      };
    });
  }

  async findByLabels(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]> {
    const list = await this.call('list containers', () => this.docker.listContainers({ all: true, filters: labelFilters(labels) }));
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      labels: c.Labels ?? {},
      status: c.State as ContainerStatus,
    }));
  }

  async logs(id: string, options: { tail: number }): Promise<string> {
    return this.call(`read logs of ${id.slice(0, 12)}`, () =>
      absentAs('', async () => {
        const raw = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: options.tail, follow: false })) as unknown as Buffer;
        return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
      }),
    );
  }

  async followLogs(id: string, options: { tail: number; since?: number; signal: AbortSignal }): Promise<NodeJS.ReadableStream> {
    const since = options.since === undefined ? {} : { since: engineSince(options.since) };
    const raw = (await this.call(`follow logs of ${id.slice(0, 12)}`, () =>
      this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: options.tail, follow: true, ...since }),
    )) as unknown as NodeJS.ReadableStream & { destroy(): void };
    const text = new PassThrough();
    return pipeFollowedLogs(this.docker.modem, raw, text, options.signal);
  }
}
