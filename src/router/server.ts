// The one HTTP server napbox listens on. It only dispatches: by Host header
// and path (resolve-target.ts) to the admin API, the dashboard, napbox's own
// tenant routes, or the tenant proxy. WebSocket upgrades take the same path.
//
// Invariants:
// - No request stops napbox: a target or head napbox cannot read is a 400
//   (resolve-target.ts, readFraming); anything a handler throws or rejects is
//   logged and answered 500 (or its connection closed), never fatal.
// - Every error is answered by error-response.ts, as JSON, on a response or
//   on an upgrade's socket alike (a refused upgrade is never an empty answer).
// - A request head must arrive in full within the head deadline (Node's
//   headersTimeout, 408), on connections the relay handed over too.
// - Pipelined requests are answered in order: Node hands over an upgrade
//   as soon as it is parsed, so it waits for the response before it.

import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { AdminApi } from '../api/admin-api.js';
import { refuseSocket, sendError } from '../api/error-response.js';
import { sendJson } from '../api/http-io.js';
import { NapboxError, asNapboxError } from '../errors.js';
import type { Logger } from '../log.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { DEFAULT_HEAD_TIMEOUT_MS } from './connection-relay.js';
import { readFraming } from './request-head.js';
import { resolveTarget, type Target } from './resolve-target.js';
import type { TenantProxy } from './tenant-proxy.js';
import type { ChatSocket } from './chat-socket.js';
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
  /** How long a request head may take to arrive in full (else 408 and close). */
  readonly headTimeoutMs?: number;
}

export function createServer(deps: ServerDeps): http.Server {
  const headTimeoutMs = deps.headTimeoutMs ?? DEFAULT_HEAD_TIMEOUT_MS;
  // The last response begun on each connection: an upgrade pipelined behind it is answered after it.
  const lastResponse = new WeakMap<Duplex, ServerResponse>();
  const server = http.createServer(
    // Explicitly strict, whatever NODE_OPTIONS says (--insecure-http-parser would read what the relay refuses).
    { insecureHTTPParser: false, connectionsCheckingInterval: Math.max(25, Math.min(1000, headTimeoutMs / 4)) },
    (req, res) => {
      lastResponse.set(req.socket, res);
      try {
        const target = checkedTarget(req, deps.baseDomain);
        if (target.kind === 'bad-request') {
          res.shouldKeepAlive = false;
          sendError(res, new NapboxError('bad_request', `malformed request: ${target.reason}`));
          return;
        }
        dispatch(deps, target, req, res).catch((err: unknown) => failed(deps, req, res, err));
      } catch (err) {
        failed(deps, req, res, err);
      }
    },
  );
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    afterResponse(lastResponse.get(socket), () => {
      if (!socket.writable) return void socket.destroy(); // the response before closed the connection
      try {
        upgrade(deps, req, socket, head);
      } catch (err) {
        deps.logger.error({ err, url: req.url }, 'upgrade failed');
        socket.destroy();
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = headTimeoutMs;
  // Held requests wait for a wake; the wake deadline, not Node's request timeout, bounds them.
  server.requestTimeout = 0;
  // Node keeps its per-connection bookkeeping (the head deadline above, closeAllConnections) only for
  // a server that listens, from its 'listening' event. This one never listens: the relay hands it each
  // connection (emit('connection')), so start that bookkeeping here.
  server.emit('listening');
  return server;
}

/** Runs `go` once `res` (a response still being written on the same connection, if any) is done. */
function afterResponse(res: ServerResponse | undefined, go: () => void): void {
  if (!res || res.writableFinished || res.destroyed) return go();
  let gone = false;
  const once = (): void => {
    if (gone) return;
    gone = true;
    go();
  };
  res.once('finish', once);
  res.once('close', once);
}

/** The target of a request Node's parser accepted, with RFC 9112's Host and framing rules Node leaves to us. */
function checkedTarget(req: IncomingMessage, baseDomain: string): Target {
  const framing = readFraming(req.rawHeaders, req.httpVersionMinor);
  if (!framing.ok) return { kind: 'bad-request', reason: framing.reason };
  return resolveTarget(req.headers.host, req.url ?? '/', baseDomain);
}

/** A request's handling threw or rejected: a bug of napbox's unless it is a NapboxError; logged, never fatal. */
function failed(deps: ServerDeps, req: IncomingMessage, res: ServerResponse, err: unknown): void {
  const error = asNapboxError(err);
  if (error.isServerFault) deps.logger.error({ err, url: req.url }, 'request failed');
  if (!res.headersSent) sendError(res, error);
  else res.destroy();
}

function upgrade(deps: ServerDeps, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  const target = checkedTarget(req, deps.baseDomain);
  const lost = (err: unknown): void => {
    deps.logger.error({ err, url: req.url }, 'upgrade failed');
    socket.destroy();
  };
  if (target.kind === 'bad-request') {
    refuseSocket(socket, new NapboxError('bad_request', `malformed request: ${target.reason}`), { head: req.method === 'HEAD' });
    return;
  }
  if (req.method === 'HEAD') {
    // Node treats any request with Connection: upgrade as one; a HEAD upgrades nothing and its answer has no body.
    refuseSocket(socket, new NapboxError('bad_request', 'a HEAD request cannot upgrade the connection'), { head: true });
    return;
  }
  if (target.kind === 'tenant') {
    deps.proxy.upgrade(req, socket, head, target).catch(lost);
    return;
  }
  if (target.kind === 'tenant-napbox' && target.path.split('?')[0] === '/_napbox/chat') {
    const tenant = deps.store.get(target.slug);
    const admitted = deps.access.admit(req, target.slug, tenant?.config.visibility);
    admitted
      .then(
        () => deps.chat.upgrade(req, socket, head, target.slug, target.path, target.prefix),
        (err: unknown) => {
          if (refuseSocket(socket, err).isServerFault) deps.logger.error({ err, url: req.url }, 'upgrade failed');
        },
      )
      .catch(lost);
    return;
  }
  const missing = target.kind === 'bad-tenant' ? `no tenant ${JSON.stringify(target.label)}` : `no WebSocket at ${target.path.split('?')[0]}`;
  refuseSocket(socket, new NapboxError('not_found', missing));
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
    await deps.access.admit(req, slug, tenant.config.visibility);
    if (route === '/_napbox/status') return sendJson(res, 200, { tenant: slug, state: tenant.state });
    throw new NapboxError('not_found', `nothing at ${route}`);
  } catch (err) {
    sendError(res, err);
  }
}
