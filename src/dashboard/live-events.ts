// Live tenant updates for the dashboard, as server-sent events on
// GET /api/events. A new client gets every tenant once (`snapshot`); after
// that, only tenants whose view changed and slugs that went away (`tenants`).
//
// Changes are found by comparing views, not by hooking every writer: state
// lives in the database (which another napbox process may write too), holds
// and activity in memory. A comparison runs when something says a tenant
// changed (`nudge`: a wake ended, a stop, an API change) and once a second
// while anyone watches, so nothing is missed and nothing runs when no
// dashboard is open. The page itself never polls.

import type { IncomingMessage, ServerResponse } from 'node:http';

export interface LiveView {
  readonly slug: string;
}

export interface LiveEventsDeps<V extends LiveView> {
  readonly list: () => readonly V[];
  readonly intervalMs?: number;
  /** A comment line this often keeps idle connections open through proxies. */
  readonly keepAliveMs?: number;
}

export class LiveEvents<V extends LiveView> {
  private readonly clients = new Set<ServerResponse>();
  private readonly last = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private keepAlive: NodeJS.Timeout | undefined;
  private nudged = false;

  constructor(private readonly deps: LiveEventsDeps<V>) {}

  open(req: IncomingMessage, res: ServerResponse): void {
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      connection: 'keep-alive',
    });
    res.socket?.setNoDelay(true);
    // Bring the others up to date first, so `last` is what this client starts from.
    if (this.clients.size > 0) this.compare();
    else this.remember(this.deps.list());
    this.clients.add(res);
    // The views are already JSON (kept to compare against): joined, not parsed and written again.
    res.write(`event: snapshot\ndata: {"tenants":[${[...this.last.values()].join(',')}]}\n\n`);
    req.once('close', () => this.drop(res));
    res.once('error', () => this.drop(res));
    this.startTimers();
  }

  /** Something changed: compare soon (coalesced), not only on the next tick. */
  nudge(): void {
    if (this.clients.size === 0 || this.nudged) return;
    this.nudged = true;
    setImmediate(() => {
      this.nudged = false;
      this.compare();
    });
  }

  close(): void {
    for (const res of this.clients) res.end();
    this.clients.clear();
    this.stopTimers();
  }

  private compare(): void {
    if (this.clients.size === 0) return;
    const views = this.deps.list();
    const changed: unknown[] = [];
    const seen = new Set<string>();
    for (const view of views) {
      seen.add(view.slug);
      const json = JSON.stringify(view);
      if (this.last.get(view.slug) !== json) {
        this.last.set(view.slug, json);
        changed.push(view);
      }
    }
    const removed = [...this.last.keys()].filter((slug) => !seen.has(slug));
    for (const slug of removed) this.last.delete(slug);
    if (changed.length === 0 && removed.length === 0) return;
    for (const res of this.clients) write(res, 'tenants', { changed, removed });
  }

  private remember(views: readonly V[]): void {
    this.last.clear();
    for (const view of views) this.last.set(view.slug, JSON.stringify(view));
  }

  private drop(res: ServerResponse): void {
    this.clients.delete(res);
    if (this.clients.size === 0) this.stopTimers();
  }

  private startTimers(): void {
    this.timer ??= setInterval(() => this.compare(), this.deps.intervalMs ?? 1000);
    this.keepAlive ??= setInterval(() => {
      for (const res of this.clients) res.write(': keep-alive\n\n');
    }, this.deps.keepAliveMs ?? 25_000);
    this.timer.unref();
    this.keepAlive.unref();
  }

  private stopTimers(): void {
    clearInterval(this.timer);
    clearInterval(this.keepAlive);
    this.timer = undefined;
    this.keepAlive = undefined;
  }
}

function write(res: ServerResponse, event: string, data: unknown): void {
  res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
}
