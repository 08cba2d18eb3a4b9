// The slow path's two ways to a tenant's app (forwardHttp for requests,
// http-proxy for WebSocket upgrades) tell the app the same thing about a
// request's origin as the relay, and never pass napbox's cookies: checked
// against a local upstream that records what it receives.

import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../log.js';
import { ActivityTracker } from '../tenants/activity.js';
import type { Lifecycle } from '../tenants/lifecycle.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { TenantAccess } from '../api/tenant-access.js';
import { TrustedProxies } from './forwarded-headers.js';
import { TenantProxy } from './tenant-proxy.js';

/** What the app tries to set on every answer, its WebSocket 101 included. */
const APP_COOKIES = ['napbox_admin=x; Path=/api', 'wide=1; Domain=napbox.test; Path=/', 'own=1; Path=/x', 'mine=1; Domain=app.napbox.test'];
const CLIENT_HEADERS =
  'X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\nX-Real-IP: 6.6.6.6\r\nCookie: napbox_admin=stolen; app=1; __Host-napbox_s=x\r\n';

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Sends raw `text` to port and resolves with what came back by the close (or 2 s). */
function send(port: number, text: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1', () => socket.write(text));
    let got = '';
    socket.on('data', (d: Buffer) => (got += d.toString('latin1')));
    socket.on('error', () => undefined);
    const timer = setTimeout(() => socket.destroy(), 2000);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(got);
    });
  });
}

describe('TenantProxy forwarding', () => {
  const seen: http.IncomingHttpHeaders[] = [];
  const upstream = http.createServer((req, res) => {
    seen.push(req.headers);
    res.setHeader('set-cookie', APP_COOKIES);
    res.end('ok');
  });
  upstream.on('upgrade', (req, socket) => {
    seen.push(req.headers);
    const cookies = APP_COOKIES.map((c) => `Set-Cookie: ${c}\r\n`).join('');
    socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${cookies}\r\n`);
  });
  const fronts: http.Server[] = [];
  const proxies: TenantProxy[] = [];
  let upstreamPort = 0;

  /** A front server that hands /t/app requests and upgrades to a TenantProxy, as server.ts does. */
  async function front(trusted: string[], prefix = '/t/app'): Promise<number> {
    const lifecycle = { endpointOf: () => ({ app: { host: '127.0.0.1', port: upstreamPort } }), forget: () => undefined } as unknown as Lifecycle;
    const proxy = new TenantProxy({
      lifecycle,
      store: { get: () => ({ config: {} }) } as unknown as TenantStore,
      activity: new ActivityTracker(),
      logger: createLogger('silent'),
      access: { admit: async () => 'public' } as unknown as TenantAccess,
      trustedProxies: new TrustedProxies(trusted),
    });
    proxies.push(proxy);
    const target = { slug: 'app', path: '/x', prefix };
    const server = http.createServer((req, res) => void proxy.web(req, res, target));
    server.on('upgrade', (req, socket, head) => void proxy.upgrade(req, socket, head, target));
    fronts.push(server);
    return listen(server);
  }

  before(async () => {
    upstreamPort = await listen(upstream);
  });
  after(() => {
    for (const proxy of proxies) proxy.close();
    for (const server of [...fronts, upstream]) {
      server.closeAllConnections();
      server.close();
    }
  });

  it("replaces an untrusted client's X-Forwarded-* and strips napbox's cookies, for requests and WebSockets", async () => {
    const port = await front([]);
    const request = `GET /t/app/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${CLIENT_HEADERS}\r\n`;
    const upgrade = `GET /t/app/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${CLIENT_HEADERS}\r\n`;
    assert.match(await send(port, request), /^HTTP\/1\.1 200/);
    assert.match(await send(port, upgrade), /^HTTP\/1\.1 101/);
    assert.equal(seen.length, 2);
    for (const headers of seen.splice(0)) {
      assert.equal(headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(headers['x-forwarded-host'], '127.0.0.1');
      assert.equal(headers['x-forwarded-proto'], 'http');
      assert.equal(headers['x-forwarded-prefix'], '/t/app');
      assert.equal(headers['x-real-ip'], undefined);
      assert.equal(headers.cookie, 'app=1');
    }
  });

  it("keeps a trusted proxy's X-Forwarded-* and appends to them", async () => {
    const port = await front(['127.0.0.1']);
    await send(port, `GET /t/app/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n${CLIENT_HEADERS}\r\n`);
    await send(
      port,
      `GET /t/app/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${CLIENT_HEADERS}\r\n`,
    );
    for (const headers of seen.splice(0)) {
      assert.equal(headers['x-forwarded-for'], '6.6.6.6, 127.0.0.1');
      assert.equal(headers['x-forwarded-host'], 'evil.example');
      assert.equal(headers.cookie, 'app=1', 'napbox cookies go whoever the peer is');
    }
  });

  it("scopes the app's Set-Cookie under /t/<slug>/ and drops napbox's names and Domain cookies, for requests and WebSockets", async () => {
    const port = await front([]);
    const answers = [
      await send(port, 'GET /t/app/x HTTP/1.1\r\nHost: napbox.test\r\nConnection: close\r\n\r\n'),
      await send(
        port,
        'GET /t/app/x HTTP/1.1\r\nHost: napbox.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      ),
    ];
    seen.splice(0);
    for (const answer of answers) {
      const cookies = answer
        .split('\r\n\r\n')[0]!
        .split('\r\n')
        .filter((line) => /^set-cookie:/i.test(line));
      assert.deepEqual(
        cookies.map((line) => line.replace(/^set-cookie: /i, '')),
        ['own=1; Path=/t/app/x'],
        answer,
      );
    }
  });

  it('lets the app on its own host set cookies for that host only, for requests and WebSockets', async () => {
    const port = await front([], '');
    const answers = [
      await send(port, 'GET /x HTTP/1.1\r\nHost: app.napbox.test:8080\r\nConnection: close\r\n\r\n'),
      await send(
        port,
        'GET /x HTTP/1.1\r\nHost: app.napbox.test:8080\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
      ),
    ];
    seen.splice(0);
    for (const answer of answers) {
      const cookies = answer
        .split('\r\n\r\n')[0]!
        .split('\r\n')
        .filter((line) => /^set-cookie:/i.test(line));
      assert.deepEqual(
        cookies.map((line) => line.replace(/^set-cookie: /i, '')),
        ['own=1; Path=/x', 'mine=1; Domain=app.napbox.test'],
        answer,
      );
    }
  });
});
