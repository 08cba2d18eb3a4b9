// The objects a Docker engine keeps on its own node, the same whether napbox
// runs tenants as containers or as swarm services: images (ImageDriver),
// volumes and networks (NetworkVolumeDriver). DockerDriver and SwarmDriver
// extend this class and add their workloads; they differ here only in the
// kind of network they make (`networkBody`: a bridge, or an attachable
// overlay) and in how long a removal waits out a network still in use.
//
// Invariants:
// - A missing image, volume or network is `undefined` or a no-op, never an
//   error (`absentAs`).
// - `ensureNetwork` leaves one network of the name: concurrent calls in this
//   process share one creation; two processes can still both create one (the
//   engine's duplicate check is not atomic), so when a name has more than one
//   network the oldest is kept and the others removed (every process picks
//   the same one), before and after creating.
// - Images are built, imported and kept on this engine's node, the one
//   workloads run on (the Swarm driver pins tasks to it).

import type Docker from 'dockerode';
import { setTimeout as sleep } from 'node:timers/promises';
import { NapboxError } from '../errors.js';
import type { BuildRequest, ImageDriver, ImageInfo, ImageNode, NetworkScope, NetworkSpec, NetworkVolumeDriver } from './container-driver.js';
import { followStream, listFiles, splitTag } from './docker-streams.js';
import { absentAs, type EngineClient, engineMessage, isUnreachable, labelFilters, statusCode } from './engine-client.js';

export abstract class EngineObjects implements ImageDriver, NetworkVolumeDriver {
  abstract readonly networkScope: NetworkScope;
  protected readonly docker: Docker;
  private readonly ensuring = new Map<string, Promise<void>>();

  /**
   * `networkInUseMs`: how long `removeNetwork` retries a network the engine
   * still calls in use (an overlay stays so for a moment after its last task
   * went); 0 fails at once.
   */
  constructor(
    protected readonly client: EngineClient,
    private readonly networkInUseMs = 0,
  ) {
    this.docker = client.docker;
  }

  /** Where the engine is, for messages (never a secret: no certificate, no key). */
  get shown(): string {
    return this.client.shown;
  }

  protected call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    return this.client.call(what, fn);
  }

  // ---- images ----

  async inspectImage(ref: string): Promise<ImageInfo | undefined> {
    const data = await this.call(`inspect image ${ref}`, () => absentAs(undefined, () => this.docker.getImage(ref).inspect()));
    return data && { id: data.Id, tags: data.RepoTags ?? [], labels: data.Config?.Labels ?? {} };
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
        await this.call('ping', () => this.docker.ping());
      }
      return false;
    }
  }

  async tagImage(ref: string, tag: string): Promise<void> {
    const [repo, version] = splitTag(tag);
    await this.call(`tag image ${ref} as ${tag}`, () => this.docker.getImage(ref).tag({ repo, tag: version }));
  }

  async removeImage(ref: string): Promise<void> {
    await this.call(`remove image ${ref}`, () => absentAs(undefined, () => this.docker.getImage(ref).remove({ force: false, noprune: false })));
  }

  async findImagesByLabels(labels: Readonly<Record<string, string>>): Promise<ImageInfo[]> {
    const list = await this.call('list images', () => this.docker.listImages({ filters: labelFilters(labels) }));
    return list.map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], labels: i.Labels ?? {} }));
  }

  async listImageTree(): Promise<ImageNode[]> {
    const list = await this.call('list images', () => this.docker.listImages({ all: true }));
    return list.map((i) => ({ id: i.Id, tags: i.RepoTags ?? [], labels: i.Labels ?? {}, parent: i.ParentId ? i.ParentId : null }));
  }

  // ---- volumes ----

  async findVolumesByLabels(labels: Readonly<Record<string, string>>): Promise<string[]> {
    const list = await this.call('list volumes', () => this.docker.listVolumes({ filters: labelFilters(labels) }));
    return (list.Volumes ?? []).map((v) => v.Name);
  }

  async removeVolume(name: string): Promise<void> {
    await this.call(`remove volume ${name}`, () => absentAs(undefined, () => this.docker.getVolume(name).remove()));
  }

  // ---- networks ----

  /** The body of `POST /networks/create` for this driver's kind of network. */
  protected abstract networkBody(spec: NetworkSpec): Docker.NetworkCreateOptions;

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
    // 409: created meanwhile by another caller
    await absentAs(undefined, () => this.docker.createNetwork(this.networkBody(spec)), [409]);
    await this.dedupeNetwork(spec.name);
  }

  /** The networks of exactly this name (the engine's name filter also matches parts of names), or this id. */
  private async networksNamed(name: string): Promise<Docker.NetworkInspectInfo[]> {
    return (await this.docker.listNetworks({ filters: { name: [name] } })).filter((n) => n.Name === name || n.Id === name);
  }

  /** How many networks have this exact name once duplicates are gone (the oldest kept; one in use stays). */
  private async dedupeNetwork(name: string): Promise<number> {
    const same = (await this.networksNamed(name)).filter((n) => n.Name === name);
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
      const deadline = Date.now() + this.networkInUseMs;
      for (const network of await this.networksNamed(name)) {
        for (;;) {
          try {
            await absentAs(undefined, () => this.docker.getNetwork(network.Id).remove());
            break;
          } catch (err) {
            const inUse = [403, 409, 500].includes(statusCode(err) ?? 0) && /in use|active endpoints/i.test(engineMessage(err));
            if (!inUse || Date.now() >= deadline) throw err;
            await sleep(100);
          }
        }
      }
    });
  }

  async findNetworksByLabels(labels: Readonly<Record<string, string>>): Promise<string[]> {
    const list = await this.call('list networks', () => this.docker.listNetworks({ filters: labelFilters(labels) }));
    return list.map((n) => n.Name);
  }
}
