// A swarm service's files (ContainerSpec.files, for engines that do not share
// napbox's filesystem): put in before the first task starts, and read back.
//
// - A file in a volume is written into the volume through a plain container
//   made for that only (never started, removed at once) by the Docker driver,
//   which puts files through the engine's archive API; a `fresh` volume is
//   made anew first. The volume then holds it for every task, as it would
//   for a container.
// - Any other file (in the container's own filesystem) is a swarm config,
//   mounted by swarm as a root-owned file with its mode; configs are named by
//   a hash of the file, labelled like the service, and removed with it.
// - Reading: from the service's task container when it has one; before its
//   first task, from its configs, else through a plain container with the
//   service's image and volumes (never started, removed at once).
// Both helper containers run on this engine: the node tasks are pinned to.

import crypto from 'node:crypto';
import type Docker from 'dockerode';
import type { ContainerFile, ContainerFileInfo, ContainerSpec, MountSpec } from './container-driver.js';
import { DEFAULT_FILE_MODE, mountHolding } from './container-driver.js';
import type { DockerDriver } from './docker-driver.js';
import { z } from 'zod';
import { absentAs, parseEngine, statusCode } from './engine-client.js';
import { configName, splitFiles, withoutDriverLabels, type ConfigFile, type ServiceData } from './swarm-service.js';

type Call = <T>(what: string, fn: () => Promise<T>) => Promise<T>;

/** `POST /configs/create` answers `{ID}` (dockerode may hand it over as `{id}`). */
const CreatedSchema = z.union([z.object({ ID: z.string() }), z.object({ id: z.string() })]);
const ConfigSchema = z.object({ ID: z.string(), Spec: z.object({ Data: z.string().optional() }).optional() });

/** What the files need to know of a service: its name, labels, image, volumes and configs, from its spec. */
export interface ServiceFilesView {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly image: string;
  readonly volumes: readonly MountSpec[];
  readonly configs: readonly ConfigFile[];
}

/** The service's image, volumes and configs, as the files helper reads them. */
export function filesView(service: ServiceData): ServiceFilesView {
  const container = service.Spec.TaskTemplate.ContainerSpec ?? {};
  return {
    name: service.Spec.Name,
    labels: withoutDriverLabels(service.Spec.Labels),
    image: container.Image ?? '',
    volumes: (container.Mounts ?? [])
      .filter((m) => m.Type === 'volume' && m.Source && m.Target)
      .map((m) => ({ type: 'volume' as const, source: m.Source!, target: m.Target!, readOnly: m.ReadOnly ?? false })),
    configs: (container.Configs ?? [])
      .filter((c) => c.File?.Name && c.ConfigID)
      .map((c) => ({ path: c.File!.Name!, configId: c.ConfigID!, configName: c.ConfigName ?? '', mode: c.File!.Mode ?? DEFAULT_FILE_MODE })),
  };
}

export class SwarmFiles {
  constructor(
    private readonly docker: Docker,
    private readonly engine: DockerDriver,
    private readonly call: Call,
  ) {}

  /** Makes (or finds) a config for every file outside the spec's volumes. */
  async makeConfigs(spec: ContainerSpec): Promise<ConfigFile[]> {
    const out: ConfigFile[] = [];
    for (const file of splitFiles(spec).asConfigs) {
      const name = configName(spec.name, file);
      const data = Buffer.from(typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content).toString('base64');
      const what = `create config ${name}`;
      const configId = await this.call(what, async () => {
        try {
          const created = parseEngine(CreatedSchema, await this.docker.createConfig({ Name: name, Labels: { ...spec.labels }, Data: data }), what);
          return 'ID' in created ? created.ID : created.id;
        } catch (err) {
          if (statusCode(err) !== 409) throw err;
          return parseEngine(ConfigSchema, await this.docker.getConfig(name).inspect(), what).ID; // the same file, made before
        }
      });
      out.push({ path: file.path, configId, configName: name, mode: file.mode ?? DEFAULT_FILE_MODE });
    }
    return out;
  }

  /** Removes configs no service uses any more; one still in use (or gone) stays as it is. */
  async removeConfigs(configs: readonly ConfigFile[]): Promise<void> {
    for (const c of configs) {
      try {
        await this.docker.getConfig(c.configId).remove();
      } catch {
        /* in use by another service, or gone: either way not ours to force */
      }
    }
  }

  /** Makes the spec's fresh volumes anew and writes the files that live in volumes. */
  async seedVolumes(spec: ContainerSpec): Promise<void> {
    const volumes = spec.mounts.filter((m) => m.type === 'volume');
    for (const m of volumes) if (m.fresh) await this.engine.removeVolume(m.source);
    const { inVolumes } = splitFiles(spec);
    if (inVolumes.length === 0) return;
    const seeder = await this.engine.create(this.helperSpec(spec.name, 'files', spec.image, spec.labels, volumes, inVolumes));
    await this.engine.remove(seeder.id, { force: true });
  }

  async read(view: ServiceFilesView, taskContainer: string | null, filePath: string): Promise<ContainerFileInfo | undefined> {
    if (taskContainer) {
      const found = await this.engine.readFile(taskContainer, filePath);
      if (found || (await this.engine.inspect(taskContainer))) return found;
    }
    const config = view.configs.find((c) => c.path === filePath);
    if (config && !mountHolding(filePath, view.volumes)) {
      const what = `read config ${config.configName}`;
      const raw: unknown = await this.call(what, () => absentAs(undefined, () => this.docker.getConfig(config.configId).inspect()));
      if (raw === undefined) return undefined;
      const data = parseEngine(ConfigSchema, raw, what);
      return { content: Buffer.from(data.Spec?.Data ?? '', 'base64'), mode: config.mode, uid: 0, gid: 0 };
    }
    const reader = await this.engine.create(this.helperSpec(view.name, 'read', view.image, view.labels, view.volumes, []));
    try {
      return await this.engine.readFile(reader.id, filePath);
    } finally {
      await this.engine.remove(reader.id, { force: true });
    }
  }

  /** A plain container that is never started: the image, the volumes, no network, no ports. */
  private helperSpec(
    serviceName: string,
    role: string,
    image: string,
    labels: Readonly<Record<string, string>>,
    volumes: readonly MountSpec[],
    files: readonly ContainerFile[],
  ): ContainerSpec {
    return {
      name: `${serviceName}-${role}-${crypto.randomBytes(4).toString('hex')}`,
      image,
      labels: { ...labels, 'napbox.swarm.helper': role },
      env: {},
      user: '10001:10001',
      limits: { memoryBytes: 64 * 1024 * 1024, nanoCpus: 100_000_000, pids: 16 },
      readOnlyRootfs: false,
      tmpfs: {},
      mounts: volumes.map((m) => ({ type: m.type, source: m.source, target: m.target, readOnly: false })),
      ports: [],
      publish: false,
      stopGraceSeconds: 1,
      files,
    };
  }
}
