// GET /api/tenants/:slug/logs?follow=1: a tenant's output across its sleeps
// and wakes, until the reader goes away. The engine's followed stream ends
// when the container stops; this keeps the answer open, watches the tenant's
// state in the store (shared by every napbox process, so a wake by another
// process is seen too) and follows the next container, with marker lines
// between: `-- <slug> stopped (<why>) --`, `-- <slug> started --`.
//
// Invariant: a line is sent once. A stopped container is usually started
// again (not recreated), so after the first stream every follow asks only
// for output since the previous stream ended (the engine's `since`).

import type { ServerResponse } from 'node:http';
import type { ContainerDriver } from '../runtime/container-driver.js';
import type { Tenant, TenantStore } from '../tenants/tenant-store.js';

export interface FollowLogsDeps {
  readonly store: Pick<TenantStore, 'get'>;
  readonly driver: Pick<ContainerDriver, 'followLogs'>;
  /** How often the tenant's state is read while it sleeps. */
  readonly pollMs?: number;
  readonly clock?: () => number;
}

/** Lines the follow after a wake asks for at most (all of them since the last stream, in practice). */
const SINCE_TAIL = 10_000;

const isUp = (t: Tenant): boolean => t.containerId !== null && (t.state === 'running' || t.state === 'paused');

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Copies `stream` into `res` until it ends or `signal` aborts, pausing the stream while the reader is behind
 * (a chatty tenant and a slow reader must not grow napbox's memory: the follow can last for days).
 */
async function copy(stream: NodeJS.ReadableStream, res: ServerResponse, signal: AbortSignal): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => {
      signal.removeEventListener('abort', done);
      resolve();
    };
    stream.on('data', (chunk: Buffer | string) => {
      if (res.write(chunk)) return;
      stream.pause();
      res.once('drain', () => stream.resume());
    });
    stream.once('end', done);
    stream.once('close', done);
    stream.once('error', done);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Writes the tenant's last `tail` lines, then everything it prints, until `signal` aborts or the tenant is removed; then ends `res`. */
export async function followTenantLogs(deps: FollowLogsDeps, slug: string, tail: number, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const clock = deps.clock ?? Date.now;
  const pollMs = deps.pollMs ?? 500;
  let since: number | undefined; // undefined until the first stream: that one starts with the last `tail` lines
  let toldUp: boolean | undefined; // what the reader was told last
  try {
    while (!signal.aborted) {
      const tenant = deps.store.get(slug);
      if (!tenant) {
        res.write(`-- ${slug} removed --\n`);
        break;
      }
      if (since === undefined || isUp(tenant)) {
        if (isUp(tenant) && toldUp === false) res.write(`-- ${slug} started --\n`);
        if (isUp(tenant)) toldUp = true;
        if (tenant.containerId) {
          try {
            const stream = await deps.driver.followLogs(tenant.containerId, since === undefined ? { tail, signal } : { tail: SINCE_TAIL, since, signal });
            await copy(stream, res, signal);
          } catch {
            // Its container is gone (removed by hand, or being recreated) or the engine is down: nothing to follow now; the state says what comes next.
          }
        }
        since = clock();
      }
      const now = deps.store.get(slug);
      if (now && !isUp(now) && now.state !== 'stopping' && toldUp !== false) {
        res.write(`-- ${slug} ${now.state} (${now.stateReason}) --\n`);
        toldUp = false;
      }
      await sleep(pollMs, signal);
    }
  } catch {
    // The store failed (napbox shutting down): the reader gets what was sent, and the end.
  }
  res.end();
}
