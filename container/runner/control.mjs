// The control port ($NAPBOX_CONTROL_PORT, 8081): GET /ready, the channel at
// /channel and the busy leases (/lease, /release). It listens from the first
// milliseconds of the runner, before the channel, the providers and the
// leases are loaded (services.mjs). Invariants:
// - GET /ready answers 200 only while the app accepts connections. With
//   `?wait=<ms>` (at most 30 s) a not-ready answer is held until the app is
//   ready or the time is up, so napbox hears of readiness the moment it
//   happens instead of at its next probe; without it the answer is immediate.
// - A channel upgrade or a lease request that comes before the services are
//   loaded is held until they are (runner.mjs decides when: shortly after the
//   app is first ready), then served as if they had been there all along.
//   Nothing is refused for being early.

export const CHANNEL_PATH = '/channel';
const MAX_WAIT_MS = 30_000;

/** The `wait` query parameter in ms, clamped to 0..30 s; anything else is 0. */
function waitOf(url) {
  const raw = url.searchParams.get('wait');
  if (raw === null || !/^\d{1,9}$/.test(raw)) return 0;
  return Math.min(Number(raw), MAX_WAIT_MS);
}

function sendJson(res, status, body, headers = {}) {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/**
 * Starts the control server. `needServices()` resolves, once the channel and
 * the leases are loaded, to `{ handle(req, res, path), upgrade(req, socket, head) }`;
 * it is called for each request that needs them before `attach` was.
 * `onReadyAnswered` is told of each 200 to GET /ready.
 */
export function startControl({ port, tenant, readiness, needServices, onReadyAnswered = () => {} }) {
  const http = process.getBuiltinModule('node:http'); // here, not at import: the runner imports this before spawning the app
  let services; // set once needServices() resolved

  const pathOf = (req) => {
    try {
      return new URL(req.url ?? '/', 'http://runner');
    } catch {
      return undefined;
    }
  };

  const server = http.createServer((req, res) => {
    const url = pathOf(req);
    if (!url) return sendJson(res, 400, { error: 'bad_request', message: 'the request target is not a path' });
    if (url.pathname === '/ready') return void answerReady(res, waitOf(url));
    if (url.pathname === CHANNEL_PATH) {
      return sendJson(res, 426, { error: 'upgrade_required', message: 'the channel is a WebSocket' }, { upgrade: 'websocket', connection: 'Upgrade' });
    }
    if (url.pathname === '/lease' || url.pathname === '/release') {
      if (services) return void services.handle(req, res, url.pathname);
      // Not paused: an explicitly paused stream stays paused when its reader attaches; unread, its body waits anyway.
      needServices().then(
        (loaded) => loaded.handle(req, res, url.pathname),
        () => sendJson(res, 503, { error: 'unavailable', message: 'the runner could not load its services' }),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });

  // Upgraded sockets (the channel) are the server's no more: close() ends them itself.
  const upgraded = new Set();
  server.on('upgrade', (req, socket, head) => {
    socket.on('error', () => {
      // a peer that vanishes mid-handshake is not the runner's problem
    });
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    if (services) return services.upgrade(req, socket, head);
    // Not paused (see above): after an upgrade, Node leaves the socket neither flowing nor paused, so what the
    // peer sends meanwhile waits in it until the channel reads.
    needServices().then(
      (loaded) => loaded.upgrade(req, socket, head),
      () => socket.destroy(),
    );
  });

  async function answerReady(res, waitMs) {
    const gone = new AbortController();
    res.once('close', () => gone.abort());
    const ready = await readiness.check(waitMs, gone.signal);
    if (gone.signal.aborted) return; // the caller left
    sendJson(res, ready ? 200 : 503, { ready, tenant });
    if (ready) onReadyAnswered();
  }

  const listening = new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', resolve);
  });

  return {
    listening,
    /** Serves requests that need the services directly from now on. */
    attach(loaded) {
      services = loaded;
    },
    close: () =>
      new Promise((done) => {
        server.close(() => done());
        server.closeAllConnections?.();
        // The channel says goodbye (services.close: a 1001 close frame); a socket still open after a moment,
        // such as one whose services were still loading, is ended here, so a stop never waits for it.
        const force = setTimeout(() => {
          for (const socket of upgraded) socket.destroy();
        }, 250);
        force.unref();
      }),
  };
}
