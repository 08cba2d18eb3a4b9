// Forwards requests and WebSocket upgrades to a tenant's container, holding
// them while the tenant wakes. A held request keeps its body unread in the
// socket until it is forwarded, so nothing is lost; a client that goes away
// while held just drops its place, the wake goes on. Upstream connections are
// kept alive (one agent for all tenants), and hop-by-hop headers are not
// forwarded. Plain requests go through http-forward.ts; upgrades through
// http-proxy.
//
// Invariants:
// - Nothing under /t/<slug>/ runs in napbox's origin or another tenant's:
//   every response there, the app's or napbox's own, carries a CSP `sandbox`
//   without allow-same-origin, so its page runs in an opaque origin of its
//   own (measured in Chromium: its requests carry no cookies, it cannot read
//   the admin API or another /t/ page, and no storage or document.cookie).
//   A tenant cannot loosen it: several CSP headers all apply.
// - A private tenant's answers are its own: only its own pages may load them
//   as scripts, images or styles (Cross-Origin-Resource-Policy, napbox's in
//   place of the app's) or frame them (frame-ancestors 'self').
// - A failure napbox answers for a tenant (503 and other 5xx) tells the
//   client a short reason and a request id only; the error with its exit
//   code and log lines is logged once under that id, and shown to the
//   operator (the tenant's state, the admin API, the dashboard).

import crypto from 'node:crypto';
import http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import httpProxy from 'http-proxy';
import { NapboxError, asNapboxError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log.js';
import type { ActivityTracker } from '../tenants/activity.js';
import type { Lifecycle } from '../tenants/lifecycle.js';
import type { Running } from '../tenants/tenant-events.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import { refuseSocket, sendError } from '../api/error-response.js';
import { forwardHttp, requestHasBody, type ResponseHeaders } from './http-forward.js';
import type { TenantAccess } from '../api/tenant-access.js';
import { forwardedHeadersObject, type TrustedProxies } from './forwarded-headers.js';
import { type CookieScope, scopeSetCookie } from './tenant-set-cookie.js';
import { sendStartingPage, sendWaitFailure, wantsPage } from './wait-page.js';

const RETRYABLE = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ECONNRESET']);
/** How long after a failed wake a browser's request is held through the next try instead of shown the starting page. */
const RELOAD_HELD_AFTER_FAILURE_MS = 60_000;

/** The CSP of every response under /t/<slug>/: a page, but in an opaque origin (no allow-same-origin). */
const PATH_SANDBOX = 'sandbox allow-scripts allow-forms allow-popups allow-modals allow-downloads allow-popups-to-escape-sandbox';
const UNDER_PATH: ResponseHeaders = { add: [['Content-Security-Policy', PATH_SANDBOX]] };
const PRIVATE: ResponseHeaders = { add: [['Content-Security-Policy', "frame-ancestors 'self'"]], replace: [['Cross-Origin-Resource-Policy', 'same-origin']] };
const PRIVATE_UNDER_PATH: ResponseHeaders = { add: [...PRIVATE.add!, ...UNDER_PATH.add!], replace: PRIVATE.replace! };

export interface TenantProxyDeps {
  readonly lifecycle: Lifecycle;
  readonly store: TenantStore;
  readonly activity: ActivityTracker;
  readonly logger: Logger;
  readonly access: TenantAccess;
  /** Told when a request starts waiting for a wake (+1) and stops waiting (-1), and of each answered request. */
  readonly observe?: { held(delta: 1 | -1): void; answered(seconds: number): void };
  /** The id a failure is told to the client and logged under. */
  readonly requestId?: () => string;
  /** Front proxies whose X-Forwarded-* are kept (NAPBOX_TRUSTED_PROXIES). */
  readonly trustedProxies?: TrustedProxies;
  /** A browser held this long by a wake gets the "starting" page (wait-page.ts); 0 or absent: never. */
  readonly startingPageAfterMs?: number;
}

interface ProxyTarget {
  readonly slug: string;
  readonly path: string;
  readonly prefix: string;
}

export class TenantProxy {
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, keepAliveMsecs: 30_000 });
  private readonly proxy: httpProxy;
  /** Upgraded sockets leave the HTTP server's bookkeeping: they are closed from here on shutdown. */
  private readonly upgraded = new Set<Duplex>();
  /** Requests and upgrades waiting for a wake: told 503 when napbox shuts down (drain). */
  private readonly heldRequests = new Set<ServerResponse>();
  private readonly heldUpgrades = new Set<Duplex>();
  private draining = false;
  /** Where each upgrade's answer may set cookies, read when http-proxy sends it on. */
  private readonly upgradeScopes = new WeakMap<IncomingMessage, CookieScope>();

  constructor(private readonly deps: TenantProxyDeps) {
    this.proxy = httpProxy.createProxyServer({ agent: this.agent, xfwd: false, ws: true, proxyTimeout: 0 });
    // Errors are handled per call (the callback given to web/ws); this keeps stray ones from throwing.
    this.proxy.on('error', () => undefined);
    // An upgrade's answer (101, or a refusal) may carry Set-Cookie too: scoped as on forwardHttp, before http-proxy
    // writes it (this listener is added before http-proxy's own).
    this.proxy.on('proxyReqWs', (proxyReq: http.ClientRequest, req: IncomingMessage) => {
      const scope = this.upgradeScopes.get(req);
      if (!scope) return;
      const scoped = (ures: IncomingMessage): void => {
        const cookies = ures.headers['set-cookie'];
        if (cookies) ures.headers['set-cookie'] = cookies.flatMap((value) => scopeSetCookie(value, scope) ?? []);
      };
      proxyReq.once('upgrade', scoped);
      proxyReq.once('response', scoped);
    });
  }

  async web(req: IncomingMessage, res: ServerResponse, target: ProxyTarget): Promise<void> {
    const done = this.deps.activity.beginRequest(target.slug);
    const started = performance.now();
    res.once('close', done);
    res.once('finish', () => this.deps.observe?.answered((performance.now() - started) / 1000));
    const waiting = !this.deps.lifecycle.endpointOf(target.slug);
    if (waiting) {
      this.deps.observe?.held(1);
      this.heldRequests.add(res);
    }
    if (target.prefix) res.setHeader('content-security-policy', PATH_SANDBOX); // napbox's own answers too
    let isPrivate = false;
    const running = await this.admitted(req, target.slug)
      .then((visibility) => {
        isPrivate = visibility === 'private';
        return this.hold(req, res, target.slug, `request ${req.method} ${target.path.split('?')[0]}`, started);
      })
      .catch((err: unknown) => {
        sendWaitFailure(req, res, this.told(err, target.slug));
        return undefined;
      })
      .finally(() => {
        if (waiting) this.deps.observe?.held(-1);
        this.heldRequests.delete(res);
      });
    if (!running || res.destroyed || req.destroyed || res.headersSent || this.draining) return done();
    this.forward(req, res, target, running, responseHeaders(target, isPrivate), true);
  }

  private forward(
    req: IncomingMessage,
    res: ServerResponse,
    target: ProxyTarget,
    running: Running,
    headers: ResponseHeaders | undefined,
    mayRetry: boolean,
  ): void {
    forwardHttp(req, res, {
      target: running.app,
      path: target.path,
      agent: this.agent,
      prefix: target.prefix,
      trustedPeer: this.trustsPeer(req),
      cookieScope: cookieScope(req, target),
      ...(headers ? { responseHeaders: headers } : {}),
      onError: (err, responseStarted) => {
        const code = err.code ?? '';
        if (RETRYABLE.has(code)) this.deps.lifecycle.forget(target.slug);
        // Only a request without a body is sent again: a body may be half gone into the failed attempt.
        if (mayRetry && !requestHasBody(req) && RETRYABLE.has(code) && !responseStarted) {
          this.deps.logger.info({ tenant: target.slug, code }, 'upstream gone, waking again');
          void this.hold(req, res, target.slug, `request ${req.method} after upstream ${code}`, performance.now()).then(
            (again) => {
              if (again && !res.headersSent && !res.destroyed) this.forward(req, res, target, again, headers, false);
            },
            (wakeErr: unknown) => sendWaitFailure(req, res, this.told(wakeErr, target.slug)),
          );
          return;
        }
        if (!responseStarted)
          sendError(res, this.told(new NapboxError('engine_error', `tenant ${target.slug} did not answer: ${code || err.message}`), target.slug));
        else res.destroy();
      },
    });
  }

  async upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, target: ProxyTarget): Promise<void> {
    socket.on('error', () => undefined);
    this.upgraded.add(socket);
    socket.once('close', () => this.upgraded.delete(socket));
    const closed = this.deps.activity.openSocket(target.slug);
    socket.once('close', closed);
    socket.on('data', () => this.deps.activity.touch(target.slug, 'websocket')); // frames from the client; the socket itself holds
    let running: Running;
    this.heldUpgrades.add(socket);
    try {
      await this.admitted(req, target.slug);
      running = await this.ready(target.slug, `websocket ${target.path.split('?')[0]}`);
    } catch (err) {
      refuseSocket(socket, this.told(err, target.slug));
      return;
    } finally {
      this.heldUpgrades.delete(socket);
    }
    if (socket.destroyed || this.draining) return;
    this.upgradeScopes.set(req, cookieScope(req, target));
    req.url = target.path;
    // http-proxy sends req.headers: the same X-Forwarded-* and Cookie rewrite as every other path (its own xfwd is off).
    req.headers = forwardedHeadersObject(req.rawHeaders, {
      peer: req.socket.remoteAddress ?? '',
      trusted: this.trustsPeer(req),
      host: req.headers.host ?? '',
      prefix: target.prefix,
      port: req.socket.localPort,
    });
    this.proxy.ws(req, socket, head, { target: { host: running.app.host, port: running.app.port } }, (err: NodeJS.ErrnoException) => {
      if (RETRYABLE.has(err.code ?? '')) this.deps.lifecycle.forget(target.slug);
      refuseSocket(
        socket,
        this.told(new NapboxError('engine_error', `tenant ${target.slug} did not accept the WebSocket: ${err.code ?? err.message}`), target.slug),
      );
    });
  }

  private trustsPeer(req: IncomingMessage): boolean {
    return this.deps.trustedProxies?.trusts(req.socket.remoteAddress) ?? false;
  }

  /**
   * What the client is told of a failure: a client's own mistake (4xx) as it
   * is; a failure of the tenant or napbox (5xx) as a short reason and a
   * request id, with its Retry-After, the whole error logged under that id.
   */
  private told(err: unknown, slug: string): NapboxError {
    const error = asNapboxError(err);
    if (error.httpStatus < 500) return error;
    const requestId = this.deps.requestId?.() ?? crypto.randomUUID();
    const fields = { tenant: slug, requestId, code: error.code, err: error.message };
    if (error.isServerFault) this.deps.logger.error(fields, 'tenant request failed');
    else this.deps.logger.warn(fields, 'tenant request failed');
    return new NapboxError(error.code, `tenant ${slug} ${PUBLIC_REASON[error.code] ?? 'is not available'}: try again later (request id ${requestId})`, {
      ...(error.retryAfterSeconds !== undefined ? { retryAfterSeconds: error.retryAfterSeconds } : {}),
      details: { requestId },
    });
  }

  /** Resolves with the tenant's visibility when the request may reach it: public, or private with a valid session (else 401, and nothing wakes). */
  private async admitted(req: IncomingMessage, slug: string): Promise<'public' | 'private'> {
    return this.deps.access.admit(req, slug, this.deps.store.get(slug)?.config.visibility);
  }

  /**
   * Holds a request for the tenant's wake (the one place a request waits for one): a browser still held
   * `startingPageAfterMs` after `since` (performance.now()) is answered with the starting page, unless the
   * tenant's startingPage setting is false, and resolves undefined then; the wake goes on. Rejects as `ready`.
   */
  private async hold(req: IncomingMessage, res: ServerResponse, slug: string, reason: string, since: number): Promise<Running | undefined> {
    const known = this.deps.lifecycle.endpointOf(slug);
    if (known) return known;
    const after = this.deps.startingPageAfterMs ?? 0;
    const tenant = this.deps.store.get(slug);
    const woken = this.ready(slug, reason);
    // Just after a failed wake a reload is held, so the browser is told how this try ends, not sent round the page again.
    const justFailed = tenant?.state === 'failed' && Date.now() - tenant.stateChangedAt < RELOAD_HELD_AFTER_FAILURE_MS;
    if (after <= 0 || !wantsPage(req) || tenant?.config.startingPage === false || justFailed) return woken;
    let timer: NodeJS.Timeout | undefined;
    const page = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, after - (performance.now() - since)));
    });
    try {
      const first = await Promise.race([woken, page]);
      if (first) return first;
      woken.catch(() => undefined); // told to no one: the browser reloads and learns it then
      if (!res.headersSent && !res.destroyed) sendStartingPage(req, res, slug);
      return undefined;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The running tenant, woken if needed; 404 for a tenant that does not exist. */
  private async ready(slug: string, reason: string): Promise<Running> {
    const known = this.deps.lifecycle.endpointOf(slug);
    if (known) return known;
    if (!this.deps.store.get(slug)) throw new NapboxError('not_found', `no tenant ${slug}`);
    return this.deps.lifecycle.wake(slug, reason);
  }

  /** Shutting down: every request or upgrade still waiting for a wake is told 503 with a Retry-After, and closed. */
  drain(): void {
    this.draining = true;
    const error = new NapboxError('shutting_down', 'napbox is restarting: try again in a few seconds', { retryAfterSeconds: 5 });
    for (const res of this.heldRequests) {
      if (res.headersSent || res.destroyed) continue;
      res.setHeader('connection', 'close');
      sendError(res, error);
    }
    for (const socket of this.heldUpgrades) refuseSocket(socket, error);
    this.heldRequests.clear();
    this.heldUpgrades.clear();
  }

  close(): void {
    for (const socket of this.upgraded) socket.destroy();
    this.proxy.close();
    this.agent.destroy();
  }
}

const PUBLIC_REASON: Partial<Record<ErrorCode, string>> = {
  wake_failed: 'could not be started',
  wake_timeout: 'was not ready in time',
  circuit_open: 'is not being started after repeated failures',
  engine_unreachable: 'cannot be started: the container engine does not answer',
  capacity: 'cannot be started now: the server is at a limit (its operator is told which)',
};

/** Where the app's cookies may go (tenant-set-cookie.ts): under its prefix, or its own host (the Host napbox routed on, without port). */
function cookieScope(req: IncomingMessage, target: ProxyTarget): CookieScope {
  if (target.prefix) return { kind: 'prefix', prefix: target.prefix };
  return { kind: 'host', host: (req.headers.host ?? '').trim().toLowerCase().replace(/:\d*$/, '') };
}

/** What napbox adds to the app's answers: see the header comment. */
function responseHeaders(target: ProxyTarget, isPrivate: boolean): ResponseHeaders | undefined {
  if (isPrivate) return target.prefix ? PRIVATE_UNDER_PATH : PRIVATE;
  return target.prefix ? UNDER_PATH : undefined;
}
