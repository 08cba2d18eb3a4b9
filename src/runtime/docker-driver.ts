// ContainerDriver on a Docker engine, through dockerode. The connection and
// the mapping of engine errors to NapboxErrors are engine-client.ts's (the
// Swarm driver shares both): here a missing object is `undefined` or a no-op.

import { PassThrough } from 'node:stream';
import type Docker from 'dockerode';
import { NapboxError } from '../errors.js';
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
  NetworkSpec,
} from './container-driver.js';
import { demuxLogs, pipeFollowedLogs } from './docker-logs.js';
import { followStream, listFiles, splitTag } from './docker-streams.js';
import type { DockerDriverOptions, EngineAddress } from './docker-connection.js';
import { EngineClient, engineMessage, isUnreachable, statusCode } from './engine-client.js';
import { firstTarEntry, packTar, type TarFile } from './tar.js';

const PORT_KEY = /^(\d+)\/tcp$/;

export class DockerDriver implements ContainerDriver {
  /** One bridge for all tenants, inter-container traffic off: measured in bench/networks.ts (docs/architecture.md, "Networks"). */
  readonly networkScope = 'install' as const;
  private readonly ensuring = new Map<string, Promise<void>>();
  private readonly docker: Docker;
  private readonly address: EngineAddress;
  private readonly client: EngineClient;

  /** `client`: an engine connection to share (the Swarm driver's); by default one made from `dockerHost`. */
  constructor(dockerHost: string | undefined = process.env.DOCKER_HOST, options: DockerDriverOptions = {}, client = new EngineClient(dockerHost, options)) {
    this.client = client;
    this.docker = client.docker;
    this.address = client.address;
  }

  /** Where the engine is, for messages (never a secret: no certificate, no key). */
  get shown(): string {
    return this.client.shown;
  }

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.client.call(what, fn);
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
        Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
        ...(spec.cmd ? { Cmd: [...spec.cmd] } : {}),
        User: spec.user,
        ExposedPorts: exposed,
        StopTimeout: spec.stopGraceSeconds,
        HostConfig: {
          Init: true,
          RestartPolicy: { Name: 'no' },
          CapDrop: ['ALL'],
          SecurityOpt: ['no-new-privileges'],
          Memory: spec.limits.memoryBytes,
          MemorySwap: spec.limits.memoryBytes,
          NanoCpus: spec.limits.nanoCpus,
          PidsLimit: spec.limits.pids,
          ReadonlyRootfs: spec.readOnlyRootfs,
          Tmpfs: { ...spec.tmpfs },
          Mounts: spec.mounts.map((m) => ({
            Type: m.type,
            Source: m.source,
            Target: m.target,
            ReadOnly: m.readOnly,
            ...(m.type === 'bind'
              ? { BindOptions: { Propagation: 'rprivate' as const } }
              : { VolumeOptions: { NoCopy: false, Labels: { ...spec.labels }, DriverConfig: { Name: 'local', Options: {} } } }),
          })),
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
      let stream: NodeJS.ReadableStream;
      try {
        stream = await this.docker.getContainer(id).getArchive({ path: filePath });
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
      const entry = firstTarEntry(Buffer.concat(chunks));
      if (entry?.type !== 'file') return undefined;
      return { content: entry.content, mode: entry.mode, uid: entry.uid, gid: entry.gid };
    });
  }

  async start(id: string): Promise<void> {
    await this.call(`start container ${id.slice(0, 12)}`, async () => {
      try {
        await this.docker.getContainer(id).start();
      } catch (err) {
        if (statusCode(err) !== 304) throw err; // already started
      }
    });
  }

  async stop(id: string, graceSeconds: number): Promise<void> {
    await this.call(`stop container ${id.slice(0, 12)}`, async () => {
      const container = this.docker.getContainer(id);
      try {
        // A frozen (paused) container can receive no signal: thaw it so the stop can happen.
        if ((await container.inspect()).State.Paused) await container.unpause();
        await container.stop({ t: graceSeconds });
      } catch (err) {
        if (statusCode(err) !== 304 && statusCode(err) !== 404) throw err;
      }
    });
  }

  async remove(id: string, options: { force?: boolean } = {}): Promise<void> {
    await this.call(`remove container ${id.slice(0, 12)}`, async () => {
      try {
        await this.docker.getContainer(id).remove({ force: options.force ?? false, v: false });
      } catch (err) {
        const code = statusCode(err);
        // 404: already gone; 409 "removal already in progress" is the same outcome.
        if (code !== 404 && !(code === 409 && /already in progress/.test(engineMessage(err)))) throw err;
      }
    });
  }

  async inspect(id: string): Promise<ContainerInfo | undefined> {
    return this.call(`inspect container ${id.slice(0, 12)}`, async () => {
      let data: Docker.ContainerInspectInfo;
      try {
        data = await this.docker.getContainer(id).inspect();
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
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
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const list = await this.call('list containers', () => this.docker.listContainers({ all: true, filters }));
    return list.map((c) => ({
      id: c.Id,
      name: (c.Names[0] ?? '').replace(/^\//, ''),
      labels: c.Labels ?? {},
      status: c.State as ContainerStatus,
    }));
  }

  async logs(id: string, options: { tail: number }): Promise<string> {
    return this.call(`read logs of ${id.slice(0, 12)}`, async () => {
      try {
        const raw = (await this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: options.tail, follow: false })) as unknown as Buffer;
        return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
      } catch (err) {
        if (statusCode(err) === 404) return '';
        throw err;
      }
    });
  }

  async findVolumesByLabels(labels: Readonly<Record<string, string>>): Promise<string[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const list = await this.call('list volumes', () => this.docker.listVolumes({ filters }));
    return (list.Volumes ?? []).map((v) => v.Name);
  }

  async removeVolume(name: string): Promise<void> {
    await this.call(`remove volume ${name}`, async () => {
      try {
        await this.docker.getVolume(name).remove();
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
      }
    });
  }

  async followLogs(id: string, options: { tail: number; signal: AbortSignal }): Promise<NodeJS.ReadableStream> {
    const raw = (await this.call(`follow logs of ${id.slice(0, 12)}`, () =>
      this.docker.getContainer(id).logs({ stdout: true, stderr: true, tail: options.tail, follow: true }),
    )) as unknown as NodeJS.ReadableStream & { destroy(): void };
    const text = new PassThrough();
    return pipeFollowedLogs(this.docker.modem, raw, text, options.signal);
  }

  /**
   * Makes the network unless it exists. Concurrent calls in this process share one; two processes can still
   * both create one (the engine's duplicate check is not atomic), so when a name has more than one network
   * the oldest is kept and the others removed (each process picks the same one), before and after creating.
   */
  async ensureNetwork(spec: NetworkSpec): Promise<void> {
    let pending = this.ensuring.get(spec.name);
    if (!pending) {
      pending = this.call(`create network ${spec.name}`, () => this.makeNetwork(spec)).finally(() => this.ensuring.delete(spec.name));
      this.ensuring.set(spec.name, pending);
    }
    return pending;
  }

  private async makeNetwork(spec: NetworkSpec): Promise<void> {
    if ((await this.dedupeNetwork(spec.name)) > 0) return;
    try {
      await this.docker.createNetwork({
        Name: spec.name,
        Driver: 'bridge',
        Internal: spec.internal,
        Labels: { ...spec.labels },
        CheckDuplicate: true,
        ...(spec.isolated ? { Options: { 'com.docker.network.bridge.enable_icc': 'false' } } : {}),
      });
    } catch (err) {
      if (statusCode(err) !== 409) throw err; // created meanwhile by another caller
    }
    await this.dedupeNetwork(spec.name);
  }

  /** How many networks have this exact name once duplicates are gone (the oldest kept; one in use stays). */
  private async dedupeNetwork(name: string): Promise<number> {
    const same = (await this.docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name);
    if (same.length <= 1) return same.length;
    same.sort((a, b) => String(a.Created).localeCompare(String(b.Created)) || a.Id.localeCompare(b.Id));
    for (const extra of same.slice(1))
      await this.docker
        .getNetwork(extra.Id)
        .remove()
        .catch(() => undefined);
    return 1;
  }

  /** Removes every network of that exact name (by id, so duplicates go too); a missing one is not an error. */
  async removeNetwork(name: string): Promise<void> {
    await this.call(`remove network ${name}`, async () => {
      const same = (await this.docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name || n.Id === name);
      for (const network of same) {
        try {
          await this.docker.getNetwork(network.Id).remove();
        } catch (err) {
          if (statusCode(err) !== 404) throw err;
        }
      }
    });
  }

  async findNetworksByLabels(labels: Readonly<Record<string, string>>): Promise<string[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const list = await this.call('list networks', () => this.docker.listNetworks({ filters }));
    return list.map((n) => n.Name);
  }

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    return this.call(`inspect image ${ref}`, async () => {
      try {
        const data = await this.docker.getImage(ref).inspect();
        return { id: data.Id, tags: data.RepoTags ?? [], labels: data.Config?.Labels ?? {} };
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
    });
  }

  async buildImage(request: BuildRequest): Promise<ImageInfo> {
    const src = listFiles(request.contextDir);
    await this.call(`build image ${request.tag}`, async () => {
      const stream = await this.docker.buildImage(
        { context: request.contextDir, src },
        {
          t: request.tag,
          dockerfile: request.dockerfile,
          labels: { ...request.labels },
          buildargs: { ...request.buildArgs },
          rm: true,
          forcerm: true,
          ...(request.signal ? { abortSignal: request.signal } : {}),
        },
      );
      await followStream(this.docker, stream, request.onLog);
    });
    const info = await this.inspectImage(request.tag);
    if (!info) throw new NapboxError('engine_error', `build of ${request.tag} reported success but the image is missing`);
    return info;
  }

  async importImage(tarball: NodeJS.ReadableStream, tag: string, labels: Readonly<Record<string, string>>): Promise<ImageInfo> {
    const [repo, version] = splitTag(tag);
    const changes = Object.entries(labels).map(([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`);
    await this.call(`import image ${tag}`, async () => {
      const stream = (await this.docker.importImage(tarball, { repo, tag: version, changes } as object)) as NodeJS.ReadableStream;
      await followStream(this.docker, stream);
    });
    const info = await this.inspectImage(tag);
    if (!info) throw new NapboxError('engine_error', `import of ${tag} reported success but the image is missing`);
    return info;
  }

  async pullImage(ref: string): Promise<boolean> {
    try {
      const stream = await this.docker.pull(ref);
      await followStream(this.docker, stream);
      return true;
    } catch (err) {
      if (isUnreachable(err) && !(err instanceof NapboxError)) {
        // the engine itself, not the registry, is unreachable: that is worth an error
        await this.ping();
      }
      return false;
    }
  }

  async tagImage(ref: string, tag: string): Promise<void> {
    const [repo, version] = splitTag(tag);
    await this.call(`tag image ${ref} as ${tag}`, () => this.docker.getImage(ref).tag({ repo, tag: version }));
  }

  async removeImage(ref: string): Promise<void> {
    await this.call(`remove image ${ref}`, async () => {
      try {
        await this.docker.getImage(ref).remove({ force: false, noprune: false });
      } catch (err) {
        if (statusCode(err) !== 404) throw err;
      }
    });
  }

  async findImagesByLabels(labels: Readonly<Record<string, string>>): Promise<ImageInfo[]> {
    const filters = { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
    const list = await this.call('list images', () => this.docker.listImages({ filters }));
    return list.map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], labels: i.Labels ?? {} }));
  }
}
