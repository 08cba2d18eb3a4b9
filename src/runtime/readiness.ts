// Waits for a started container to be ready: its runner's GET /ready answers
// 200. Invariants:
// - Probing starts only after the engine's start returned (probing a bridge
//   address before its network is up stalls each probe on ARP for about a
//   second), and connecting has a short timeout per attempt.
// - With `holdMs`, each probe asks the runner to hold its answer until the
//   app is ready (`GET /ready?wait=<ms>`, docs/container-contract.md), so
//   readiness is noticed the moment the runner sees it, not at the next step
//   of a polling loop. A runner that ignores the parameter answers at once,
//   and is probed in steps as before (every `intervalMs`, 2 ms: until the
//   runner listens, each probe is a refused connection, which costs little).
// - The container is watched all along (every `aliveCheckEveryMs`, also while
//   an answer is held), so a container that exits fails the wait at once
//   instead of at the deadline.

import http from 'node:http';
import type { Endpoint } from './container-driver.js';

export interface ReadinessOptions {
  readonly endpoint: Endpoint;
  readonly path: string;
  /** Milliseconds since the epoch after which the wait gives up. */
  readonly deadline: number;
  /** Resolves false once the container is no longer running. */
  readonly stillRunning: () => Promise<boolean>;
  /** Ask the server to hold a not-ready answer this long (`?wait=`); 0 or absent: plain probes. */
  readonly holdMs?: number;
  readonly now?: () => number;
  /** The limit on connecting (and, without a hold, on the whole probe). */
  readonly attemptTimeoutMs?: number;
  readonly intervalMs?: number;
  readonly aliveCheckEveryMs?: number;
}

export type ReadinessOutcome =
  | { readonly kind: 'ready'; readonly attempts: number }
  | { readonly kind: 'exited' }
  | { readonly kind: 'timeout'; readonly lastError: string };

interface ProbeLimits {
  /** Once connected, how long to wait for the answer (default: `timeoutMs`). */
  readonly answerTimeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** One GET of `path`: undefined when it answered 200, else what went wrong. `timeoutMs` bounds connecting, then answering. */
export function probeOnce(endpoint: Endpoint, path: string, timeoutMs: number, limits: ProbeLimits = {}): Promise<string | undefined> {
  return new Promise((resolve) => {
    const answerMs = limits.answerTimeoutMs ?? timeoutMs;
    const req = http.get({ host: endpoint.host, port: endpoint.port, path, agent: false, signal: limits.signal });
    let timer = setTimeout(() => req.destroy(new Error(`no connection within ${timeoutMs}ms`)), timeoutMs);
    req.once('socket', (socket) => {
      socket.once('connect', () => {
        clearTimeout(timer);
        timer = setTimeout(() => req.destroy(new Error(`no answer within ${answerMs}ms`)), answerMs);
      });
    });
    req.once('response', (res) => {
      clearTimeout(timer);
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `status ${res.statusCode}`);
    });
    req.once('error', (err) => {
      clearTimeout(timer);
      resolve(err.message);
    });
  });
}

/** `path` with `wait=<ms>` added to its query. */
function withWait(path: string, ms: number): string {
  return `${path}${path.includes('?') ? '&' : '?'}wait=${ms}`;
}

/** Asks the engine every `everyMs` whether the container still runs; aborts `signal` once it does not. */
function watchExit(stillRunning: () => Promise<boolean>, everyMs: number): { readonly signal: AbortSignal; readonly exited: () => boolean; stop(): void } {
  const controller = new AbortController();
  let asking = false;
  const timer = setInterval(() => {
    if (asking) return;
    asking = true;
    stillRunning().then(
      (running) => {
        asking = false;
        if (!running) controller.abort();
      },
      () => {
        asking = false; // the engine did not answer: judge again at the next tick
      },
    );
  }, everyMs);
  return { signal: controller.signal, exited: () => controller.signal.aborted, stop: () => clearInterval(timer) };
}

export async function waitReady(options: ReadinessOptions): Promise<ReadinessOutcome> {
  const now = options.now ?? Date.now;
  const attemptTimeout = options.attemptTimeoutMs ?? 250;
  const interval = options.intervalMs ?? 2;
  const watch = watchExit(options.stillRunning, options.aliveCheckEveryMs ?? 150);
  let attempts = 0;
  let lastError = 'not probed';
  try {
    while (now() < options.deadline) {
      attempts += 1;
      const remaining = Math.max(1, options.deadline - now());
      const hold = Math.min(options.holdMs ?? 0, remaining);
      const path = hold > 0 ? withWait(options.path, hold) : options.path;
      const connectTimeout = Math.min(attemptTimeout, remaining);
      const error = await probeOnce(options.endpoint, path, connectTimeout, { answerTimeoutMs: hold + connectTimeout, signal: watch.signal });
      if (error === undefined) return { kind: 'ready', attempts };
      if (watch.exited()) return { kind: 'exited' };
      lastError = error;
      await new Promise((r) => setTimeout(r, interval));
    }
    return { kind: 'timeout', lastError };
  } finally {
    watch.stop();
  }
}
