// The admin API under /api/ on the base host (and /healthz, /metrics). Every
// /api/ call needs an admin bearer token, or the dashboard's session cookie
// sent by napbox's own page (auth.ts), except the open paths (OPEN: /healthz,
// /metrics, /api/session). The routes are one declarative table
// (route-table.ts: method, path with :params, handler); handle() checks auth
// first (without a token every /api/ path is a 401, known or not), matches,
// runs the handler and renders any error (error-response.ts): 404 for a path
// no route has, 405 (with Allow) for a method its path does not take.
// Bodies and path parameters are validated before anything is read or
// written; each answer is typed from its schema in answers.ts, which the CLI
// parses it with.

import { describeDecision } from '../sweep/decide.js';
import type { TickReport } from '../sweep/sweep.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { parseDuration } from '../config/duration.js';
import { NapboxError } from '../errors.js';
import type { ImageAdmin } from '../images/image-admin.js';
import type { Logger } from '../log.js';
import type { MessageService } from '../messages/message-service.js';
import type { Metrics } from '../metrics/metrics.js';
import { assertSlug } from '../model/slug.js';
import type { ContainerDriver } from '../runtime/container-driver.js';
import type { Lifecycle } from '../tenants/lifecycle.js';
import { ConfigChangesSchema, CreateTenantSchema, type TenantService } from '../tenants/tenant-service.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import {
  AcceptedMessageSchema,
  BuildViewSchema,
  BuildWithLogSchema,
  DeletedSchema,
  MessageListSchema,
  MessageViewSchema,
  PackagesSchema,
  PruneReportSchema,
  SignInLinkSchema,
  TenantListSchema,
  TenantViewSchema,
} from './answers.js';
import type { AdminAuth } from './auth.js';
import { sendError } from './error-response.js';
import { followTenantLogs } from './follow-logs.js';
import { readJson, sendJson } from './http-io.js';
import { noRouteError, type Route, routeBuilder, RouteTable } from './route-table.js';

export interface AdminApiDeps {
  readonly auth: AdminAuth;
  readonly tenants: TenantService;
  readonly lifecycle: Lifecycle;
  readonly store: TenantStore;
  readonly driver: ContainerDriver;
  readonly messages: MessageService;
  /** Runs a sweep tick now and reports what it decided. */
  readonly sweep: () => Promise<TickReport>;
  readonly images: ImageAdmin;
  readonly metrics: Metrics;
  /** A sign-in link for a private tenant. */
  readonly signInUrl: (slug: string) => Promise<string>;
  /** GET /api/events: live tenant updates (server-sent events). */
  readonly events: (req: IncomingMessage, res: ServerResponse) => void;
  /** Told after every call that may have changed a tenant. */
  readonly onChange?: () => void;
  readonly logger: Logger;
}

interface Call {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly query: URLSearchParams;
}

/** Sends `value` as the answer `schema` describes (the CLI parses it with the same schema). */
function reply<S extends z.ZodType>(res: ServerResponse, status: number, _schema: S, value: z.output<S>): void {
  sendJson(res, status, value);
}

/** Routes anyone may call, without a token. */
const OPEN = new Set(['/healthz', '/metrics', '/api/session']);

const SessionSchema = z.object({ token: z.string().min(1).max(4096) }).strict();

export class AdminApi {
  private readonly table: RouteTable<Call>;

  constructor(private readonly deps: AdminApiDeps) {
    this.table = new RouteTable<Call>(routes(deps));
  }

  /** True when this request is the API's to answer. */
  owns(path: string): boolean {
    return path === '/healthz' || path === '/metrics' || path === '/api' || path.startsWith('/api/');
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    // No other origin may load an answer of napbox's as a script, image or style (no-cors), cookie or not.
    res.setHeader('cross-origin-resource-policy', 'same-origin');
    const method = req.method ?? 'GET';
    try {
      const url = new URL(path, 'http://napbox');
      // Auth comes before any answer about the path: without a token, every /api/ path is a 401, known or not.
      if (!OPEN.has(url.pathname)) await this.deps.auth.verifyRequest(req);
      const match = this.table.match(method, url.pathname);
      if (match.kind === 'method-not-allowed') return void sendError(res, noRouteError(match, method, url.pathname), { allow: match.allow.join(', ') });
      if (match.kind === 'not-found') throw noRouteError(match, method, url.pathname);
      try {
        await match.route.handler({ req, res, query: url.searchParams }, match.params);
      } finally {
        if (method !== 'GET' && !OPEN.has(url.pathname)) this.deps.onChange?.();
      }
    } catch (err) {
      const error = sendError(res, err);
      if (error.isServerFault) this.deps.logger.error({ err: error, path }, 'admin API call failed');
    }
  }
}

const on = routeBuilder<Call>();

async function sendMetrics(res: ServerResponse, metrics: Metrics): Promise<void> {
  const { contentType, body } = await metrics.render();
  res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
  res.end(body);
}

/** The table: every route of the admin API, in one place. */
function routes(deps: AdminApiDeps): Route<Call>[] {
  const { tenants, lifecycle, store, driver, messages, sweep, images, signInUrl, auth, metrics } = deps;
  return [
    on('GET', '/healthz', ({ res }) => sendJson(res, 200, { ok: true })),
    on('HEAD', '/healthz', ({ res }) => sendJson(res, 200, { ok: true })),
    on('GET', '/metrics', ({ res }) => sendMetrics(res, metrics)),
    on('HEAD', '/metrics', ({ res }) => sendMetrics(res, metrics)),
    // POST /api/session {token}: a dashboard session cookie for a valid admin token; DELETE ends it (revoked, not only cleared).
    on('POST', '/api/session', async ({ req, res }) => {
      const { token } = await readJson(req, SessionSchema, 8192);
      sendJson(res, 200, { signedIn: true }, { 'set-cookie': await auth.sessionCookie(token) });
    }),
    on('DELETE', '/api/session', async ({ req, res }) => {
      res.setHeader('set-cookie', [...(await auth.signOut(req))]);
      sendJson(res, 200, { signedOut: true });
    }),
    on('GET', '/api/events', ({ req, res }) => deps.events(req, res)),
    on('GET', '/api/tenants', async ({ res }) => {
      await tenants.learnImages(); // which image each running container runs, once per container
      reply(res, 200, TenantListSchema, { tenants: tenants.list() });
    }),
    on('POST', '/api/tenants', async ({ req, res }) => {
      const body = await readJson(req, CreateTenantSchema);
      reply(res, 201, TenantViewSchema, tenants.create(body));
    }),
    on('GET', '/api/tenants/:slug', async ({ res }, { slug }) => {
      await tenants.learnImages(assertSlug(slug));
      reply(res, 200, TenantViewSchema, tenants.get(slug));
    }),
    on('PATCH', '/api/tenants/:slug', async ({ req, res }, { slug }) => {
      const body = await readJson(req, ConfigChangesSchema);
      reply(res, 200, TenantViewSchema, tenants.update(slug, body));
    }),
    on('DELETE', '/api/tenants/:slug', async ({ res }, { slug }) => {
      await tenants.remove(slug);
      reply(res, 200, DeletedSchema, { deleted: slug });
    }),
    on('POST', '/api/tenants/:slug/open', async ({ res }, params) => {
      const slug = assertSlug(params.slug);
      store.require(slug);
      reply(res, 200, SignInLinkSchema, { tenant: slug, url: await signInUrl(slug), expiresInSeconds: 600 });
    }),
    on('POST', '/api/tenants/:slug/wake', async ({ res }, params) => {
      const slug = assertSlug(params.slug);
      store.require(slug);
      await lifecycle.wake(slug, 'admin wake', { force: true });
      await tenants.learnImages(slug);
      reply(res, 200, TenantViewSchema, tenants.get(slug));
    }),
    on('POST', '/api/tenants/:slug/stop', async ({ res }, params) => {
      const slug = assertSlug(params.slug);
      store.require(slug);
      await lifecycle.stop(slug, { kind: 'admin' });
      reply(res, 200, TenantViewSchema, tenants.get(slug));
    }),
    on('POST', '/api/tenants/:slug/messages', async ({ req, res }, { slug }) => {
      const body = await readJson(req, z.unknown(), 256 * 1024);
      const { message, created } = messages.accept(slug, body);
      reply(res, 202, AcceptedMessageSchema, { ...message, duplicate: !created });
    }),
    on('GET', '/api/tenants/:slug/messages', ({ res, query }, { slug }) =>
      reply(res, 200, MessageListSchema, { messages: messages.list(slug, query.get('session')) }),
    ),
    on('POST', '/api/tenants/:slug/messages/:id/retry', ({ res }, { slug, id }) => reply(res, 202, MessageViewSchema, messages.retry(slug, id))),
    on('GET', '/api/tenants/:slug/messages/:id', async ({ res, query }, { slug, id }) => {
      const wait = parseDuration(query.get('wait') ?? '0');
      if (wait === undefined || wait > 60_000) throw new NapboxError('bad_request', 'wait must be a duration up to 60s, like 25s');
      reply(res, 200, MessageViewSchema, await messages.get(slug, id, wait));
    }),
    on('GET', '/api/tenants/:slug/packages', ({ res }, { slug }) => reply(res, 200, PackagesSchema, images.packages(slug))),
    on('PUT', '/api/tenants/:slug/packages', async ({ req, res, query }, { slug }) => {
      const body = await readJson(req, z.unknown(), 64 * 1024);
      const apply = query.get('apply');
      if (apply !== null && apply !== 'now' && apply !== 'idle') throw new NapboxError('bad_request', 'apply must be now or idle');
      const build = await images.request(slug, body, apply === 'now');
      reply(res, build.state === 'ready' ? 200 : 202, BuildViewSchema, build);
    }),
    on('GET', '/api/tenants/:slug/logs', async ({ req, res, query }, params) => {
      const slug = assertSlug(params.slug);
      const tenant = store.require(slug);
      const tail = Number(query.get('tail') ?? 200);
      if (!Number.isInteger(tail) || tail < 1 || tail > 10_000) throw new NapboxError('bad_request', 'tail must be a whole number from 1 to 10000');
      res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
      if (query.get('follow') !== '1') return void res.end(tenant.containerId ? await driver.logs(tenant.containerId, { tail }) : '');
      const abort = new AbortController();
      req.once('close', () => abort.abort());
      void followTenantLogs({ store, driver }, slug, tail, res, abort.signal);
    }),
    on('GET', '/api/builds/:id', async ({ res }, { id }) => reply(res, 200, BuildWithLogSchema, await images.build(id))),
    on('GET', '/api/builds/:id/log', ({ req, res, query }, { id }) => images.streamLog(id, query.get('follow') === '1', req, res)),
    on('POST', '/api/images/prune', async ({ res }) => reply(res, 200, PruneReportSchema, await images.prune('all'))),
    on('POST', '/api/sweep', async ({ res }) => {
      const report = await sweep();
      // Each decision as data, with its words (`said`) from the one place they are made.
      const decisions = Object.fromEntries(Object.entries(report.decisions).map(([slug, d]) => [slug, { ...d, said: describeDecision(d) }]));
      sendJson(res, 200, { ...report, decisions });
    }),
  ];
}
