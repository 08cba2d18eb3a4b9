// ContainerDriver on Docker Swarm, through dockerode's service and task API
// (never the CLI). A tenant's "container" is a swarm service with 0 or 1
// replicas; its id is the service id. The spec mapping and the reading of
// task states are pure (swarm-service.ts); this file does the engine calls.
//
// Invariants it keeps, on top of the driver contract:
// - `create` makes the service at 0 replicas; the service name is unique in
//   the swarm, so a second create is 'conflict' and makes nothing.
// - `start` scales to 1 (or, when the one replica's task has ended, forces a
//   new task) and resolves once the engine reports the new task running or
//   ended; it reads task state from the engine, bounded by a deadline, and a
//   start that fails leaves the service at 0 replicas.
// - `stop` scales to 0 and resolves once swarm has deleted the task (swarm
//   ignores a scale-up while it still removes the old task); a container
//   that outlasts `graceSeconds` is killed. The exit code the deleted task
//   had is kept in a service label.
// - Tasks run on the node napbox talks to (placement constraint): images are
//   built there, and volumes and bind sources live there. So the calls that
//   read a task's container (its gateway address, OOM, unpause, kill) go to
//   this same engine.
// - Images, volumes and networks are the engine's own objects, handled as
//   the plain Docker driver handles them (engine-objects.ts, which both
//   extend); only the kind of network differs: attachable overlays.
// - Engine JSON dockerode does not type (services) is read through
//   swarm-service.ts's schemas, never cast.

import net from 'node:net';
import { PassThrough } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type Docker from 'dockerode';
import { z } from 'zod';
import { NapboxError } from '../errors.js';
import type { ContainerDriver, ContainerFileInfo, ContainerInfo, ContainerSpec, ContainerSummary, Endpoint, NetworkSpec } from './container-driver.js';
import { containerFileProblem } from './container-driver.js';
import { SwarmFiles, filesView } from './swarm-files.js';
import { TaskContainers } from './swarm-task-containers.js';
import { SwarmNode } from './swarm-node.js';
import { DockerDriver } from './docker-driver.js';
import type { DockerDriverOptions, EngineAddress } from './docker-connection.js';
import { absentAs, EngineClient, engineMessage, labelFilters, parseEngine } from './engine-client.js';
import { EngineObjects } from './engine-objects.js';
import { demuxLogs, engineSince, pipeFollowedLogs } from './docker-logs.js';
import {
  LABEL_SWARM_EXIT,
  LABEL_SWARM_IMAGE,
  currentTask,
  replicas,
  withoutDriverLabels,
  ServiceSchema,
  type ServiceData,
  type ServiceSpecData,
  isTerminal,
  parseTasks,
  publishedPorts,
  serviceSpec,
  taskState,
  type SwarmTask,
} from './swarm-service.js';

export interface SwarmDriverOptions extends DockerDriverOptions {
  /** How often task state is read while waiting for a task (ms). */
  readonly pollMs?: number;
  /** How long `start` waits for the task to run before it fails (ms). */
  readonly startTimeoutMs?: number;
}

/** How long `start` waits for swarm to make a task before it asks again. */
const NUDGE_MS = 2000;

/** A task a scale-down is removing (swarm deletes it once it has stopped). */
function beingRemoved(task: SwarmTask): boolean {
  return task.DesiredState === 'remove';
}

/** How long removing an overlay retries while the engine still calls it in use (it does for a moment after its last task went). */
const OVERLAY_IN_USE_MS = 10_000;

export class SwarmDriver extends EngineObjects implements ContainerDriver {
  /** An overlay per tenant: swarm cannot turn inter-container traffic off on one (its pool holds 65,536 /24s by default). */
  readonly networkScope = 'tenant' as const;
  private readonly address: EngineAddress;
  /** Plain containers on this node: the engine's liveness, and the helpers that put and read a service's files. */
  private readonly engine: DockerDriver;
  private readonly pollMs: number;
  private readonly startTimeoutMs: number;
  private readonly swarmNode: SwarmNode;
  private readonly files: SwarmFiles;
  private readonly containers: TaskContainers;

  constructor(dockerHost: string | undefined = process.env.DOCKER_HOST, options: SwarmDriverOptions = {}) {
    const client = new EngineClient(dockerHost, options);
    super(client, OVERLAY_IN_USE_MS);
    this.address = client.address;
    this.engine = new DockerDriver(dockerHost, options, client);
    this.swarmNode = new SwarmNode(this.client);
    this.pollMs = options.pollMs ?? 20;
    this.startTimeoutMs = options.startTimeoutMs ?? 60_000;
    this.files = new SwarmFiles(this.docker, this.engine, (what, fn) => this.call(what, fn));
    this.containers = new TaskContainers(this.docker, (what, fn) => this.call(what, fn));
  }

  /** Tenant networks are attachable overlay networks: the only kind a service can join. */
  protected networkBody(spec: NetworkSpec): Docker.NetworkCreateOptions {
    return { Name: spec.name, Driver: 'overlay', Attachable: true, Internal: spec.internal, Labels: { ...spec.labels }, CheckDuplicate: true };
  }

  /** Makes the engine a swarm manager if it is in no swarm (set-up, tests); says what it did. */
  ensureSwarm(): Promise<string> {
    return this.swarmNode.ensure();
  }

  async ping(): Promise<void> {
    await this.engine.ping();
    await this.swarmNode.id();
  }

  async create(spec: ContainerSpec): Promise<ContainerInfo> {
    for (const file of spec.files ?? []) {
      const problem = containerFileProblem(file);
      if (problem) throw new NapboxError('internal', `service ${spec.name}: file ${problem}`);
    }
    const nodeId = await this.swarmNode.id();
    const image = await this.inspectImage(spec.image);
    if (!image) throw new NapboxError('engine_error', `create service ${spec.name} failed: No such image: ${spec.image}`);
    const configs = await this.files.makeConfigs(spec);
    const body = serviceSpec(spec, { imageId: image.id, nodeId, configs });
    let serviceId: string;
    try {
      serviceId = (await this.call(`create service ${spec.name}`, () => this.docker.createService(body as unknown as Docker.CreateServiceOptions))).id;
    } catch (err) {
      await this.files.removeConfigs(configs); // those the existing service uses stay
      throw err;
    }
    try {
      // Fresh volumes anew, files into volumes; then every volume exists (labelled) from create on, as with containers.
      await this.files.seedVolumes(spec);
      for (const m of spec.mounts) {
        if (m.type === 'volume')
          await this.call(`create volume ${m.source}`, () => this.docker.createVolume({ Name: m.source, Driver: 'local', Labels: { ...spec.labels } }));
      }
    } catch (err) {
      await this.remove(serviceId, { force: true }).catch(() => undefined); // never leave a service without its files
      throw err;
    }
    const info = await this.inspect(serviceId);
    if (!info) throw new NapboxError('engine_error', `service ${spec.name} vanished right after it was created`);
    return info;
  }

  async start(id: string): Promise<void> {
    const service = await this.requireService(id, 'start');
    const deadline = Date.now() + this.startTimeoutMs;
    let tasks = await this.tasks([id]);
    const now = taskState(currentTask(tasks));
    if (now.running) return;
    const before = new Set<string>();
    if (!(now.status === 'restarting' && replicas(service) === 1)) {
      // Swarm does not replace a task it is still removing, and does not look again once it is gone: wait for it first.
      if (tasks.some(beingRemoved)) tasks = await this.untilRemoved(id, service.Spec.Name, deadline);
      for (const t of tasks) before.add(t.ID); // not the task this start waits for
      await this.scaleUp(id);
    }
    let nudged = Date.now();
    for (;;) {
      const task = currentTask((await this.tasks([id])).filter((t) => !before.has(t.ID)));
      if (task?.Status.State === 'running') return;
      if (task && isTerminal(task)) {
        // It ran and ended (an app that exits at once): the caller reads the exit code. It never ran: say why.
        if (task.Status.State !== 'rejected' && task.Status.ContainerStatus?.ContainerID) return;
        await this.scaleDown(id);
        throw new NapboxError(
          'engine_error',
          `start service ${service.Spec.Name} failed: its task was ${task.Status.State}: ${task.Status.Err ?? task.Status.Message ?? 'no reason given'}`,
        );
      }
      if (Date.now() > deadline) {
        await this.scaleDown(id); // a task still pending must not start later, unasked
        const where = task ? `still ${task.Status.State}${task.Status.Err ? ` (${task.Status.Err})` : ''}` : 'not created';
        throw new NapboxError('engine_error', `start service ${service.Spec.Name}: its task is ${where} after ${Math.round(this.startTimeoutMs / 1000)}s`);
      }
      if (!task && Date.now() - nudged > NUDGE_MS) {
        nudged = Date.now();
        await this.scaleUp(id); // no task yet: make swarm look at the service again
      }
      await sleep(this.pollMs);
    }
  }

  /** One replica; when the service has one already (its task ended), a forced update makes a new task. */
  private scaleUp(id: string): Promise<void> {
    return this.update(id, 'start', (spec) => {
      if ((spec.Mode.Replicated?.Replicas ?? 0) >= 1) spec.TaskTemplate.ForceUpdate = (spec.TaskTemplate.ForceUpdate ?? 0) + 1;
      spec.Mode = { Replicated: { Replicas: 1 } };
    });
  }

  /** Back to 0 replicas after a start that failed; best effort (the error being thrown says what went wrong). */
  private async scaleDown(id: string): Promise<void> {
    await this.update(id, 'start', (spec) => {
      spec.Mode = { Replicated: { Replicas: 0 } };
    }).catch(() => undefined);
  }

  /** Waits until swarm has deleted the tasks it is removing (a scale-down's); returns the tasks left. */
  private async untilRemoved(id: string, name: string, deadline: number): Promise<SwarmTask[]> {
    for (;;) {
      const tasks = await this.tasks([id]);
      if (!tasks.some(beingRemoved)) return tasks;
      if (Date.now() > deadline)
        throw new NapboxError(
          'engine_error',
          `service ${name}: swarm was still removing its old task ${Math.round((deadline - Date.now()) / 1000 + this.startTimeoutMs / 1000)}s later`,
        );
      await sleep(this.pollMs * 2);
    }
  }

  /**
   * No paused tier on Swarm (yet): the manager does not know a task is frozen
   * (it still counts it as running, and a service update or a node drain
   * would wait on a process that cannot take a signal), and every pause and
   * thaw would go through the engine of the task's node rather than the
   * manager. Idle tenants go from running to stopped, as before.
   */
  readonly canPause = false;

  async pause(id: string): Promise<void> {
    throw new NapboxError('conflict', `service ${id}: swarm services are not paused (NAPBOX_PAUSE_AFTER is for the docker driver)`);
  }

  async unpause(): Promise<void> {
    // nothing is ever paused by napbox here; a task container frozen by hand is thawed by stop()
  }

  async memoryUsage(): Promise<number | undefined> {
    return undefined;
  }

  async stop(id: string, graceSeconds: number): Promise<void> {
    const service = await this.service(id);
    if (!service) return;
    const tasks = await this.tasks([id]);
    const live = tasks.filter((t) => !isTerminal(t));
    if (replicas(service) === 0 && !tasks.some(beingRemoved)) return;
    const containers = live.map((t) => t.Status.ContainerStatus?.ContainerID).filter((c): c is string => !!c);
    // A frozen (paused) container can receive no signal: thaw it so the stop can happen.
    for (const c of containers) await this.containers.unpause(c);
    if (replicas(service) !== 0) {
      await this.update(id, 'stop', (spec) => {
        spec.Mode = { Replicated: { Replicas: 0 } };
      });
    }
    const started = Date.now();
    const deadline = started + graceSeconds * 1000 + 30_000;
    let killed = false;
    // A task that ended on its own has its exit code already (swarm is about to delete it with its container).
    let exitCode: number | null = containers.length === 0 ? taskState(currentTask(tasks)).exitCode : null;
    for (;;) {
      const states = await Promise.all(containers.map((c) => this.containers.state(c)));
      if (states.every((st) => !st.running)) {
        exitCode = states.map((st) => st.exitCode).find((x): x is number => x !== null) ?? exitCode;
        break;
      }
      if (!killed && Date.now() - started > graceSeconds * 1000 + 500) {
        killed = true; // swarm's own grace is the service's StopGracePeriod; the caller asked for less
        for (const c of containers) await this.containers.kill(c);
      }
      if (Date.now() > deadline)
        throw new NapboxError('engine_error', `stop service ${service.Spec.Name}: its task still runs ${graceSeconds + 30}s after it was scaled to 0`);
      await sleep(this.pollMs);
    }
    // Swarm deletes a scaled-down task a few seconds after its container ended (it lets the network's gossip
    // settle first); a start before then would be ignored by swarm, so the stop is over when the task is gone.
    await this.untilRemoved(id, service.Spec.Name, deadline);
    if (exitCode !== null && service.Spec.Labels?.[LABEL_SWARM_EXIT] !== String(exitCode)) {
      const code = String(exitCode);
      await this.update(id, 'stop', (spec) => {
        spec.Labels = { ...(spec.Labels ?? {}), [LABEL_SWARM_EXIT]: code };
      }).catch(() => undefined); // only what inspect reports once the task is gone
    }
  }

  async remove(id: string, options: { force?: boolean } = {}): Promise<void> {
    const service = await this.service(id);
    if (!service) return;
    const tasks = await this.tasks([id]);
    if (!options.force && taskState(currentTask(tasks)).running) {
      throw new NapboxError('conflict', `remove service ${service.Spec.Name}: its task is running; stop it first`);
    }
    await this.call(`remove service ${service.Spec.Name}`, () => absentAs(undefined, () => this.docker.getService(id).remove()));
    // The task containers go asynchronously; wait for them, so the volumes and network they hold can be removed next.
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline) {
      const left = await this.call('list task containers', () =>
        this.docker.listContainers({ all: true, filters: { label: [`com.docker.swarm.service.id=${id}`] } }),
      );
      if (left.length === 0) {
        await this.files.removeConfigs(filesView(service).configs);
        return;
      }
      await sleep(this.pollMs * 2);
    }
    throw new NapboxError('engine_error', `remove service ${service.Spec.Name}: its task containers were still there 30s later`);
  }

  async inspect(id: string): Promise<ContainerInfo | undefined> {
    const service = await this.service(id);
    if (!service) return undefined;
    const tasks = await this.tasks([id]);
    const task = currentTask(tasks);
    const state = taskState(task);
    let exitCode = state.exitCode;
    let oomKilled = false;
    let running = state.running;
    if (state.status === 'exited' && state.containerId) {
      const container = await this.containers.state(state.containerId);
      running = container.running; // a task being stopped runs until its container ended
      oomKilled = container.oomKilled;
      if (container.exitCode !== null) exitCode = container.exitCode;
    }
    const lastExit = service.Spec.Labels?.[LABEL_SWARM_EXIT];
    if (exitCode === null && !running && replicas(service) === 0 && lastExit !== undefined) exitCode = Number(lastExit);
    const published: Record<number, Endpoint> = {};
    if (running && Object.keys(publishedPorts(task)).length > 0) {
      const dialHost = this.address.publishHost;
      const ports = (state.containerId && (await this.containers.hostPorts(state.containerId, net.isIPv6(dialHost)))) || publishedPorts(task);
      for (const [port, hostPort] of Object.entries(ports)) published[Number(port)] = { host: dialHost, port: hostPort };
    }
    return {
      id: service.ID,
      name: service.Spec.Name,
      image: service.Spec.Labels?.[LABEL_SWARM_IMAGE] ?? service.Spec.TaskTemplate.ContainerSpec?.Image ?? '',
      labels: withoutDriverLabels(service.Spec.Labels),
      status: running ? 'running' : !task && exitCode !== null ? 'exited' : state.status,
      running,
      exitCode,
      oomKilled,
      bridgeIp: running && state.containerId ? await this.containers.gatewayIp(state.containerId) : null,
      published,
    };
  }

  async findByLabels(labels: Readonly<Record<string, string>>): Promise<ContainerSummary[]> {
    const raw = await this.call('list services', () => this.docker.listServices({ filters: labelFilters(labels) }));
    const services = parseEngine(z.array(ServiceSchema), raw, 'list services');
    if (services.length === 0) return [];
    const tasks = await this.tasks(services.map((s) => s.ID));
    return services.map((s) => {
      const task = currentTask(tasks.filter((t) => t.ServiceID === s.ID));
      const state = taskState(task);
      const stopped = !task && s.Spec.Labels?.[LABEL_SWARM_EXIT] !== undefined;
      return { id: s.ID, name: s.Spec.Name, labels: withoutDriverLabels(s.Spec.Labels), status: stopped ? 'exited' : state.status };
    });
  }

  async logs(id: string, options: { tail: number }): Promise<string> {
    const task = currentTask(await this.tasksIfService(id));
    if (!task) return '';
    let text = '';
    if (task.Status.ContainerStatus?.ContainerID) {
      text = await this.call(`read logs of task ${task.ID.slice(0, 12)}`, () =>
        absentAs('', async () => {
          const raw = (await this.taskLogs(task.ID, { stdout: true, stderr: true, tail: options.tail, follow: false })) as Buffer;
          return demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
        }),
      );
    }
    // A task the engine could not run has no output, but it has a reason.
    if (task.Status.Err) text += `${text && !text.endsWith('\n') ? '\n' : ''}swarm: task ${task.Status.State}: ${task.Status.Err}\n`;
    return text;
  }

  async followLogs(id: string, options: { tail: number; since?: number; signal: AbortSignal }): Promise<NodeJS.ReadableStream> {
    const task = currentTask(await this.tasksIfService(id));
    const text = new PassThrough();
    if (!task) {
      text.end();
      return text;
    }
    const raw = (await this.call(`follow logs of task ${task.ID.slice(0, 12)}`, () =>
      this.taskLogs(task.ID, {
        stdout: true,
        stderr: true,
        tail: options.tail,
        follow: true,
        ...(options.since === undefined ? {} : { since: engineSince(options.since) }),
      }),
    )) as unknown as NodeJS.ReadableStream & { destroy(): void };
    return pipeFollowedLogs(this.docker.modem, raw, text, options.signal);
  }

  /** A file in the tenant's current task container. */
  async readFile(id: string, filePath: string): Promise<ContainerFileInfo | undefined> {
    const service = await this.service(id);
    if (!service) return undefined;
    const containerId = taskState(currentTask(await this.tasks([id]))).containerId;
    return this.files.read(filesView(service), containerId, filePath);
  }

  private async service(id: string): Promise<ServiceData | undefined> {
    const what = `inspect service ${id.slice(0, 12)}`;
    const raw: unknown = await this.call(what, () => absentAs(undefined, () => this.docker.getService(id).inspect()));
    return raw === undefined ? undefined : parseEngine(ServiceSchema, raw, what);
  }

  private async requireService(id: string, what: string): Promise<ServiceData> {
    const service = await this.service(id);
    if (!service) throw new NapboxError('engine_error', `${what} service ${id.slice(0, 12)} failed: no such service`);
    return service;
  }

  private async tasks(serviceIds: readonly string[]): Promise<SwarmTask[]> {
    const raw = await this.call('list tasks', () => this.docker.listTasks({ filters: { service: [...serviceIds] } }));
    return parseTasks(raw);
  }

  /** GET /tasks/{id}/logs (dockerode has it; its type definitions do not). */
  private taskLogs(taskId: string, options: { stdout: boolean; stderr: boolean; tail: number; follow: boolean; since?: string }): Promise<unknown> {
    const task = this.docker.getTask(taskId) as unknown as { logs(opts: object): Promise<unknown> };
    return task.logs(options);
  }

  private async tasksIfService(id: string): Promise<SwarmTask[]> {
    return (await this.service(id)) ? this.tasks([id]) : [];
  }

  /** Reads the service, changes its spec, writes it back at that version; retries when another writer came first. */
  private async update(id: string, what: string, change: (spec: ServiceSpecData) => void): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      const service = await this.requireService(id, what);
      const spec = structuredClone(service.Spec);
      change(spec);
      try {
        await this.docker.getService(id).update({ _query: { version: service.Version.Index }, _body: spec });
        return;
      } catch (err) {
        if (attempt < 5 && /out of sequence/i.test(engineMessage(err))) continue;
        await this.call(`${what} service ${service.Spec.Name}`, () => Promise.reject(err));
      }
    }
  }
}
