// The world a scenario runs in: napbox started in process by startNapbox
// (src/app.ts) on one engine, with what a scenario needs to talk to it as a
// user would (HTTP to tenant hosts, the admin API, sockets) and to look at or
// break the engine underneath (which containers run, kill one). The same
// scenario runs on FakeDriver in the unit suite, on the Docker engine in
// test/integration/scenarios.test.ts and on Swarm in swarm.test.ts; what
// differs between engines (how long a stop takes, how a slow provider is
// spelled) lives here, never in a scenario.

import fs from 'node:fs';
import type http from 'node:http';
import path from 'node:path';
import WebSocket from 'ws';
import { AdminAuth, loadOrCreateKey } from '../../src/api/auth.js';
import { startNapbox } from '../../src/app.js';
import { loadConfig } from '../../src/config/config.js';
import { NODE_BASE_TAG, resolveAgentImage } from '../../src/images/agent-image.js';
import { createLogger } from '../../src/log.js';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { FakeDriver } from '../../src/runtime/fake-driver.js';
import { type HttpResult, removeInstall, ROOT, request, tempDataDir } from '../helpers/napbox-process.js';

export type Engine = 'fake' | 'docker' | 'swarm';

export interface Timing {
  /** NAPBOX_IDLE_TIMEOUT and NAPBOX_SWEEP_INTERVAL of a sweep world. */
  readonly idleMs: number;
  readonly sweepMs: number;
  /** What stopping a container may take on this engine, on top of the sweep's own delay. */
  readonly stopMs: number;
  /** How long the slow provider takes to answer: long enough that a test sees it processing and kills its container first. */
  readonly slowMs: number;
  /** An upper bound for a wake, a delivery and its reply. */
  readonly replyMs: number;
}

/** Providers a scenario can give a tenant; each engine's world makes them answer the same way. */
export const PROVIDERS = {
  /** Answers `slow reply to <text>\n` after `timing.slowMs`. */
  slow: (timing: Timing) => ({ kind: 'command', command: ['sh', '-c', `read -r line; sleep ${timing.slowMs / 1000}; echo "slow reply to $line"`] }),
  /** A program that does not exist: every message fails at once (not retryable). */
  missing: () => ({ kind: 'command', command: ['/no/such/program'] }),
  /** Fails its first delivery of each session (a retryable error), answers `second try <text>\n` on the next. */
  flaky: () => ({ kind: 'command', command: ['sh', '-c', 'read -r line; if [ -e tried ]; then echo "second try $line"; else touch tried; exit 1; fi'] }),
};

export interface World {
  readonly engine: Engine;
  readonly port: number;
  readonly installId: string;
  readonly timing: Timing;
  /** The admin API with a valid token; `token: null` sends none. */
  api(
    method: string,
    apiPath: string,
    body?: unknown,
    options?: { token?: string | null },
  ): Promise<{ status: number; json: any; headers: http.IncomingHttpHeaders }>;
  request(options?: Parameters<typeof request>[1]): Promise<HttpResult>;
  /** A valid admin token. */
  token(): Promise<string>;
  tenantHost(slug: string): string;
  /** A WebSocket through napbox to `wsPath` on the tenant's host, once open. */
  socket(slug: string, wsPath: string, headers?: Record<string, string>): Promise<WebSocket>;
  /** The tenant's containers (swarm: its task containers) running in the engine now. */
  running(slug: string): Promise<number>;
  /** Kills the tenant's running container, as a crash would. */
  crash(slug: string): Promise<void>;
  close(): Promise<void>;
}

export const TIMING: Record<Engine, Timing> = {
  fake: { idleMs: 1000, sweepMs: 100, stopMs: 500, slowMs: 1500, replyMs: 8000 },
  docker: { idleMs: 2000, sweepMs: 500, stopMs: 3000, slowMs: 2000, replyMs: 60_000 },
  // Scaling a service to 0 takes swarm about 3.5 s (it lets the overlay network's gossip settle first).
  swarm: { idleMs: 2000, sweepMs: 500, stopMs: 6000, slowMs: 3000, replyMs: 90_000 },
};

/** A fake engine whose images are the agent image napbox asks for, and whose runner answers PROVIDERS. */
async function fakeEngine(timing: Timing, caBundle: string | undefined): Promise<FakeDriver> {
  const probe = new FakeDriver([NODE_BASE_TAG]);
  const { tag } = await resolveAgentImage({ driver: probe, containerDir: path.join(ROOT, 'container'), caBundle });
  const fake = new FakeDriver([NODE_BASE_TAG, tag]);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  fake.commands.set(JSON.stringify(PROVIDERS.slow(timing).command), async (text) => {
    await sleep(timing.slowMs);
    return `slow reply to ${text}\n`;
  });
  fake.commands.set(JSON.stringify(PROVIDERS.flaky().command), async (text, attempt) => {
    if (attempt === 1) throw { retryable: true, message: 'the command exited with 1' };
    return `second try ${text}\n`;
  });
  return fake;
}

/** Starts napbox on `engine` with these NAPBOX_* settings; `close` stops it and removes all it made. */
export async function startWorld(engine: Engine, env: Record<string, string> = {}): Promise<World> {
  const timing = TIMING[engine];
  const dataDir = tempDataDir();
  const config = loadConfig({
    ...(engine === 'fake' ? { HOME: process.env.HOME } : process.env),
    NAPBOX_PORT: '0',
    NAPBOX_DATA_DIR: dataDir,
    NAPBOX_GROUPS_DIR: `${dataDir}-groups`,
    NAPBOX_MOUNT_ALLOWLIST: `${dataDir}-allowlist.json`,
    NAPBOX_DRIVER: engine === 'swarm' ? 'swarm' : 'docker',
    ...(engine === 'fake' ? { NAPBOX_UPSTREAM: 'published' } : {}),
    ...env,
  });
  const fake = engine === 'fake' ? await fakeEngine(timing, config.caBundle) : undefined;
  const logger = createLogger(process.env.SCENARIO_LOG ?? 'silent', 'json');
  const nb = await startNapbox(config, { logger, ...(fake ? { driver: fake } : {}) });
  const port = Number(new URL(nb.url).port);
  const auth = new AdminAuth(loadOrCreateKey(dataDir), nb.installId);
  const docker = fake ? undefined : new DockerDriver();
  const containers = async (slug: string) =>
    (await (fake ?? docker)!.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': slug })).filter((c) => c.status === 'running');
  const tenantHost = (slug: string) => `${slug}.localhost:${port}`;

  return {
    engine,
    port,
    installId: nb.installId,
    timing,
    async api(method, apiPath, body, options = {}) {
      const token = options.token === undefined ? await auth.issue(600) : options.token;
      const res = await request(port, {
        method,
        path: apiPath,
        headers: {
          ...(token === null ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
      });
      let json: unknown = res.body;
      try {
        json = JSON.parse(res.body);
      } catch {
        /* text */
      }
      return { status: res.status, json, headers: res.headers };
    },
    request: (options) => request(port, options),
    token: () => auth.issue(600),
    tenantHost,
    async socket(slug, wsPath, headers = {}) {
      const ws = new WebSocket(`ws://127.0.0.1:${port}${wsPath}`, { headers: { host: tenantHost(slug), ...headers } });
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
      });
      return ws;
    },
    running: async (slug) => (await containers(slug)).length,
    async crash(slug) {
      const [container] = await containers(slug);
      if (!container) throw new Error(`no running container of ${slug} to crash`);
      if (fake) await fake.crash(container.id, 137);
      else await docker!.remove(container.id, { force: true }); // swarm (restart condition none) leaves the task dead
    },
    async close() {
      try {
        await nb.close();
      } finally {
        if (fake) for (const c of fake.containers.values()) await fake.remove(c.id, { force: true });
        else await removeInstall(nb.installId);
        for (const dir of [dataDir, `${dataDir}-groups`]) fs.rmSync(dir, { recursive: true, force: true });
        fs.rmSync(`${dataDir}-allowlist.json`, { force: true });
      }
    },
  };
}
