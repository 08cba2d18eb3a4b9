// The napbox runner: PID 1's only child in every tenant container (the
// engine's init is PID 1). It owns three things:
// - the tenant's HTTP app on $PORT (8080): the built-in page, or the tenant's
//   own command from NAPBOX_APP_COMMAND (a JSON argv), which must listen there;
// - the control port $NAPBOX_CONTROL_PORT (8081): GET /ready answers 200 only
//   once the app accepts connections, so a wake resolves when the tenant can
//   really serve;
// - a clean exit on SIGTERM, so a stop never waits out the grace period.
// If the tenant's own app exits, the runner exits with its code, so napbox
// sees a failed container and reports why instead of serving a dead app.

import http from 'node:http';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { startApp } from './app.mjs';

const tenant = process.env.NAPBOX_TENANT ?? 'unknown';
const appPort = Number(process.env.PORT ?? 8080);
const controlPort = Number(process.env.NAPBOX_CONTROL_PORT ?? 8081);

function log(msg, fields = {}) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), msg, tenant, ...fields })}\n`);
}

function parseAppCommand(raw) {
  if (!raw) return undefined;
  const argv = JSON.parse(raw);
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string')) {
    throw new Error('NAPBOX_APP_COMMAND must be a JSON array of strings');
  }
  return argv;
}

/** True when something accepts TCP connections on the app port. */
function appAccepts() {
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

async function main() {
  const command = parseAppCommand(process.env.NAPBOX_APP_COMMAND);
  let builtInReady = false;

  if (command) {
    const [file, ...args] = command;
    log('starting tenant app', { argv: command });
    const child = spawn(file, args, { stdio: 'inherit', env: { ...process.env, PORT: String(appPort) } });
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
  } else {
    const app = await startApp({ tenant, port: appPort, log });
    closers.push(app.close);
    builtInReady = true;
  }

  const control = http.createServer(async (req, res) => {
    if (req.url === '/ready') {
      const ready = builtInReady || (await appAccepts());
      res.writeHead(ready ? 200 : 503, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ ready, tenant }));
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  await new Promise((resolve) => control.listen(controlPort, '0.0.0.0', resolve));
  closers.push(
    () =>
      new Promise((done) => {
        control.close(() => done());
        control.closeAllConnections?.();
      }),
  );
  log('runner ready', { appPort, controlPort });
}

main().catch((err) => {
  log('runner failed', { error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
