// Waits for a started container to be ready: its runner's GET /ready answers
// 200. Probing starts only after the engine's start returned (probing a
// bridge address before its network is up stalls each probe on ARP for about
// a second), uses short per-attempt timeouts, and watches the container, so a
// container that exits fails the wait at once instead of at the deadline.

import http from 'node:http';
import type { Endpoint } from './container-driver.js';

export interface ReadinessOptions {
  readonly endpoint: Endpoint;
  readonly path: string;
  /** Milliseconds since the epoch after which the wait gives up. */
  readonly deadline: number;
  /** Resolves false once the container is no longer running. */
  readonly stillRunning: () => Promise<boolean>;
  readonly now?: () => number;
  readonly attemptTimeoutMs?: number;
  readonly intervalMs?: number;
  readonly aliveCheckEveryMs?: number;
}

export type ReadinessOutcome =
  | { readonly kind: 'ready'; readonly attempts: number }
  | { readonly kind: 'exited' }
  | { readonly kind: 'timeout'; readonly lastError: string };

export function probeOnce(endpoint: Endpoint, path: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const req = http.get({ host: endpoint.host, port: endpoint.port, path, agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode === 200 ? undefined : `status ${res.statusCode}`);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs}ms`)));
    req.once('error', (err) => resolve(err.message));
  });
}

export async function waitReady(options: ReadinessOptions): Promise<ReadinessOutcome> {
  const now = options.now ?? Date.now;
  const attemptTimeout = options.attemptTimeoutMs ?? 250;
  const interval = options.intervalMs ?? 5;
  const aliveEvery = options.aliveCheckEveryMs ?? 150;
  let attempts = 0;
  let lastError = 'not probed';
  let lastAliveCheck = now();
  while (now() < options.deadline) {
    attempts += 1;
    const remaining = Math.max(1, options.deadline - now());
    const error = await probeOnce(options.endpoint, options.path, Math.min(attemptTimeout, remaining));
    if (error === undefined) return { kind: 'ready', attempts };
    lastError = error;
    if (now() - lastAliveCheck >= aliveEvery) {
      lastAliveCheck = now();
      if (!(await options.stillRunning())) return { kind: 'exited' };
    }
    await new Promise((r) => setTimeout(r, interval));
  }
  return { kind: 'timeout', lastError };
}
