// Runs napbox as a real process for integration tests, on a free port with
// its own temp data dir (so its own install id and labels), and removes
// everything it made in the engine afterwards, even when the test failed.
// `shareWith` starts a second process on the first one's data dir (so its
// database, keys, install id, groups dir and allowlist), on another port.

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import WebSocket from 'ws';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { SwarmDriver } from '../../src/runtime/swarm-driver.js';
import { AdminAuth, loadOrCreateKey } from '../../src/api/auth.js';
import { loadInstallId } from '../../src/install-id.js';
import { readServerFiles } from '../../src/server-file.js';

export const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');

export interface NapboxProcess {
  readonly dataDir: string;
  readonly port: number;
  readonly url: string;
  readonly installId: string;
  readonly proc: ChildProcess;
  readonly output: () => string;
  token(): Promise<string>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
}

export function tempDataDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-test-'));
}

export async function startNapbox(options: { dataDir?: string; env?: Record<string, string>; shareWith?: NapboxProcess } = {}): Promise<NapboxProcess> {
  const dataDir = options.shareWith?.dataDir ?? options.dataDir ?? tempDataDir();
  const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/index.ts')], {
    cwd: ROOT,
    env: {
      ...process.env,
      NAPBOX_PORT: '0',
      NAPBOX_DATA_DIR: dataDir,
      NAPBOX_GROUPS_DIR: `${dataDir}-groups`,
      NAPBOX_MOUNT_ALLOWLIST: `${dataDir}-allowlist.json`,
      NAPBOX_LOG_LEVEL: 'warn',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const deadline = Date.now() + 30_000;
  let server: { url: string; port: number; pid: number } | undefined;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`napbox exited with ${proc.exitCode}:\n${out}`);
    server = readServerFiles(dataDir).find((f) => f.pid === proc.pid); // its own file, once it listens
    if (server) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!server) {
    proc.kill('SIGKILL');
    throw new Error(`napbox did not start within 30s:\n${out}`);
  }
  const installId = loadInstallId(dataDir);
  const auth = new AdminAuth(loadOrCreateKey(dataDir), installId);
  const end = async (signal: NodeJS.Signals): Promise<void> => {
    if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    await exited;
  };
  return {
    dataDir,
    port: server.port,
    url: server.url,
    installId,
    proc,
    output: () => out,
    token: () => auth.issue(600),
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
  };
}

/** Removes every container, network, volume and tenant image carrying this install's label. */
export async function removeInstall(installId: string): Promise<void> {
  // A wrong argument (a whole NapboxProcess from an untyped script) would match no label and remove nothing, silently.
  if (typeof installId !== 'string' || !/^[a-z0-9]{6,40}$/.test(installId)) throw new Error(`removeInstall: ${String(installId)} is not an install id`);
  await removeSwarmServices(installId);
  const driver = new DockerDriver();
  for (const c of await driver.findByLabels({ 'napbox.install': installId })) await driver.remove(c.id, { force: true });
  for (const n of await driver.findNetworksByLabels({ 'napbox.install': installId })) await driver.removeNetwork(n);
  for (const v of await driver.findVolumesByLabels({ 'napbox.install': installId })) await driver.removeVolume(v);
  for (const image of await driver.findImagesByLabels({ 'napbox.install': installId, 'napbox.role': 'tenant' })) {
    await driver.removeImage(image.id).catch(() => undefined);
  }
}

/** Swarm services of the install (NAPBOX_DRIVER=swarm), then their overlay networks; nothing on an engine in no swarm. */
async function removeSwarmServices(installId: string): Promise<void> {
  const swarm = new SwarmDriver();
  let services: Awaited<ReturnType<SwarmDriver['findByLabels']>>;
  try {
    services = await swarm.findByLabels({ 'napbox.install': installId });
  } catch {
    return; // not a swarm manager: there are no services
  }
  await Promise.all(services.map((s) => swarm.remove(s.id, { force: true })));
  if (services.length > 0) await Promise.all((await swarm.findNetworksByLabels({ 'napbox.install': installId })).map((n) => swarm.removeNetwork(n)));
}

export interface HttpResult {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** An HTTP request to napbox on 127.0.0.1 with any Host header (tenant hosts need no DNS this way). */
export function request(
  port: number,
  options: {
    host?: string;
    path?: string;
    method?: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
    agent?: http.Agent | false;
    timeoutMs?: number;
  } = {},
): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        path: options.path ?? '/',
        method: options.method ?? 'GET',
        headers: { host: options.host ?? `127.0.0.1:${port}`, ...options.headers },
        agent: options.agent ?? false,
        timeout: options.timeoutMs ?? 90_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Calls the admin API with a valid token. */
export async function api(nb: NapboxProcess, method: string, apiPath: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await request(nb.port, {
    method,
    path: apiPath,
    headers: { authorization: `Bearer ${await nb.token()}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  let json: unknown = res.body;
  try {
    json = JSON.parse(res.body);
  } catch {
    /* text */
  }
  return { status: res.status, json };
}

export function tenantHost(nb: NapboxProcess, slug: string): string {
  return `${slug}.localhost:${nb.port}`;
}

/** A WebSocket to `wsPath` on a tenant's host through napbox, resolved once open (the tenant woken first if need be). */
export async function openTenantSocket(nb: NapboxProcess, slug: string, wsPath: string, onMessage?: (data: WebSocket.RawData) => void): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${nb.port}${wsPath}`, { headers: { host: tenantHost(nb, slug) } });
  if (onMessage) ws.on('message', onMessage);
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return ws;
}
