// The one HTTP server napbox listens on. It only dispatches: by Host header
// and path (resolve-target.ts) to the admin API, the dashboard, napbox's own
// tenant routes, or the tenant proxy. WebSocket upgrades take the same path.

import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AdminApi } from '../api/admin-api.js';
import { sendError, sendJson } from '../api/http-io.js';
import { NapboxError, asNapboxError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { resolveTarget, type Target } from './resolve-target.js';
import type { TenantProxy } from './tenant-proxy.js';
import type { ChatSocket } from '../messages/chat-socket.js';
import type { TenantAccess } from '../api/tenant-access.js';
import type { DashboardRoute } from '../dashboard/dashboard-page.js';

export interface ServerDeps {
  readonly baseDomain: string;
  readonly api: AdminApi;
  readonly proxy: TenantProxy;
  readonly store: TenantStore;
  readonly logger: Logger;
  readonly dashboard: DashboardRoute;
  readonly chat: ChatSocket;
  readonly access: TenantAccess;
}

export function createServer(deps: ServerDeps): http.Server {
  const server = http.createServer((req, res) => {
    const target = resolveTarget(req.headers.host, req.url ?? '/', deps.baseDomain);
    dispatch(deps, target, req, res).catch((err: unknown) => {
      const error = asNapboxError(err);
      if (error.isServerFault) deps.logger.error({ err, url: req.url }, 'request failed');
      if (!res.headersSent) sendError(res, error);
    });
  });
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const target = resolveTarget(req.headers.host, req.url ?? '/', deps.baseDomain);
    if (target.kind === 'tenant') {
      void deps.proxy.upgrade(req, socket, head, target);
      return;
    }
    if (target.kind === 'tenant-napbox' && target.path.split('?')[0] === '/_napbox/chat') {
      const tenant = deps.store.get(target.slug);
      const admitted = tenant?.config.visibility === 'private' ? deps.access.requireSession(req, target.slug) : Promise.resolve();
      admitted.then(
        () => deps.chat.upgrade(req, socket, head, target.slug, target.path, target.prefix),
        () => socket.end('HTTP/1.1 401 Unauthorized\r\nConnection: close\r\nContent-Length: 0\r\n\r\n'),
      );
      return;
    }
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  // Held requests wait for a wake; the wake deadline, not Node's request timeout, bounds them.
  server.requestTimeout = 0;
  return server;
}

async function dispatch(deps: ServerDeps, target: Target, req: IncomingMessage, res: ServerResponse): Promise<void> {
  switch (target.kind) {
    case 'bad-tenant':
      sendError(res, new NapboxError('not_found', `no tenant ${JSON.stringify(target.label)}`));
      return;
    case 'tenant':
      await deps.proxy.web(req, res, target);
      return;
    case 'tenant-napbox':
      await tenantNapboxRoute(deps, target.slug, target.path, target.prefix, req, res);
      return;
    case 'base':
      if (deps.api.owns(target.path.split('?')[0] ?? '')) {
        await deps.api.handle(req, res, target.path);
        return;
      }
      if (deps.dashboard(req, res, target.path.split('?')[0] ?? '')) return;
      sendError(res, new NapboxError('not_found', `nothing at ${target.path.split('?')[0]}`));
  }
}

/** napbox's own paths on a tenant host: sign-in and sign-out, and a status that never wakes the tenant. */
async function tenantNapboxRoute(deps: ServerDeps, slug: string, path: string, prefix: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const tenant = deps.store.get(slug);
  if (!tenant) {
    sendError(res, new NapboxError('not_found', `no tenant ${slug}`));
    return;
  }
  try {
    const route = path.split('?')[0];
    if (route === '/_napbox/signin') return await deps.access.signIn(req, res, slug, prefix);
    if (route === '/_napbox/signout') return await deps.access.signOut(req, res, slug, prefix);
    if (tenant.config.visibility === 'private') await deps.access.requireSession(req, slug);
    if (route === '/_napbox/status') return sendJson(res, 200, { tenant: slug, state: tenant.state });
    throw new NapboxError('not_found', `nothing at ${route}`);
  } catch (err) {
    sendError(res, err);
  }
}
