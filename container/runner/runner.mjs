// The napbox runner: PID 1's only child in every tenant container (the
// engine's init is PID 1). It owns four things:
// - the tenant's HTTP app on $PORT (8080): the built-in page, or the tenant's
//   own command from NAPBOX_APP_COMMAND (a JSON argv), which must listen there;
// - the control port $NAPBOX_CONTROL_PORT (8081): GET /ready answers 200 only
//   once the app accepts connections, so a wake resolves when the tenant can
//   really serve;
// - the channel on the control port (/channel): napbox delivers messages,
//   the tenant's provider answers them (channel/, messages/, providers/;
//   the protocol is docs/container-contract.md);
// - busy leases the tenant takes from inside (leases.mjs: POST /lease on the
//   control port, loopback only), told to napbox over the channel;
// - a clean exit on SIGTERM, so a stop never waits out the grace period:
//   channel connections are closed and running commands killed first.
// If the tenant's own app exits, the runner exits with its code, so napbox
// sees a failed container and reports why instead of serving a dead app.
// This file is the composition root: settings are read once (config.mjs) and
// passed down; no other module reads the environment.

import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { startApp } from './app.mjs';
import { loadRunnerConfig } from './config.mjs';
import { attachChannel, CHANNEL_PATH } from './channel/channel-server.mjs';
import { JobBoard } from './messages/job-board.mjs';
import { MAX_REPLY_BYTES, messageProcessor } from './messages/process-message.mjs';
import { createProvider } from './providers/index.mjs';
import { Leases } from './leases.mjs';

let tenant = process.env.NAPBOX_TENANT ?? 'unknown';

function log(msg, fields = {}) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, tenant, ...fields })}\n`);
}

/** True when something accepts TCP connections on the app port. */
function appAccepts(appPort) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port: appPort });
    socket.setTimeout(200);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
    socket.once('timeout', () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const closers = [];
let stopping = false;

async function shutdown(signal, code = 0) {
  if (stopping) return;
  stopping = true;
  log('stopping', { signal });
  const timer = setTimeout(() => process.exit(code), 3000);
  timer.unref();
  await Promise.allSettled(closers.map((close) => close()));
  process.exit(code);
}

process.on('SIGTERM', () => void shutdown('SIGTERM'));
process.on('SIGINT', () => void shutdown('SIGINT'));

function startTenantApp(config) {
  log('starting tenant app', { argv: config.appCommand });
  const [file, ...args] = config.appCommand;
  const child = spawn(file, args, { stdio: 'inherit', env: { ...config.childEnv, PORT: String(config.appPort) } });
  child.once('error', (err) => {
    log('tenant app failed to start', { error: err.message });
    process.exit(127);
  });
  child.once('exit', (code, signal) => {
    if (stopping) return;
    log('tenant app exited', { code, signal });
    process.exit(code ?? 1);
  });
  closers.push(
    () =>
      new Promise((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  );
}

function startMessages(config) {
  for (const problem of [config.channelProblem, config.providerProblem, config.heartbeatProblem]) {
    if (problem) log('channel setting problem', { problem });
  }
  const provider = config.provider
    ? createProvider(config.provider, { childEnv: config.childEnv, openaiApiKey: config.openaiApiKey, maxReplyBytes: MAX_REPLY_BYTES })
    : null;
  const board = new JobBoard({
    run: messageProcessor({ provider, providerProblem: config.providerProblem, workspace: config.workspace, log }),
  });
  closers.push(async () => board.abortAll());
  return board;
}

async function main() {
  const config = loadRunnerConfig(process.env);
  tenant = config.tenant;
  let builtInReady = false;

  if (config.appCommand) {
    startTenantApp(config);
  } else {
    const app = await startApp({ tenant, port: config.appPort, log });
    closers.push(app.close);
    builtInReady = true;
  }

  let channel;
  const leases = new Leases({ broadcast: (frame) => channel?.broadcast(frame) ?? 0 });
  const control = http.createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://runner').pathname;
    if (leases.handle(req, res, path)) return;
    if (path === '/ready') {
      const ready = builtInReady || (await appAccepts(config.appPort));
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ready, tenant }));
      return;
    }
    if (path === CHANNEL_PATH) {
      res.writeHead(426, { 'content-type': 'application/json', upgrade: 'websocket', connection: 'Upgrade' });
      res.end(JSON.stringify({ error: 'upgrade_required', message: 'the channel is a WebSocket' }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  channel = attachChannel({ server: control, config, board: startMessages(config), log, greeting: () => leases.framesForNewConnection() });
  closers.push(channel.close);
  await new Promise((resolve) => control.listen(config.controlPort, '0.0.0.0', resolve));
  closers.push(
    () =>
      new Promise((done) => {
        control.close(() => done());
        control.closeAllConnections?.();
      }),
  );
  log('runner ready', { appPort: config.appPort, controlPort: config.controlPort, provider: config.provider?.kind ?? null });
}

main().catch((err) => {
  log('runner failed', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
