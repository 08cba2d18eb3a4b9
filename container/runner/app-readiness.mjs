// Whether the tenant's app accepts connections on its port, and the moment it
// first did. Invariants:
// - "Ready" means a TCP connection to 127.0.0.1:$PORT succeeds (or, for the
//   built-in app, that its server is listening), as GET /ready promises.
// - While the app is not ready yet, it is probed every `intervalMs` (2 ms: a
//   refused loopback connect costs microseconds), so a waiter hears of it
//   within a few ms of the app listening, not at napbox's next probe.
// - Once ready, every check probes again: an app that stopped listening is
//   not ready any more, and the probing starts over.

const PROBE_TIMEOUT_MS = 200;

/** True when something accepts TCP connections on `port` of the loopback. */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = process.getBuiltinModule('node:net').connect({ host: '127.0.0.1', port });
    socket.setTimeout(PROBE_TIMEOUT_MS);
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

export class AppReadiness {
  #port;
  #intervalMs;
  #now;
  #ready = false;
  #inProcess = false;
  #polling = false;
  #waiters = new Set(); // of (ready: boolean) => void
  #firstReady;
  #resolveFirstReady;
  /** performance.now() when the app was first seen ready; null until then. */
  firstReadyAt = null;

  constructor({ port, intervalMs = 2, now = () => performance.now() }) {
    this.#port = port;
    this.#intervalMs = intervalMs;
    this.#now = now;
    this.#firstReady = new Promise((resolve) => {
      this.#resolveFirstReady = resolve;
    });
  }

  /** The built-in app's server is listening in this process: ready, without probing. */
  listening() {
    this.#inProcess = true;
    this.#becameReady();
  }

  /** Starts probing the app's port until it accepts connections. */
  watch() {
    if (this.#polling || this.#ready) return;
    this.#polling = true;
    const tick = () => {
      void accepts(this.#port).then((ok) => {
        if (ok) {
          this.#polling = false;
          this.#becameReady();
        } else {
          setTimeout(tick, this.#intervalMs);
        }
      });
    };
    tick();
  }

  /** Resolves once the app was ready for the first time. */
  whenFirstReady() {
    return this.#firstReady;
  }

  /**
   * Whether the app accepts connections now; if not, waits up to `waitMs` for
   * it to. `signal` (optional) ends the wait early with false.
   */
  async check(waitMs = 0, signal = undefined) {
    if (this.#ready) {
      if (this.#inProcess || (await accepts(this.#port))) return true;
      this.#ready = false; // it stopped listening: probe until it listens again
      this.watch();
    }
    if (waitMs <= 0 || signal?.aborted) return false;
    return new Promise((resolve) => {
      const settle = (ok) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        this.#waiters.delete(settle);
        resolve(ok);
      };
      const timer = setTimeout(() => settle(false), waitMs);
      const onAbort = () => settle(false);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.add(settle);
    });
  }

  #becameReady() {
    this.#ready = true;
    if (this.firstReadyAt === null) {
      this.firstReadyAt = this.#now();
      this.#resolveFirstReady();
    }
    for (const settle of [...this.#waiters]) settle(true);
  }
}
