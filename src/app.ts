// The composition root: where napbox's services are built, wired and started.
// Each service is given what it uses from here (it builds only private helpers
// of its own: ImageAdmin its build queue, MountPreparer its allowlist
// watcher), and nothing else opens the database. `src/index.ts` reads the
// config and runs it as a process; tests run it the same way (with a fake
// engine driver, a clock, a logger of their own).
//
// Three steps, in order:
// 1. Preflight: the engine answers, and the agent image is there (set-up builds
//    it; this only checks its content-hash tag).
// 2. Build: every part is constructed (constructors start nothing: no timer,
//    no watcher, no engine call). Parts that react to what happens to tenants
//    subscribe to the typed tenant-event stream (src/tenants/tenant-events.ts)
//    once every part exists, so nothing is patched in later.
// 3. Start: each part is started in order, and what it opened is registered in
//    the Lifetime at once; close() and a start-up that fails half-way both
//    close exactly what was opened, newest first (src/lifetime.ts).

import net from 'node:net';
import path from 'node:path';
import type { Config } from './config/config.js';
import { openCoordinationConnection, openDatabase } from './db/database.js';
import { newPeerId, Peers } from './cluster/peers.js';
import { TenantLocks } from './tenants/tenant-locks.js';
import { createLogger, type Logger } from './log.js';
import { loadInstallId } from './install-id.js';
import type { ContainerDriver } from './runtime/container-driver.js';
import { DockerDriver } from './runtime/docker-driver.js';
import { SwarmDriver } from './runtime/swarm-driver.js';
import { requireAgentImage } from './images/agent-image.js';
import { TenantStore } from './tenants/tenant-store.js';
import { Lifecycle } from './tenants/lifecycle.js';
import { DEFAULT_BREAKER } from './tenants/breaker.js';
import { TenantEvents } from './tenants/tenant-events.js';
import { Lifetime } from './lifetime.js';
import { BuildStore } from './images/build-store.js';
import { LeaseTable } from './tenants/leases.js';
import { Sweeper } from './sweep/sweep.js';
import { ActivityTracker } from './tenants/activity.js';
import { TenantService, type TenantView } from './tenants/tenant-service.js';
import { reconcile } from './tenants/reconcile.js';
import { AdminAuth, loadOrCreateKey } from './api/auth.js';
import { AdminApi } from './api/admin-api.js';
import { TenantAccess } from './api/tenant-access.js';
import { SessionRevocations } from './api/session-revocations.js';
import { TenantProxy } from './router/tenant-proxy.js';
import { createServer } from './router/server.js';
import { ConnectionRelay } from './router/connection-relay.js';
import { ConnectionGate, connectionCap, openFilesSoftLimit } from './router/connection-gate.js';
import { TrustedProxies } from './router/forwarded-headers.js';
import { dashboardFiles } from './dashboard/dashboard-page.js';
import { LiveEvents } from './dashboard/live-events.js';
import { WakeHistory } from './tenants/wake-history.js';
import { MessageStore } from './messages/message-store.js';
import { ChatHub } from './messages/chat-hub.js';
import { ReplyRelay } from './messages/reply-relay.js';
import { Dispatcher } from './messages/dispatcher.js';
import { ChannelPool } from './messages/runner-channel.js';
import { MessageService } from './messages/message-service.js';
import { ChatSocket } from './router/chat-socket.js';
import { ImageAdmin } from './images/image-admin.js';
import { Metrics } from './metrics/metrics.js';
import { MountPreparer } from './mounts/prepare-mounts.js';
import { GroupsWatcher } from './groups/groups-watcher.js';
import { archiveTenantFiles } from './groups/group-archive.js';
import { removeOrphanNetworks } from './tenants/orphan-networks.js';
import { sharedNetwork } from './runtime/container-spec.js';
import { projectRoot } from './project-root.js';
import { pidNamespace, type ServerFile, writeServerFile } from './server-file.js';
import { PublicLinks } from './config/public-url.js';

export interface Napbox {
  /** Where napbox listens (what the CLI uses). */
  readonly url: string;
  readonly installId: string;
  /** The links napbox hands out: NAPBOX_PUBLIC_URL's, or its own address without one. */
  readonly links: PublicLinks;
  close(): Promise<void>;
}

export interface AppOverrides {
  readonly driver?: ContainerDriver;
  readonly logger?: Logger;
  readonly clock?: () => number;
  readonly projectDir?: string;
}

/** The upstream mode in force: the bridge address where the engine is local to Linux, else published ports. */
function upstreamMode(config: Config): 'bridge' | 'published' {
  if (config.upstream !== 'auto') return config.upstream;
  const local = config.dockerHost === undefined || config.dockerHost.startsWith('unix://');
  return local && process.platform === 'linux' ? 'bridge' : 'published';
}

/** The engine driver NAPBOX_DRIVER names, on the engine DOCKER_HOST names. */
function makeDriver(config: Config): ContainerDriver {
  const options = { publishAddress: config.publishAddress };
  // A swarm task that is not running by the wake deadline is given up (scaled back to 0), not left to start later.
  return config.driver === 'swarm'
    ? new SwarmDriver(config.dockerHost, { ...options, startTimeoutMs: config.wakeTimeoutMs })
    : new DockerDriver(config.dockerHost, options);
}

/** What every part is built from: the config, and the facts preflight established. */
interface Ground {
  readonly config: Config;
  readonly logger: Logger;
  readonly clock: () => number;
  readonly installId: string;
  readonly driver: ContainerDriver;
  readonly baseImage: string;
  readonly upstream: 'bridge' | 'published';
}

export async function startNapbox(config: Config, overrides: AppOverrides = {}): Promise<Napbox> {
  const logger = overrides.logger ?? createLogger(config.logLevel, config.logFormat);
  const lifetime = new Lifetime((part, err) => logger.error({ err, part }, 'closing a part of napbox failed'));
  try {
    const ground = await preflight(config, overrides, logger);
    const parts = build(ground, lifetime);
    wire(ground, parts);
    return await start(ground, parts, lifetime);
  } catch (err) {
    await lifetime.close(); // what was opened before the failure, newest first
    throw err;
  }
}

async function preflight(config: Config, overrides: AppOverrides, logger: Logger): Promise<Ground> {
  const projectDir = overrides.projectDir ?? projectRoot(import.meta.url);
  const driver = overrides.driver ?? makeDriver(config);
  await driver.ping();
  const baseImage = await requireAgentImage({ driver, containerDir: path.join(projectDir, 'container'), caBundle: config.caBundle });
  const installId = loadInstallId(config.dataDir);
  return { config, logger, clock: overrides.clock ?? Date.now, installId, driver, baseImage, upstream: upstreamMode(config) };
}

type Parts = ReturnType<typeof build>;

/** Constructs every part. Opens the databases (registered in `lifetime` at once); starts nothing. */
function build(ground: Ground, lifetime: Lifetime) {
  const { config, logger, clock, installId, driver, baseImage, upstream } = ground;
  const db = openDatabase(config.dataDir);
  lifetime.defer('database', () => void db.close());
  // Other napbox processes may share this data dir: locks, holds and heartbeats go through the database (docs/scale-out.md).
  const coordination = openCoordinationConnection(config.dataDir);
  lifetime.defer('coordination database', () => void coordination.close());

  const events = new TenantEvents((kind, err) => logger.error({ err, event: kind }, 'a tenant event listener failed'));
  const store = new TenantStore(db);
  const activity = new ActivityTracker(clock);
  const wakes = new WakeHistory();
  const peerId = newPeerId();
  const locks = new TenantLocks({ db: coordination, owner: peerId, clock });
  const peers = new Peers({
    db: coordination,
    id: peerId,
    takeDirty: (all) => activity.takeDirty(all),
    stopsByOthers: (now) => locks.stopsByOthers(now),
    events,
    clock,
    logger,
  });
  const mounts = new MountPreparer({
    dataDir: config.dataDir,
    groupsDir: config.groupsDir,
    allowlistFile: config.mountAllowlist,
    logger,
    mode: config.mounts,
    installId,
  });
  const lifecycle = new Lifecycle({
    store,
    driver,
    logger,
    installId,
    baseImage,
    wakeTimeoutMs: config.wakeTimeoutMs,
    upstream,
    clock,
    heartbeatMs: config.heartbeatIntervalMs,
    wakesPerMinute: config.wakesPerMinute,
    breaker: { ...DEFAULT_BREAKER, failures: config.breakerFailures, windowMs: config.breakerWindowMs },
    locks,
    fence: (since) => (peers.hasPeers() ? peers.fence(since, since + peers.deadAfterMs) : Promise.resolve(true)),
    prepareMounts: (slug, tenantConfig) => mounts.prepare(slug, tenantConfig),
    events,
  });

  const leases = new LeaseTable(db);
  const messageStore = new MessageStore(db);
  const metrics = new Metrics({
    tenantStates: () => store.countByState(),
    messageStates: () => messageStore.countByState(),
    pausedMemory: () => store.pausedMemory(),
  });
  const hub = new ChatHub();
  const replies = new ReplyRelay({ messages: messageStore, hub, hasPeers: () => peers.hasPeers() });
  const channels = new ChannelPool({
    channelKey: (slug) => store.channelKey(slug),
    stillRunning: (slug) => lifecycle.verify(slug, 'while processing a message'),
    logger,
    checkEveryMs: Math.min(1000, config.heartbeatIntervalMs),
    clock,
  });
  const dispatcher = new Dispatcher({
    messages: messageStore,
    tenants: store,
    lifecycle,
    activity,
    hub,
    leases,
    channels,
    logger,
    clock,
    owner: peers.id,
    liveOwners: () => peers.live(),
  });
  const messages = new MessageService({ messages: messageStore, tenants: store, dispatcher, activity, hub, clock });

  const images = new ImageAdmin({
    buildStore: new BuildStore(db, config.dataDir, store),
    driver,
    store,
    lifecycle,
    installId,
    baseImage,
    logger,
    recoverInterrupted: !peers.hasPeers(),
    onBuildDone: (outcome, seconds) => {
      metrics.builds.inc({ outcome });
      if (seconds !== null) metrics.buildSeconds.observe({ outcome }, seconds);
    },
  });
  const sweeper = new Sweeper({
    prune: async () => {
      await images.prune();
      await removeOrphanNetworks({ driver, installId, store, logger });
    },
    onTick: (report) => metrics.sweepSeconds.observe(report.ms / 1000),
    store,
    messages: messageStore,
    driver,
    lifecycle,
    activity,
    leases,
    dispatcher,
    channels,
    logger,
    installId,
    clock,
    cluster: { peers, locks },
    intervalMs: config.sweepIntervalMs,
    pausedCap: { count: config.pausedMax, memoryBytes: config.pausedMemoryBytes },
    policy: {
      idleTimeoutMs: config.idleTimeoutMs,
      pauseAfterMs: driver.canPause ? config.pauseAfterMs : 0,
      heartbeatTimeoutMs: config.heartbeatTimeoutMs,
      startGraceMs: Math.min(30_000, config.idleTimeoutMs, config.heartbeatTimeoutMs),
      leaseCapMs: config.leaseMaxMs,
    },
  });

  // The listener is made here, listening only once started; tenant URLs carry the port it got.
  const front = net.createServer({ noDelay: true });
  const links = new PublicLinks({
    publicUrl: config.publicUrl,
    baseDomain: config.baseDomain,
    listenHost: clientHost(config.listen),
    listenPort: () => {
      const address = front.address();
      return address !== null && typeof address === 'object' ? address.port : config.port;
    },
  });
  const tenantUrl = (slug: string): string => links.tenant(slug);
  const tenants = new TenantService({
    store,
    lifecycle,
    activity,
    baseImage,
    tenantUrl,
    clock,
    holds: (slug) => sweeper.holds(slug),
    lastBuilds: (slug) => images.lastBuilds(slug),
    containerImage: async (containerId) => (await driver.inspect(containerId))?.image,
    mountRefusals: (requests) => mounts.refusals(requests),
    wakes,
    events,
    removeFiles: (slug) => {
      const archived = archiveTenantFiles(config.groupsDir, config.dataDir, slug, clock());
      logger.info({ tenant: slug, archived }, 'tenant files taken off the host: its groups/ folder archived, its napbox files removed');
    },
  });
  const live = new LiveEvents<TenantView>({ list: () => tenants.list() });
  const groups = new GroupsWatcher({
    groupsDir: config.groupsDir,
    store,
    tenants,
    logger,
    onApplied: (slug, tenantConfig) => mounts.materialize(slug, tenantConfig),
  });

  const revocations = new SessionRevocations(db, clock);
  const auth = new AdminAuth(loadOrCreateKey(config.dataDir), installId, clock, revocations, { secureCookies: links.secure });
  const access = new TenantAccess(loadOrCreateKey(config.dataDir, 'access.key'), installId, clock, { revocations, tenantUrl, secureCookies: links.secure });
  const chat = new ChatSocket(messages, logger, (slug) => {
    const tenant = store.get(slug);
    return tenant ? (tenant.config.visibility ?? 'public') : undefined;
  });
  const api = new AdminApi({
    auth,
    tenants,
    lifecycle,
    store,
    driver,
    messages,
    logger,
    sweep: () => sweeper.tick(),
    images,
    metrics,
    signInUrl: async (slug) => `${tenantUrl(slug)}_napbox/signin?token=${await access.signInToken(slug)}`,
    events: (req, res) => live.open(req, res),
    onChange: () => live.nudge(),
  });
  const trustedProxies = new TrustedProxies(config.trustedProxies);
  const proxy = new TenantProxy({
    lifecycle,
    store,
    activity,
    logger,
    access,
    trustedProxies,
    startingPageAfterMs: config.startingPageAfterMs,
    observe: {
      held: (delta) => metrics.held.inc(delta),
      answered: (seconds) => {
        metrics.proxied.inc({ path: 'proxy' });
        metrics.proxySeconds.observe({ path: 'proxy' }, seconds);
      },
    },
  });
  const server = createServer({
    baseDomain: config.baseDomain,
    api,
    proxy,
    store,
    logger,
    dashboard: dashboardFiles(),
    chat,
    access,
    headTimeoutMs: config.headTimeoutMs,
  });
  // One port: the relay takes each connection first and hands to the HTTP server what it does not relay.
  const relay = new ConnectionRelay({
    baseDomain: config.baseDomain,
    lifecycle,
    activity,
    handOff: (socket) => server.emit('connection', socket),
    mayRelay: (slug) => store.get(slug)?.config.visibility !== 'private', // private tenants check every request
    headTimeoutMs: config.headTimeoutMs,
    trustedProxies,
    logger,
    answered: (seconds) => {
      metrics.proxied.inc({ path: 'relay' });
      metrics.proxySeconds.observe({ path: 'relay' }, seconds);
    },
  });
  // Every accepted connection is counted and capped here, whichever path it then takes.
  const limit = connectionCap(config.maxConnections, openFilesSoftLimit());
  const gate = new ConnectionGate({ maxTotal: limit.cap, maxPerClient: config.maxConnectionsPerClient, trustedProxies, logger });
  front.on('connection', (socket: net.Socket) => {
    try {
      if (gate.admit(socket)) relay.accept(socket);
    } catch (err) {
      logger.error({ err }, 'accepting a connection failed');
      socket.destroy();
    }
  });

  return {
    events,
    store,
    metrics,
    wakes,
    peers,
    mounts,
    lifecycle,
    replies,
    channels,
    dispatcher,
    images,
    sweeper,
    live,
    groups,
    chat,
    proxy,
    relay,
    gate,
    limit,
    front,
    links,
  };
}

/** Subscribes the parts that react to what happens to tenants (every part exists by now). */
function wire(ground: Ground, parts: Parts): void {
  const { events, metrics, wakes, live, channels, lifecycle, relay } = parts;
  const { logger } = ground;
  // Every ready tenant gets its runner channel (heartbeats, leases), not only those with messages.
  events.on('ready', (running) => {
    channels
      .get(running.slug, running.containerId, running.control)
      .catch((err: Error) => logger.warn({ tenant: running.slug, err: err.message }, 'runner channel not opened'));
  });
  events.on('stopped', ({ reason }) => {
    metrics.stops.inc({ reason: reason.kind });
    live.nudge();
  });
  events.on('paused', ({ reason }) => {
    metrics.pauses.inc({ reason: reason.kind });
    live.nudge();
  });
  events.on('thawed', ({ ms }) => metrics.thawSeconds.observe(ms / 1000));
  events.on('wakeDone', ({ slug, outcome, ms }) => {
    wakes.record(slug, outcome, ms);
    live.nudge();
    metrics.wakes.inc({ outcome });
    metrics.wakeSeconds.observe({ outcome }, ms / 1000);
  });
  events.on('stoppingElsewhere', ({ slug }) => lifecycle.forget(slug));
  events.on('changed', ({ slug, visibility }) => {
    if (visibility === 'private') relay.closeTenant(slug); // relayed connections skip the per-request check
    live.nudge();
  });
}

/** Starts the parts in order, registering each in `lifetime` as it starts; listens last. */
async function start(ground: Ground, parts: Parts, lifetime: Lifetime): Promise<Napbox> {
  const { config, logger, installId, driver, baseImage, upstream, clock } = ground;
  const { store, peers, mounts, lifecycle, images, channels, groups, dispatcher, replies, sweeper, front, limit } = parts;

  peers.start();
  lifetime.defer('cluster heartbeat', () => peers.stop());
  await mounts.start();
  lifetime.defer('mount allowlist watcher', () => mounts.close());
  images.start();
  channels.start();
  lifetime.defer('runner channels', () => channels.closeAll());

  const report = await reconcile({ store, driver, installId, logger, now: clock(), busy: (slug) => lifecycle.busy(slug) });
  await removeOrphanNetworks({ driver, installId, store, logger });
  if (driver.networkScope === 'install') await driver.ensureNetwork(sharedNetwork(installId)); // before any wake: one network, made once
  logger.info(
    { installId, driver: config.driver, upstream, baseImage, removed: report.removed, adopted: report.adopted, markedStopped: report.markedStopped },
    'reconciled with the engine',
  );

  await groups.start();
  lifetime.defer('groups watcher', () => groups.close());
  dispatcher.start();
  lifetime.defer('dispatcher', () => {
    // Messages being delivered go back to pending, for the next process.
    const handedBack = dispatcher.handBack();
    if (handedBack.length > 0) logger.info({ messages: handedBack.length }, 'messages being delivered handed back for the next start');
  });
  replies.start();
  lifetime.defer('reply relay', () => replies.stop());
  sweeper.start();
  lifetime.defer('sweep', () => sweeper.stop());

  if (limit.warning) logger.warn({ maxConnections: limit.cap }, limit.warning);
  await listen(front, config, logger);
  lifetime.defer('listener and connections', () => closeFrontDoor(parts));
  const port = (front.address() as net.AddressInfo).port;
  const url = parts.links.local();
  const namespace = pidNamespace();
  const serverFile: ServerFile = { url, pid: process.pid, installId, baseDomain: config.baseDomain, port, ...(namespace ? { pidNamespace: namespace } : {}) };
  // This process's own file (data/servers/<process id>.json): another process on the data dir never overwrites or removes it.
  const removeServerFile = writeServerFile(config.dataDir, peers.id, serverFile);
  lifetime.defer('server file', removeServerFile);
  logger.info({ url, dataDir: config.dataDir, maxConnections: limit.cap, maxConnectionsPerClient: config.maxConnectionsPerClient }, 'napbox listening');

  return { url, installId, links: parts.links, close: () => lifetime.close() };
}

/** The address a client on this machine reaches napbox at: a wildcard listen address is reached on loopback. */
function clientHost(listen: string): string {
  return listen === '0.0.0.0' || listen === '::' ? '127.0.0.1' : listen;
}

function listen(front: net.Server, config: Config, logger: Logger): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    front.once('error', reject);
    front.listen(config.port, config.listen, () => {
      front.off('error', reject);
      // Past start-up an error here is an accept that failed (EMFILE...): logged, napbox keeps serving.
      front.on('error', (err) => logger.error({ err }, 'accepting connections failed'));
      resolve();
    });
  });
}

/**
 * Stops accepting; tells what waits for a wake 503 (Retry-After); then closes every connection napbox
 * tracks (held, relayed, upgraded, idle keep-alive: the gate has them all) and waits for the listener.
 */
async function closeFrontDoor(parts: Parts): Promise<void> {
  const { front, proxy, chat, live, relay, gate } = parts;
  const closed = new Promise<void>((resolve) => front.close(() => resolve()));
  proxy.drain();
  chat.close();
  live.close();
  await new Promise((resolve) => setTimeout(resolve, 50)); // the 503s on their way out
  relay.closeAll();
  gate.closeAll();
  proxy.close();
  await closed;
}

/** Creates the `demo` tenant when there is none at all, as a first run should. */
export function ensureDemoTenant(config: Config): boolean {
  const db = openDatabase(config.dataDir);
  try {
    const store = new TenantStore(db);
    if (store.count() > 0) return false;
    try {
      store.create('demo', {}, Date.now());
    } catch (err) {
      if ((err as { code?: string }).code === 'conflict') return false; // another napbox process starting on the same data dir made it
      throw err;
    }
    return true;
  } finally {
    db.close();
  }
}
