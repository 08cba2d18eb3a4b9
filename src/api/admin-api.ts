// The admin API under /api/ on the base host (and /healthz). Every /api/ call
// needs an admin bearer token, or the dashboard's session cookie sent by
// napbox's own page (auth.ts); bodies and path parameters are validated before
// anything is read or written, and errors come back as `{ error, message }`.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { z } from 'zod';
import { NapboxError } from '../errors.js';
import type { Logger } from '../log.js';
import type { Lifecycle } from '../tenants/lifecycle.js';
import { assertSlug } from '../model/slug.js';
import { CreateTenantSchema, type TenantService } from '../tenants/tenant-service.js';
import { TenantConfigSchema } from '../model/tenant-config.js';
import type { ContainerDriver } from '../runtime/container-driver.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { AdminAuth } from './auth.js';
import type { MessageService } from '../messages/message-service.js';
import type { ImageAdmin } from '../images/image-admin.js';
import type { Metrics } from '../metrics/metrics.js';
import { parseDuration } from '../config/duration.js';
import { decodePathParam, readJson, sendError, sendJson } from './http-io.js';

export interface AdminApiDeps {
  readonly auth: AdminAuth;
  readonly tenants: TenantService;
  readonly lifecycle: Lifecycle;
  readonly store: TenantStore;
  readonly driver: ContainerDriver;
  readonly messages: MessageService;
  /** Runs a sweep tick now and reports what it decided. */
  readonly sweep: () => Promise<unknown>;
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

type Handler = (ctx: { req: IncomingMessage; res: ServerResponse; params: string[]; query: URLSearchParams }) => Promise<void>;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly handler: Handler;
}

const SEGMENT = '([^/]+)';

export class AdminApi {
  private readonly routes: Route[];

  constructor(private readonly deps: AdminApiDeps) {
    const { tenants, lifecycle, store, driver, messages, sweep, images, signInUrl } = deps;
    this.routes = [
      route('GET', '/api/tenants', async ({ res }) => sendJson(res, 200, { tenants: tenants.list() })),
      route('GET', '/api/events', async ({ req, res }) => deps.events(req, res)),
      route('POST', '/api/tenants', async ({ req, res }) => {
        const body = await readJson(req, CreateTenantSchema);
        sendJson(res, 201, tenants.create(body));
      }),
      route('GET', `/api/tenants/${SEGMENT}`, async ({ res, params }) => sendJson(res, 200, tenants.get(params[0]!))),
      route('PATCH', `/api/tenants/${SEGMENT}`, async ({ req, res, params }) => {
        const body = await readJson(req, TenantConfigSchema.partial().strict());
        sendJson(res, 200, tenants.update(params[0]!, body));
      }),
      route('POST', `/api/tenants/${SEGMENT}/open`, async ({ res, params }) => {
        const slug = assertSlug(params[0]);
        store.require(slug);
        sendJson(res, 200, { tenant: slug, url: await signInUrl(slug), expiresInSeconds: 600 });
      }),
      route('DELETE', `/api/tenants/${SEGMENT}`, async ({ res, params }) => {
        await tenants.remove(params[0]!);
        sendJson(res, 200, { deleted: params[0] });
      }),
      route('POST', `/api/tenants/${SEGMENT}/wake`, async ({ res, params }) => {
        const slug = assertSlug(params[0]);
        store.require(slug);
        await lifecycle.wake(slug, 'admin wake', { force: true });
        sendJson(res, 200, tenants.get(slug));
      }),
      route('POST', `/api/tenants/${SEGMENT}/stop`, async ({ res, params }) => {
        const slug = assertSlug(params[0]);
        store.require(slug);
        await lifecycle.stop(slug, { kind: 'admin' });
        sendJson(res, 200, tenants.get(slug));
      }),
      route('POST', `/api/tenants/${SEGMENT}/messages`, async ({ req, res, params }) => {
        const body = await readJson(req, z.unknown(), 256 * 1024);
        const { message, created } = messages.accept(params[0]!, body);
        sendJson(res, 202, { ...message, duplicate: !created });
      }),
      route('GET', `/api/tenants/${SEGMENT}/messages`, async ({ res, params, query }) => {
        sendJson(res, 200, { messages: messages.list(params[0]!, query.get('session')) });
      }),
      route('POST', `/api/tenants/${SEGMENT}/messages/${SEGMENT}/retry`, async ({ res, params }) => {
        sendJson(res, 202, messages.retry(params[0]!, params[1]!));
      }),
      route('GET', `/api/tenants/${SEGMENT}/messages/${SEGMENT}`, async ({ res, params, query }) => {
        const wait = parseDuration(query.get('wait') ?? '0');
        if (wait === undefined || wait > 60_000) throw new NapboxError('bad_request', 'wait must be a duration up to 60s, like 25s');
        sendJson(res, 200, await messages.get(params[0]!, params[1]!, wait));
      }),
      route('GET', `/api/tenants/${SEGMENT}/packages`, async ({ res, params }) => sendJson(res, 200, images.packages(params[0]!))),
      route('PUT', `/api/tenants/${SEGMENT}/packages`, async ({ req, res, params, query }) => {
        const body = await readJson(req, z.unknown(), 64 * 1024);
        const apply = query.get('apply');
        if (apply !== null && apply !== 'now' && apply !== 'idle') throw new NapboxError('bad_request', 'apply must be now or idle');
        const build = await images.request(params[0]!, body, apply === 'now');
        sendJson(res, build.state === 'ready' ? 200 : 202, build);
      }),
      route('GET', `/api/builds/${SEGMENT}`, async ({ res, params }) => sendJson(res, 200, await images.build(params[0]!))),
      route('GET', `/api/builds/${SEGMENT}/log`, async ({ req, res, params, query }) => images.streamLog(params[0]!, query.get('follow') === '1', req, res)),
      route('POST', '/api/images/prune', async ({ res }) => sendJson(res, 200, await images.prune())),
      route('POST', '/api/sweep', async ({ res }) => sendJson(res, 200, await sweep())),
      route('GET', `/api/tenants/${SEGMENT}/logs`, async ({ req, res, params, query }) => {
        const slug = assertSlug(params[0]);
        const tenant = store.require(slug);
        const tail = Number(query.get('tail') ?? 200);
        if (!Number.isInteger(tail) || tail < 1 || tail > 10_000) throw new NapboxError('bad_request', 'tail must be a whole number from 1 to 10000');
        res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-content-type-options': 'nosniff' });
        if (!tenant.containerId) return void res.end('');
        if (query.get('follow') !== '1') return void res.end(await driver.logs(tenant.containerId, { tail }));
        const abort = new AbortController();
        req.once('close', () => abort.abort());
        const stream = await driver.followLogs(tenant.containerId, { tail, signal: abort.signal });
        stream.on('data', (chunk: Buffer | string) => res.write(chunk));
        stream.on('end', () => res.end());
      }),
    ];
  }

  /** POST /api/session {token}: a dashboard session cookie for a valid admin token; DELETE ends it (revoked, not only cleared). */
  private async session(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method === 'DELETE') {
      res.setHeader('set-cookie', [...(await this.deps.auth.signOut(req))]);
      return sendJson(res, 200, { signedOut: true });
    }
    if (req.method !== 'POST') throw new NapboxError('bad_request', `${req.method} is not allowed on /api/session`);
    const { token } = await readJson(req, SessionSchema, 8192);
    sendJson(res, 200, { signedIn: true }, { 'set-cookie': await this.deps.auth.sessionCookie(token) });
  }

  /** True when this request is the API's to answer. */
  owns(path: string): boolean {
    return path === '/healthz' || path === '/metrics' || path === '/api' || path.startsWith('/api/');
  }

  async handle(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
    // No other origin may load an answer of napbox's as a script, image or style (no-cors), cookie or not.
    res.setHeader('cross-origin-resource-policy', 'same-origin');
    try {
      const url = new URL(path, 'http://napbox');
      if (url.pathname === '/healthz') {
        sendJson(res, 200, { ok: true });
        return;
      }
      if (url.pathname === '/metrics') {
        const { contentType, body } = await this.deps.metrics.render();
        res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
        res.end(body);
        return;
      }
      if (url.pathname === '/api/session') {
        await this.session(req, res);
        return;
      }
      await this.deps.auth.verifyRequest(req);
      for (const r of this.routes) {
        const match = r.pattern.exec(url.pathname);
        if (!match) continue;
        if (r.method !== req.method) continue;
        const params = match.slice(1).map((p) => decodePathParam(p));
        try {
          await r.handler({ req, res, params, query: url.searchParams });
        } finally {
          if (req.method !== 'GET') this.deps.onChange?.();
        }
        return;
      }
      const known = this.routes.some((r) => r.pattern.test(url.pathname));
      throw new NapboxError(known ? 'bad_request' : 'not_found', known ? `${req.method} is not allowed on ${url.pathname}` : `no API route ${url.pathname}`);
    } catch (err) {
      const error = sendError(res, err);
      if (error.isServerFault) this.deps.logger.error({ err: error, path }, 'admin API call failed');
    }
  }
}

const SessionSchema = z.object({ token: z.string().min(1).max(4096) }).strict();

function route(method: string, path: string, handler: Handler): Route {
  return { method, pattern: new RegExp(`^${path}$`), handler };
}
