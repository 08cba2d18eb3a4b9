// Every connection napbox accepts, from accept to close, whichever path it
// then takes (relayed, handed to the HTTP server, upgraded): counted, capped,
// and closable in one call.
//
// Invariants:
// - At most `maxTotal` connections at once, and `maxPerClient` from one
//   address (a trusted front proxy counts only towards the total). Past a
//   cap a connection gets `503` with Retry-After and is closed at once,
//   instead of napbox running out of file descriptors.
// - The cap fits the process's open-files limit: each connection may hold a
//   second descriptor (its upstream), so the total is capped at
//   (soft limit - reserve) / 2 (connectionCap, pure).
// - closeAll() reaches every accepted socket: Node's closeAllConnections()
//   does not see sockets the relay handed over with emit('connection').

import fs from 'node:fs';
import type net from 'node:net';
import type { Logger } from '../log.js';
import type { TrustedProxies } from './forwarded-headers.js';
import { refuseSocket } from '../api/error-response.js';
import { NapboxError } from '../errors.js';

const DEFAULT_MAX_CONNECTIONS = 10_000;
/** Descriptors kept for everything else: the database, the engine, files, logs. */
export const RESERVED_DESCRIPTORS = 1024;
const RETRY_AFTER_SECONDS = 5;

export type Admission = { readonly admit: true } | { readonly admit: false; readonly reason: string };

/** Whether one more connection from a client fits (pure). */
export function decideAdmission(
  counts: { readonly total: number; readonly fromClient: number; readonly trusted: boolean },
  limits: { readonly maxTotal: number; readonly maxPerClient: number },
): Admission {
  if (counts.total >= limits.maxTotal) return { admit: false, reason: `napbox has ${counts.total} connections open, its limit` };
  if (!counts.trusted && counts.fromClient >= limits.maxPerClient) {
    return { admit: false, reason: `this client has ${counts.fromClient} connections open, the limit per client` };
  }
  return { admit: true };
}

/**
 * The total cap in force: the configured one (or the default), lowered to what
 * the soft open-files limit can hold; with a warning when a configured cap had
 * to be lowered (pure).
 */
export function connectionCap(configured: number | undefined, softLimit: number | undefined): { readonly cap: number; readonly warning?: string } {
  const wanted = configured ?? DEFAULT_MAX_CONNECTIONS;
  if (softLimit === undefined) return { cap: wanted };
  const fits = Math.max(1, Math.floor((softLimit - RESERVED_DESCRIPTORS) / 2));
  if (wanted <= fits) return { cap: wanted };
  if (configured === undefined) return { cap: fits };
  return {
    cap: fits,
    warning:
      `NAPBOX_MAX_CONNECTIONS=${configured} needs about ${configured * 2 + RESERVED_DESCRIPTORS} file descriptors (a client and an upstream socket each), ` +
      `but the soft open-files limit is ${softLimit}: capping at ${fits}. Raise the limit (ulimit -n, LimitNOFILE=, docker --ulimit nofile=) to allow more.`,
  };
}

/** The soft RLIMIT_NOFILE of this process, from /proc/self/limits; undefined where that cannot be read. */
export function openFilesSoftLimit(read: (file: string) => string = (file) => fs.readFileSync(file, 'utf8')): number | undefined {
  try {
    const line = read('/proc/self/limits')
      .split('\n')
      .find((l) => l.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft !== undefined && /^\d+$/.test(soft) ? Number(soft) : undefined; // "unlimited": no cap from here
  } catch {
    return undefined;
  }
}

export interface GateDeps {
  readonly maxTotal: number;
  readonly maxPerClient: number;
  readonly trustedProxies?: TrustedProxies;
  readonly logger?: Logger;
  readonly clock?: () => number;
}

export class ConnectionGate {
  private readonly sockets = new Set<net.Socket>();
  private readonly perClient = new Map<string, number>();
  private refused = 0;
  private lastWarning = 0;

  constructor(private readonly deps: GateDeps) {}

  get size(): number {
    return this.sockets.size;
  }

  /** Counts `socket` until it closes and returns true; or answers 503, closes it and returns false. */
  admit(socket: net.Socket): boolean {
    const client = socket.remoteAddress ?? '';
    const fromClient = this.perClient.get(client) ?? 0;
    const decision = decideAdmission(
      { total: this.sockets.size, fromClient, trusted: this.deps.trustedProxies?.trusts(client) ?? false },
      { maxTotal: this.deps.maxTotal, maxPerClient: this.deps.maxPerClient },
    );
    if (!decision.admit) {
      this.refuse(socket, client, decision.reason);
      return false;
    }
    this.sockets.add(socket);
    this.perClient.set(client, fromClient + 1);
    socket.once('close', () => {
      this.sockets.delete(socket);
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left <= 0) this.perClient.delete(client);
      else this.perClient.set(client, left);
    });
    return true;
  }

  /** Destroys every connection napbox holds (shutdown). */
  closeAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }

  private refuse(socket: net.Socket, client: string, reason: string): void {
    refuseSocket(socket, new NapboxError('capacity', `${reason}: try again later`, { retryAfterSeconds: RETRY_AFTER_SECONDS }), { lingerMs: 1000 });
    this.refused += 1;
    const now = (this.deps.clock ?? Date.now)();
    if (now - this.lastWarning >= 10_000) {
      // At most one line per 10 s: a flood must not become a flood of logs.
      this.deps.logger?.warn({ client, reason, refusedSinceLastWarning: this.refused, open: this.sockets.size }, 'connection refused: at the connection limit');
      this.lastWarning = now;
      this.refused = 0;
    }
  }
}
