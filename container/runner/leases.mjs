// Busy leases the tenant takes from inside its container ("build running",
// "long tool call"): POST http://127.0.0.1:8081/lease {"name","ttlMs"} and
// POST /release {"name"}, from the container's own loopback only. Each is
// told to every napbox connection as a `lease`/`release` frame, and the live
// ones again to a connection that opens later (a restarted napbox relearns
// them). napbox caps how long any lease can hold the tenant.

const NAME = /^[A-Za-z0-9_. -]{1,64}$/;
const MAX_TTL_MS = 24 * 3_600_000;
const LOOPBACK = new Set(['127.0.0.1', '::1', '::ffff:127.0.0.1']);

export class Leases {
  constructor({ broadcast, now = Date.now }) {
    this.broadcast = broadcast;
    this.now = now;
    this.live = new Map(); // name -> expiresAt
  }

  /** Frames for a new connection: the leases still live, with their remaining time. */
  framesForNewConnection() {
    const now = this.now();
    const frames = [];
    for (const [name, expiresAt] of this.live) {
      if (expiresAt > now) frames.push({ type: 'lease', name, ttlMs: expiresAt - now });
      else this.live.delete(name);
    }
    return frames;
  }

  /** Handles POST /lease and /release on the control port; returns false for other paths. */
  handle(req, res, path) {
    if (path !== '/lease' && path !== '/release') return false;
    const reply = (status, body) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!LOOPBACK.has(req.socket.remoteAddress ?? '')) {
      reply(403, { error: 'forbidden', message: 'leases are taken from inside the container (127.0.0.1) only' });
      return true;
    }
    if (req.method !== 'POST') {
      reply(405, { error: 'method_not_allowed', message: 'POST a JSON body' });
      return true;
    }
    let raw = '';
    req.setEncoding('utf8');
    req.on('data', (chunk) => {
      raw += chunk;
      if (raw.length > 4096) req.destroy();
    });
    req.on('end', () => {
      let body;
      try {
        body = JSON.parse(raw || '{}');
      } catch {
        return reply(400, { error: 'bad_request', message: 'the body is not JSON' });
      }
      if (typeof body?.name !== 'string' || !NAME.test(body.name)) {
        return reply(400, { error: 'bad_request', message: 'name must be 1-64 letters, digits, space, _ . -' });
      }
      if (path === '/release') {
        this.live.delete(body.name);
        const sent = this.broadcast({ type: 'release', name: body.name });
        return reply(200, { released: body.name, told: sent });
      }
      const ttlMs = body.ttlMs;
      if (!Number.isInteger(ttlMs) || ttlMs < 1 || ttlMs > MAX_TTL_MS) {
        return reply(400, { error: 'bad_request', message: `ttlMs must be a whole number of milliseconds from 1 to ${MAX_TTL_MS}` });
      }
      this.live.set(body.name, this.now() + ttlMs);
      const sent = this.broadcast({ type: 'lease', name: body.name, ttlMs });
      return reply(sent > 0 ? 200 : 202, { lease: body.name, ttlMs, told: sent });
    });
    return true;
  }
}
