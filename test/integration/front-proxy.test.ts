// docs/front-proxy.md's nginx and Caddy configurations, run as written there
// (read out of the page: they cannot drift apart) by Debian's nginx 1.22 and
// Caddy 2.6 as plain processes on loopback ports, in front of a running
// napbox (fake engine: what is checked is the chain, not the container).
// Through each: wildcard tenant hosts, a cold start, a WebSocket, a tenant's
// event stream arriving event by event, the dashboard's live events, the
// forwarded headers the app sees, and the links napbox hands out.
//
// The page's configurations are changed in the fewest places a test without
// certificates needs: the TLS lines left out, the proxy's listen address and
// napbox's port swapped for loopback ports, and napbox.example.com for
// localhost. Each change must find its text, so an edit of the page that the
// test no longer understands fails here instead of passing untested.
// nginx and caddy are installed by `bash setup/setup.sh --tests`
// (setup/test-tools.ts); without them this test fails, it does not skip.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { NGINX, CADDY } from '../../setup/test-tools.js';
import { ROOT } from '../helpers/napbox-process.js';
import { startWorld, type World } from '../scenarios/world.js';

type Proxy = 'nginx' | 'caddy';

/** The first fenced block after `<!-- tested: name -->` in docs/front-proxy.md. */
function documented(name: Proxy): string {
  const page = fs.readFileSync(path.join(ROOT, 'docs/front-proxy.md'), 'utf8');
  const match = new RegExp(`<!-- tested: ${name} -->\\s*\`\`\`[a-z]*\\n([\\s\\S]*?)\\n\`\`\``).exec(page);
  if (!match) throw new Error(`docs/front-proxy.md has no block marked <!-- tested: ${name} -->`);
  return match[1]!;
}

/** `text` with `from` replaced by `to`; throws when `from` is not there (the page changed). */
function swap(text: string, from: string | RegExp, to: string): string {
  const found = typeof from === 'string' ? text.includes(from) : from.test(text);
  if (!found) throw new Error(`docs/front-proxy.md's configuration no longer has ${String(from)}: update the test's changes`);
  return typeof from === 'string' ? text.split(from).join(to) : text.replace(from, to);
}

function nginxConfig(dir: string, port: number, napboxPort: number): string {
  let block = documented('nginx');
  block = swap(block, /^\s*listen 443 ssl;$/m, `    listen 127.0.0.1:${port};`);
  block = swap(block, /^\s*ssl_certificate .*\n\s*ssl_certificate_key .*\n/m, '');
  block = swap(block, '127.0.0.1:8080', `127.0.0.1:${napboxPort}`);
  block = swap(block, 'napbox.example.com', 'localhost');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `    ${t}_temp_path ${dir}/${t};`).join('\n');
  return `daemon off;\nworker_processes 1;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents { worker_connections 256; }\nhttp {\n    access_log off;\n${temp}\n${block}\n}\n`;
}

function caddyConfig(port: number, napboxPort: number): string {
  let block = documented('caddy');
  block = swap(block, /^napbox\.example\.com, \*\.napbox\.example\.com \{$/m, `http://localhost:${port}, http://*.localhost:${port} {`);
  block = swap(block, /^\s*tls .*\n/m, '');
  block = swap(block, '127.0.0.1:8080', `127.0.0.1:${napboxPort}`);
  return `{\n\tadmin off\n\tauto_https off\n\tgrace_period 1s\n}\n\n${block}\n`;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts `proxy` in front of napbox's port; resolves once it accepts connections on `port`. */
async function startProxy(proxy: Proxy, port: number, napboxPort: number, dir: string): Promise<{ proc: ChildProcess; output: () => string }> {
  const binary = proxy === 'nginx' ? NGINX : CADDY;
  if (!fs.existsSync(binary)) throw new Error(`${binary} is missing: install the test tools with \`bash setup/setup.sh --tests\``);
  fs.chmodSync(dir, 0o755); // nginx's workers run as nobody
  let args: string[];
  if (proxy === 'nginx') {
    fs.writeFileSync(path.join(dir, 'nginx.conf'), nginxConfig(dir, port, napboxPort));
    args = ['-e', path.join(dir, 'error.log'), '-p', `${dir}/`, '-c', path.join(dir, 'nginx.conf')];
  } else {
    fs.writeFileSync(path.join(dir, 'Caddyfile'), caddyConfig(port, napboxPort));
    args = ['run', '--adapter', 'caddyfile', '--config', path.join(dir, 'Caddyfile')];
  }
  const env = { PATH: process.env.PATH ?? '', HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir };
  const proc = spawn(binary, args, { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const output = (): string => `${out}${fs.existsSync(path.join(dir, 'error.log')) ? fs.readFileSync(path.join(dir, 'error.log'), 'utf8') : ''}`;
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    if (proc.exitCode !== null) throw new Error(`${proxy} exited with ${proc.exitCode}:\n${output()}`);
    const up = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.once('error', () => resolve(false));
    });
    if (up) return { proc, output };
    await new Promise((r) => setTimeout(r, 100));
  }
  proc.kill('SIGKILL');
  throw new Error(`${proxy} did not listen on ${port} within 15s:\n${output()}`);
}

interface Got {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** Each chunk of the body with the milliseconds since the request was sent. */
  readonly chunks: { at: number; text: string }[];
  readonly body: string;
}

/** A request to the proxy with `host` as the Host header, the answer's chunks timed as they arrive. */
function get(port: number, host: string, pathname: string, headers: Record<string, string> = {}): Promise<Got> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path: pathname, headers: { host, ...headers }, agent: false, timeout: 30_000 }, (res) => {
      const chunks: { at: number; text: string }[] = [];
      res.on('data', (d: Buffer) => chunks.push({ at: Date.now() - start, text: d.toString() }));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, chunks, body: chunks.map((c) => c.text).join('') }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end();
  });
}

for (const proxy of ['nginx', 'caddy'] as const) {
  describe(`behind ${proxy}, configured as docs/front-proxy.md says`, () => {
    let world: World;
    let front: { proc: ChildProcess; output: () => string } | undefined;
    let port = 0;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `napbox-${proxy}-`));
    const tenantHost = (slug: string): string => `${slug}.localhost:${port}`;
    const base = (): string => `localhost:${port}`;

    before(async () => {
      port = await freePort();
      world = await startWorld('fake', { NAPBOX_PUBLIC_URL: `http://localhost:${port}`, NAPBOX_TRUSTED_PROXIES: '127.0.0.1' });
      front = await startProxy(proxy, port, world.port, dir);
      assert.equal((await world.api('POST', '/api/tenants', { slug: 'app' })).status, 201);
    });
    after(async () => {
      if (front?.proc.exitCode === null) {
        const exited = new Promise((resolve) => front!.proc.once('exit', resolve));
        front.proc.kill('SIGTERM');
        await exited;
      }
      await world?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });

    it('wakes a cold tenant on its wildcard host, and the app sees the forwarded headers of the chain', async () => {
      await world.api('POST', '/api/tenants/app/stop');
      assert.equal((await world.api('GET', '/api/tenants/app')).json.state, 'stopped');
      const got = await get(port, tenantHost('app'), '/whoami', {
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
        'x-forwarded-port': '1',
        'x-real-ip': '6.6.6.6',
        forwarded: 'for=6.6.6.6',
      });
      assert.equal(got.status, 200, `${got.body}\n${front?.output()}`);
      const who = JSON.parse(got.body) as { tenant: string; headers: Record<string, string | undefined> };
      assert.equal(who.tenant, 'app');
      assert.equal((await world.api('GET', '/api/tenants/app')).json.state, 'running');
      // The proxy replaced the client's claims with what it saw; napbox kept them (trusted) and appended the proxy.
      assert.equal(who.headers['x-forwarded-for'], '127.0.0.1, 127.0.0.1');
      assert.equal(who.headers['x-forwarded-proto'], 'http');
      assert.equal(who.headers['x-forwarded-host'], tenantHost('app'));
      assert.equal(who.headers['x-forwarded-port'], proxy === 'nginx' ? String(port) : undefined);
      assert.equal(who.headers['x-real-ip'], '127.0.0.1');
      assert.equal(who.headers.forwarded, undefined);
      assert.equal(who.headers.host, tenantHost('app'));
    });

    it('carries a WebSocket to the app', async () => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`, { headers: { host: tenantHost('app') } });
      try {
        await new Promise((resolve, reject) => {
          ws.once('open', resolve);
          ws.once('error', reject);
          ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
        });
        const echoed = new Promise<string>((resolve) => ws.once('message', (data) => resolve(String(data))));
        ws.send('through the proxy');
        assert.equal(await echoed, 'through the proxy');
      } finally {
        ws.terminate();
      }
    });

    it("delivers a tenant's server-sent events one by one, not buffered to the end", async () => {
      const got = await get(port, tenantHost('app'), '/events?n=4&ms=400');
      assert.equal(got.status, 200);
      assert.match(String(got.headers['content-type']), /text\/event-stream/);
      const arrivals = got.chunks.filter((c) => c.text.includes('data: event'));
      assert.ok(arrivals.length >= 3, `events arrived in ${arrivals.length} piece(s): ${JSON.stringify(got.chunks)}`);
      assert.ok(arrivals.at(-1)!.at - arrivals[0]!.at >= 800, `events arrived together: ${JSON.stringify(got.chunks)}`);
    });

    it("streams the dashboard's live events through the proxy", async () => {
      const token = await world.token();
      const events: string[] = [];
      let more: (() => void) | undefined;
      const req = http.get({ host: '127.0.0.1', port, path: '/api/events', headers: { host: base(), authorization: `Bearer ${token}` }, agent: false });
      try {
        const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
          req.once('response', resolve);
          req.once('error', reject);
        });
        assert.equal(res.statusCode, 200);
        res.on('data', (d: Buffer) => {
          events.push(d.toString());
          more?.();
        });
        const until = async (pred: () => boolean, what: string): Promise<void> => {
          const deadline = Date.now() + 10_000;
          while (!pred()) {
            if (Date.now() > deadline) throw new Error(`no ${what} through ${proxy}; got ${JSON.stringify(events)}`);
            await new Promise<void>((resolve) => {
              more = resolve;
              setTimeout(resolve, 100);
            });
          }
        };
        await until(() => events.join('').includes('event: snapshot'), 'snapshot');
        assert.equal((await world.api('POST', '/api/tenants', { slug: 'live' })).status, 201);
        await until(() => events.join('').includes('"slug":"live"'), 'update for a new tenant while the stream stays open');
      } finally {
        req.destroy();
      }
    });

    it('hands out links that name the proxy, not the port napbox listens on', async () => {
      const view = await get(port, base(), '/api/tenants/app', { authorization: `Bearer ${await world.token()}` });
      assert.equal(view.status, 200, view.body);
      assert.equal((JSON.parse(view.body) as { url: string }).url, `http://${tenantHost('app')}/`);
      const underPath = await get(port, base(), '/t/app/whoami');
      assert.equal(underPath.status, 200);
      assert.equal((JSON.parse(underPath.body) as { headers: Record<string, string> }).headers['x-forwarded-prefix'], '/t/app');
    });
  });
}
