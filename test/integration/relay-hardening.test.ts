// What strangers can send napbox over raw sockets, on the relay (a running
// tenant's host) and the server path (base host, /t/): malformed requests
// are refused by napbox itself (400, JSON) and never stop it, every spelling
// of /_napbox/ stays napbox's, pipelined requests are answered in order,
// incomplete heads meet a deadline, connections are capped, X-Forwarded-* and
// napbox's cookies are rewritten, and a tenant made private loses the
// connections already relayed to it. One real napbox, one real tenant.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, removeInstall, request, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { exchange, parseResponses, rawConnect, type RawConnection } from '../helpers/raw-http.js';

const HEAD_TIMEOUT_MS = 1000;

function get(path: string, host: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;
}

function json(body: Buffer): any {
  return JSON.parse(body.toString('utf8'));
}

describe('requests napbox must read strictly', () => {
  let nb: NapboxProcess;
  let host: string;
  let base: string;
  before(async () => {
    nb = await startNapbox({ env: { NAPBOX_HEAD_TIMEOUT: `${HEAD_TIMEOUT_MS}ms`, NAPBOX_MAX_CONNECTIONS: '50', NAPBOX_MAX_CONNECTIONS_PER_CLIENT: '30' } });
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'warm' })).status, 201);
    assert.equal((await api(nb, 'POST', '/api/tenants/warm/wake')).status, 200);
    host = tenantHost(nb, 'warm');
    base = `127.0.0.1:${nb.port}`;
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  const alive = async (): Promise<void> => {
    assert.equal(nb.proc.exitCode, null, `napbox exited:\n${nb.output()}`);
    assert.equal((await request(nb.port, { path: '/healthz' })).status, 200);
  };

  it('answers undecodable paths 400 on every path, and keeps serving', async () => {
    const cases = [
      get('/t/%ZZ/', base),
      get('/t/%ZZ/', base, 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'),
      `POST /t/%ZZ/ HTTP/1.1\r\nHost: ${base}\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n`,
      get('/%ZZ', host),
      get('/%ZZ', host, 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n'),
      get('/api/tenants/%ZZ', base),
    ];
    for (const text of cases) {
      const { parsed } = await exchange(nb.port, text);
      assert.equal(parsed.responses[0]?.status, 400, text);
      assert.equal(json(parsed.responses[0]!.body).error, 'bad_request', text);
      await alive();
    }
    const patched = await api(nb, 'PATCH', '/api/tenants/%FF', { visibility: 'public' });
    assert.equal(patched.status, 400, "invalid UTF-8 in a path parameter is the client's mistake, not a 500");
  });

  it('refuses malformed heads itself (400, JSON, closed) instead of passing them on', async () => {
    const heads = [
      `GET /whoami HTTP/1.1\r\nHost: ${host}\r\nX: a\nGET /whoami HTTP/1.1\r\n\r\n`,
      `GET /whoami HTTP/1.1\r\nHost: ${host}\r\nX: a\r\n folded\r\n\r\n`,
      `GET /whoami HTTP/1.1\r\nHost: ${host}\r\nX : a\r\n\r\n`,
      `GET /whoami HTTP/1.1\r\nHost: ${host}\r\nX: a\0b\r\n\r\n`,
      `POST /echo-body HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc`,
      `POST /echo-body HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
      `POST /echo-body HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: gzip\r\n\r\n`,
      `GET /whoami HTTP/1.1\r\nHost: ${host}\r\nHost: ${base}\r\n\r\n`,
      `GET /whoami HTTP/1.1\nHost: ${host}\n\n`,
    ];
    for (const text of heads) {
      // Behind a relayed request on the same connection, as an app would see a second request.
      const { parsed, connection } = await exchange(nb.port, get('/whoami', host) + text, 2);
      assert.equal(parsed.responses[0]?.status, 200, text);
      assert.equal(parsed.responses[1]?.status, 400, JSON.stringify(text));
      assert.equal(json(parsed.responses[1]!.body).error, 'bad_request', text);
      await connection.untilClosed(3000);
    }
    await alive();
  });

  it('keeps every spelling of /_napbox/ for napbox, on the relay and on /t/', async () => {
    const spellings = ['/./_napbox/status', '/x/../_napbox/status', '//_napbox/status', '/%5fnapbox/status', '/%5Fnapbox/status', '/%2e/_napbox/status'];
    for (const path of spellings) {
      for (const text of [get('/whoami', host) + get(path, host), get(`/t/warm${path}`, base)]) {
        const { parsed } = await exchange(nb.port, text, text.startsWith('GET /whoami') ? 2 : 1);
        const last = parsed.responses.at(-1)!;
        assert.equal(last.status, 200, `${path}: ${last.body.toString()}`);
        assert.deepEqual(json(last.body), { tenant: 'warm', state: 'running' }, path);
      }
    }
    const absolute = await exchange(nb.port, get('/whoami', host) + get(`http://${host}/_napbox/status`, host), 2);
    assert.deepEqual(json(absolute.parsed.responses[1]!.body), { tenant: 'warm', state: 'running' });
    const otherHost = await exchange(nb.port, get(`http://${host}/_napbox/status`, base));
    assert.equal(otherHost.parsed.responses[0]?.status, 400, 'an absolute-form target naming another host than Host');
  });

  it('answers pipelined requests in order when the relay hands back or refuses', async () => {
    const handBack = await exchange(nb.port, get('/slow?ms=300', host) + get('/_napbox/status', host) + get('/whoami?after', host), 3);
    assert.deepEqual(
      handBack.parsed.responses.map((r) => r.status),
      [200, 200, 200],
    );
    assert.equal(handBack.parsed.responses[0]!.body.toString(), 'slept 300ms\n');
    assert.deepEqual(json(handBack.parsed.responses[1]!.body), { tenant: 'warm', state: 'running' });
    assert.equal(json(handBack.parsed.responses[2]!.body).path, '/whoami?after');

    const refused = await exchange(nb.port, `${get('/slow?ms=300', host)}GET /whoami HTTP/1.1\r\nHost: ${host}\r\nX: a\r\n b\r\n\r\n`, 2);
    assert.deepEqual(
      refused.parsed.responses.map((r) => r.status),
      [200, 400],
    );
    assert.equal(refused.parsed.responses[0]!.body.toString(), 'slept 300ms\n');

    const heads = await rawConnect(nb.port); // HEAD answers have no body: the hand-back must not wait for one
    heads.socket.write(`HEAD / HTTP/1.1\r\nHost: ${host}\r\n\r\n${get('/_napbox/status', host)}`);
    await heads.until((d) => parseResponses(d, false, [true, false]).responses.length === 2, 5000);
    assert.deepEqual(json(parseResponses(heads.received(), false, [true, false]).responses[1]!.body), { tenant: 'warm', state: 'running' });
    heads.socket.destroy();
  });

  it('closes connections whose request head does not arrive in time, relayed or not', async () => {
    const started = Date.now();
    const silent = await rawConnect(nb.port);
    const trickle = await rawConnect(nb.port);
    const afterRequest = await rawConnect(nb.port);
    trickle.socket.write(`GET /whoami HTTP/1.1\r\nHost: ${host}\r\n`);
    afterRequest.socket.write(get('/healthz', base));
    await afterRequest.until((d) => parseResponses(d, false).responses.length === 1, 5000);
    afterRequest.socket.write('GET /healthz HTTP/1.1\r\n'); // a second head on the server path, never finished
    const timer = setInterval(() => {
      if (!trickle.closed()) trickle.socket.write('X-Slow: 1\r\n');
      if (!afterRequest.closed()) afterRequest.socket.write('X');
    }, 200);
    try {
      for (const connection of [silent, trickle, afterRequest] as RawConnection[]) await connection.untilClosed(HEAD_TIMEOUT_MS * 4);
    } finally {
      clearInterval(timer);
    }
    assert.ok(Date.now() - started < HEAD_TIMEOUT_MS * 4);
    assert.match(silent.received().toString('latin1'), /^HTTP\/1\.1 408 /);
    assert.match(trickle.received().toString('latin1'), /^HTTP\/1\.1 408 /);
    assert.match(afterRequest.received().toString('latin1'), /HTTP\/1\.1 408 /);
  });

  it("puts napbox's X-Forwarded-* in place of the client's and strips napbox's cookies, relayed and on /t/", async () => {
    const headers =
      'X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-Host: evil.example\r\nX-Forwarded-Proto: https\r\nForwarded: for=6.6.6.6\r\nCookie: napbox_admin=stolen; app=1; napbox_session=s2; __Host-napbox_x=3\r\n';
    const relayed = await exchange(nb.port, get('/whoami', host, headers));
    const proxied = await exchange(nb.port, get('/t/warm/whoami', base, headers));
    for (const [name, result, forwardedHost] of [
      ['relay', relayed, host],
      ['/t/', proxied, base],
    ] as const) {
      const seen = json(result.parsed.responses[0]!.body).headers;
      assert.equal(seen['x-forwarded-for'], '127.0.0.1', name);
      assert.equal(seen['x-forwarded-host'], forwardedHost, name);
      assert.equal(seen['x-forwarded-proto'], 'http', name);
      assert.equal(seen.forwarded, undefined, name);
      assert.equal(seen.cookie, 'app=1', name);
    }
    assert.equal(json(proxied.parsed.responses[0]!.body).headers['x-forwarded-prefix'], '/t/warm');
  });

  it('closes connections relayed to a tenant when it is made private', async () => {
    const connection = await rawConnect(nb.port);
    connection.socket.write(get('/whoami', host));
    await connection.until((d) => parseResponses(d, false).responses.length === 1, 5000);
    try {
      assert.equal((await api(nb, 'PATCH', '/api/tenants/warm', { visibility: 'private' })).status, 200);
      await connection.untilClosed(3000).catch(async () => {
        // Still open: then its next request must be checked like any other (401 without a session).
        connection.socket.write(get('/whoami', host));
        await connection.until((d) => parseResponses(d, false).responses.length === 2, 5000);
        assert.equal(parseResponses(connection.received(), false).responses[1]!.status, 401);
      });
      assert.equal((await request(nb.port, { host, path: '/whoami' })).status, 401);
    } finally {
      connection.socket.destroy();
      assert.equal((await api(nb, 'PATCH', '/api/tenants/warm', { visibility: 'public' })).status, 200);
    }
  });

  it('caps connections per client and in total with a 503, counting every path', async () => {
    const open: RawConnection[] = [];
    try {
      for (let i = 0; i < 30; i += 1) {
        const connection = await rawConnect(nb.port);
        connection.socket.write(i % 2 === 0 ? get('/whoami', host) : get('/healthz', base)); // relayed, and handed to the server
        await connection.until((d) => parseResponses(d, false).responses.length === 1, 5000);
        open.push(connection);
      }
      const refused = await rawConnect(nb.port);
      await refused.untilClosed(3000);
      const answer = parseResponses(refused.received(), true).responses[0];
      assert.equal(answer?.status, 503);
      assert.equal(answer?.headers['retry-after'], '5');
      assert.equal(json(answer!.body).error, 'capacity');
      for (let i = 0; i < 20; i += 1) {
        const other = await rawConnect(nb.port, '127.0.0.2'); // another client: under its own cap
        other.socket.write(get('/healthz', base));
        await other.until((d) => parseResponses(d, false).responses.length === 1, 5000);
        open.push(other);
      }
      const third = await rawConnect(nb.port, '127.0.0.3');
      await third.untilClosed(3000);
      assert.equal(parseResponses(third.received(), true).responses[0]?.status, 503, 'the total cap');
    } finally {
      for (const connection of open) connection.socket.destroy();
    }
    await new Promise((r) => setTimeout(r, 200));
    await alive(); // counts went down as connections closed
  });
});
