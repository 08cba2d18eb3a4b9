// The napbox runner: PID 1's only child in every tenant container (the
// engine's init is PID 1). It owns:
// - the tenant's HTTP app on $PORT (8080): the built-in page (app.mjs), or
//   the tenant's own command from NAPBOX_APP_COMMAND (tenant-app.mjs), which
//   must listen there;
// - the control port $NAPBOX_CONTROL_PORT (8081, control.mjs): GET /ready
//   answers 200 only once the app accepts connections (app-readiness.mjs);
// - the channel, the messages and their provider, and the busy leases
//   (services.mjs; the protocol is docs/container-contract.md);
// - a clean exit on SIGTERM, so a stop never waits out the grace period:
//   channel connections are closed and running commands killed first.
//
// A cold start waits for the tenant's app, so nothing of the runner's sits in
// front of it: this file statically loads only what reading the settings and
// spawning a tenant's app need (config.mjs, log.mjs, tenant-app.mjs); the app
// starts (or the built-in page listens), then the control port and the
// readiness watch load and listen, and the services load only after the app
// is ready (scheduleServices). Node built-ins are taken with
// process.getBuiltinModule: an ESM import of node:http evaluates its
// WebSocket getter, which loads undici (about 30 ms on Node 24). The marks of
// this sequence are logged ("runner ready": `processStart`, ms since the
// epoch, and `marks`, ms since then) so a slow start names its stage.
//
// This file is the composition root: settings are read once and passed
// down; no other module reads the environment.

import { loadRunnerConfig } from './config.mjs';
import { createLog } from './log.mjs';
import { adoptTenantApp, startTenantApp } from './tenant-app.mjs';

const marks = { main: performance.now() };
const mark = (name) => {
  marks[name] ??= performance.now();
};

let log = createLog(process.env.NAPBOX_TENANT ?? 'unknown');
const closers = [];
let stopping = false;

async function shutdown(signal, code = 0) {
  if (stopping) return;
  stopping = true;
  log('stopping', { signal });
  const timer = setTimeout(() => process.exit(code), 3000);
  timer.unref();
  // What starts while closing (services still loading when the signal came) registers its closer late: close it too.
  while (closers.length > 0) await Promise.allSettled(closers.splice(0).map((close) => close()));
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

/** How long the built-in page may go without a first request before the services load anyway. */
const BUILT_IN_QUIET_MS = 20;

const delay = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** After the I/O already waiting (an answer being written, a request that arrived) has been handled. */
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/**
 * Imports services.mjs a piece at a time, heaviest first, yielding to I/O between pieces, so a request that
 * arrives meanwhile waits for one piece at most (about 10 ms), not for all of them (about 40 ms). The list is
 * only a hint of what services.mjs loads: a piece missing from it only makes the last step bigger.
 */
async function importServices() {
  const require = process.getBuiltinModule('node:module').createRequire(import.meta.url);
  for (const builtin of ['node:tls', 'node:https', 'node:zlib', 'ws']) {
    require(builtin);
    await nextTurn();
  }
  for (const file of ['./channel/channel-server.mjs', './messages/process-message.mjs', './providers/index.mjs']) {
    await import(file);
    await nextTurn();
  }
  return import('./services.mjs');
}

function fail(err) {
  log('runner failed', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
}

/** The marks, rounded to 0.1 ms, and when the process started (ms since the epoch). */
function markFields() {
  const rounded = Object.fromEntries(Object.entries(marks).map(([k, v]) => [k, Math.round(v * 10) / 10]));
  return { processStart: Math.round(performance.timeOrigin * 10) / 10, marks: rounded };
}

/** Starts the app: spawns a tenant's own, or makes the built-in page listen (a promise of its handle). */
function launchApp(config) {
  if (config.appCommand) {
    const exit = (code) => process.exit(code);
    if (config.appPid !== null) {
      // launch.sh started it before this process, and waited for it to listen: spawned at 0 ms or before.
      marks.appSpawned = 0;
      marks.appAdopted = 0;
      closers.push(adoptTenantApp({ pid: config.appPid, log, exit, stopping: () => stopping }).close);
      return undefined;
    }
    const app = startTenantApp({ config, log, exit, stopping: () => stopping });
    closers.push(app.close);
    mark('appSpawned');
    return undefined;
  }
  const builtIn = import('./app.mjs').then(({ startApp }) => startApp({ tenant: config.tenant, port: config.appPort, log }));
  builtIn.then((app) => {
    closers.push(app.close);
    mark('appListening');
  }, fail);
  return builtIn;
}

/**
 * When the services load: once the app is first ready and napbox has its answer; for the built-in page, which
 * shares this process, also only once it has answered its first request (or BUILT_IN_QUIET_MS passed without
 * one), so its first visitor does not wait behind them. A lease or a channel upgrade that comes before the app
 * is ready loads them at once (the app is still starting: nothing waits on this process yet).
 * Returns `{ due, needServices }`: `due` settles once they are loaded.
 */
function scheduleServices({ config, readiness, builtIn, attach }) {
  let services;
  const load = () => {
    services ??= importServices().then(({ startServices }) => {
      const loaded = startServices({ config, log });
      closers.push(loaded.close);
      attach(loaded);
      mark('servicesLoaded');
      return loaded;
    });
    return services;
  };
  const quiet = () => (config.appCommand ? nextTurn() : builtIn.then((app) => Promise.race([app.firstAnswer, delay(BUILT_IN_QUIET_MS)])));
  const due = readiness.whenFirstReady().then(quiet).then(load);
  return { due, needServices: () => (readiness.firstReadyAt === null ? load() : due) };
}

async function main() {
  const config = loadRunnerConfig(process.env);
  log = createLog(config.tenant);
  mark('config');
  const builtIn = launchApp(config);

  const [{ AppReadiness }, { startControl }] = await Promise.all([import('./app-readiness.mjs'), import('./control.mjs')]);
  const readiness = new AppReadiness({ port: config.appPort });
  if (config.appCommand) readiness.watch();
  else builtIn.then(() => readiness.listening(), fail);

  let control;
  const { due, needServices } = scheduleServices({ config, readiness, builtIn, attach: (loaded) => control.attach(loaded) });
  control = startControl({ port: config.controlPort, tenant: config.tenant, readiness, needServices, onReadyAnswered: () => mark('readyAnswered') });
  closers.push(control.close);
  control.listening.then(() => mark('controlListening'), fail);

  Promise.all([due, builtIn])
    .then(([, app]) => app?.preload())
    .then(() => {
      marks.appReady = readiness.firstReadyAt;
      log('runner ready', {
        appPort: config.appPort,
        controlPort: config.controlPort,
        provider: config.provider?.kind ?? null,
        ...markFields(),
      });
    }, fail);
}

main().catch(fail);
