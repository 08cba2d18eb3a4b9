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
// - With `app` (a bridge address), the app's own port is probed too: it
//   accepting a connection is what /ready means, so the tenant is ready then
//   even while its runner is still starting (the agent image starts the app
//   before the runner: container/runner/launch.sh).
// - With a tenant's readiness path (waitAnswers), the app itself must also
//   answer GET <path> below 500: a port that accepts is not yet an app that
//   serves (a framework still compiling answers 503, or resets).
// - The container is watched all along (every `aliveCheckEveryMs`, also while
//   an answer is held), so a container that exits fails the wait at once
//   instead of at the deadline.

import http from 'node:http';
import net from 'node:net';
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
  /**
   * Where the app itself listens, when a TCP connection there means what /ready means (the app accepts
   * connections: true on a bridge address, not on a published port, where the engine's proxy accepts
   * first). Probed beside the runner, so a runner still starting does not hold the wake.
   */
  readonly app?: Endpoint;
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
  /** Which statuses count as an answer (default: 200 only). */
  readonly ok?: (status: number) => boolean;
}

/** One GET of `path`: undefined when it answered 200 (or what `limits.ok` accepts), else what went wrong. `timeoutMs` bounds connecting, then answering. */
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
      // The status is all a probe needs: the connection is closed at once, so an app cannot keep napbox reading an
      // endless body or holding a socket per probe (a tenant's answers are hostile).
      const status = res.statusCode ?? 0;
      res.destroy();
      req.destroy();
      resolve((limits.ok ?? ((s: number) => s === 200))(status) ? undefined : `status ${status}`);
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

/** True once `endpoint` accepts a TCP connection; false if `signal` aborts or the deadline passes first. */
async function accepts(
  endpoint: Endpoint,
  options: {
    readonly deadline: number;
    readonly now: () => number;
    readonly intervalMs: number;
    readonly attemptTimeoutMs: number;
    readonly signal: AbortSignal;
  },
): Promise<boolean> {
  while (!options.signal.aborted && options.now() < options.deadline) {
    const connected = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ host: endpoint.host, port: endpoint.port });
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        socket.destroy();
        resolve(ok);
      };
      const timer = setTimeout(() => done(false), Math.min(options.attemptTimeoutMs, Math.max(1, options.deadline - options.now())));
      socket.once('connect', () => done(true));
      socket.once('error', () => done(false));
    });
    if (connected) return true;
    await new Promise((r) => setTimeout(r, options.intervalMs));
  }
  return false;
}

export async function waitReady(options: ReadinessOptions): Promise<ReadinessOutcome> {
  const now = options.now ?? Date.now;
  const attemptTimeout = options.attemptTimeoutMs ?? 250;
  const interval = options.intervalMs ?? 2;
  const watch = watchExit(options.stillRunning, options.aliveCheckEveryMs ?? 150);
  const settled = new AbortController(); // one way found it ready: the other stops
  const signal = AbortSignal.any([watch.signal, settled.signal]);
  let attempts = 0;
  let lastError = 'not probed';
  const runner = async (): Promise<ReadinessOutcome> => {
    while (now() < options.deadline && !settled.signal.aborted) {
      attempts += 1;
      const remaining = Math.max(1, options.deadline - now());
      const hold = Math.min(options.holdMs ?? 0, remaining);
      const path = hold > 0 ? withWait(options.path, hold) : options.path;
      const connectTimeout = Math.min(attemptTimeout, remaining);
      const error = await probeOnce(options.endpoint, path, connectTimeout, { answerTimeoutMs: hold + connectTimeout, signal });
      if (error === undefined) return { kind: 'ready', attempts };
      if (watch.exited()) return { kind: 'exited' };
      lastError = error;
      await new Promise((r) => setTimeout(r, interval));
    }
    return watch.exited() ? { kind: 'exited' } : { kind: 'timeout', lastError };
  };
  const app = async (): Promise<ReadinessOutcome> => {
    if (!options.app) return new Promise<never>(() => undefined); // only the runner says
    const ok = await accepts(options.app, { deadline: options.deadline, now, intervalMs: interval, attemptTimeoutMs: attemptTimeout, signal });
    return ok ? { kind: 'ready', attempts } : new Promise<never>(() => undefined); // the runner's answer stands
  };
  try {
    return await Promise.race([runner(), app()]);
  } finally {
    settled.abort();
    watch.stop();
  }
}

export interface AnswerOptions {
  /** The app's own endpoint. */
  readonly endpoint: Endpoint;
  /** The tenant's readiness path. */
  readonly path: string;
  readonly deadline: number;
  readonly stillRunning: () => Promise<boolean>;
  readonly now?: () => number;
  readonly attemptTimeoutMs?: number;
  readonly intervalMs?: number;
  readonly aliveCheckEveryMs?: number;
}

/** Waits until GET `path` on the app answers with a status below 500, the container exits, or the deadline passes. */
export async function waitAnswers(options: AnswerOptions): Promise<ReadinessOutcome> {
  const now = options.now ?? Date.now;
  const attemptTimeout = options.attemptTimeoutMs ?? 2000;
  const interval = options.intervalMs ?? 50;
  const watch = watchExit(options.stillRunning, options.aliveCheckEveryMs ?? 150);
  let attempts = 0;
  let lastError = 'not probed';
  try {
    while (now() < options.deadline) {
      attempts += 1;
      const timeout = Math.max(1, Math.min(attemptTimeout, options.deadline - now()));
      const error = await probeOnce(options.endpoint, options.path, timeout, { signal: watch.signal, ok: (status) => status < 500 });
      if (error === undefined) return { kind: 'ready', attempts };
      if (watch.exited()) return { kind: 'exited' };
      lastError = `GET ${options.path}: ${error}`;
      await new Promise((r) => setTimeout(r, interval));
    }
    return watch.exited() ? { kind: 'exited' } : { kind: 'timeout', lastError };
  } finally {
    watch.stop();
  }
}
