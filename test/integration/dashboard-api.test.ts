// The dashboard's side of the API, over plain HTTP: the session cookie, what
// it may and may not do (only napbox's own page may use it), its revocation
// at sign-out, and the live event stream.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { api, removeInstall, request, startNapbox, type NapboxProcess } from '../helpers/napbox-process.js';

interface SseEvent {
  readonly event: string;
  readonly data: any;
}

/** Opens GET /api/events with `cookie` and collects events until closed. */
function follow(
  nb: NapboxProcess,
  cookie: string,
): { events: SseEvent[]; next: (pred: (e: SseEvent) => boolean, ms?: number) => Promise<SseEvent>; close: () => void } {
  const events: SseEvent[] = [];
  const waiters: Array<() => void> = [];
  let buffer = '';
  const req = http.get({ host: '127.0.0.1', port: nb.port, path: '/api/events', headers: { cookie } }, (res) => {
    assert.equal(res.headers['content-type'], 'text/event-stream; charset=utf-8');
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffer += chunk;
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event && data) events.push({ event, data: JSON.parse(data) });
        for (const w of waiters.splice(0)) w();
      }
    });
  });
  req.on('error', () => undefined);
  const next = async (pred: (e: SseEvent) => boolean, ms = 15_000): Promise<SseEvent> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const hit = events.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) throw new Error(`no such event within ${ms} ms; got ${JSON.stringify(events.map((e) => e.event))}`);
      await new Promise<void>((resolve) => {
        waiters.push(resolve);
        setTimeout(resolve, 200);
      });
    }
  };
  return { events, next, close: () => req.destroy() };
}

describe('dashboard sessions and live events', () => {
  let nb: NapboxProcess;
  let cookie: string;
  before(async () => {
    nb = await startNapbox();
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  const own = () => ({ origin: `http://127.0.0.1:${nb.port}` });

  it('makes a host-only, HttpOnly, SameSite=Strict session cookie scoped to /api from a valid admin token only', async () => {
    const bad = await request(nb.port, {
      method: 'POST',
      path: '/api/session',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'garbage' }),
    });
    assert.equal(bad.status, 401);
    assert.equal(bad.headers['set-cookie'], undefined);
    const extra = await request(nb.port, {
      method: 'POST',
      path: '/api/session',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: 'x', admin: true }),
    });
    assert.equal(extra.status, 400);
    const good = await request(nb.port, {
      method: 'POST',
      path: '/api/session',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: await nb.token() }),
    });
    assert.equal(good.status, 200);
    const set = good.headers['set-cookie']?.[0] ?? '';
    assert.match(
      set,
      /^napbox_admin=[\w-]+\.[\w-]+\.[\w-]+; Path=\/api; HttpOnly; SameSite=Strict; Max-Age=43200$/,
      'Path=/api: never sent to /t/<slug>/ pages',
    );
    assert.doesNotMatch(set, /Domain=/i, 'host-only: tenant hosts never receive it');
    cookie = set.split(';')[0]!;
  });

  it('lets the cookie read, but change nothing without the dashboard header', async () => {
    const read = await request(nb.port, { method: 'GET', path: '/api/tenants', headers: { cookie } });
    assert.equal(read.status, 200);
    const forged = await request(nb.port, {
      method: 'POST',
      path: '/api/tenants',
      headers: { cookie, 'content-type': 'application/json' },
      body: JSON.stringify({ slug: 'csrf' }),
    });
    assert.equal(forged.status, 401);
    assert.equal((await api(nb, 'GET', '/api/tenants/csrf')).status, 404, 'nothing was created');
    const made = await request(nb.port, {
      method: 'POST',
      path: '/api/tenants',
      headers: { cookie, ...own(), 'x-napbox-dashboard': '1', 'content-type': 'application/json' },
      body: JSON.stringify({ slug: 'fromcookie' }),
    });
    assert.equal(made.status, 201);
    const tampered = await request(nb.port, { method: 'GET', path: '/api/tenants', headers: { cookie: `${cookie}x` } });
    assert.equal(tampered.status, 401);
  });

  it("takes the cookie from napbox's own page only, and is no bearer token", async () => {
    const create = (headers: Record<string, string>) =>
      request(nb.port, {
        method: 'POST',
        path: '/api/tenants',
        headers: { cookie, 'x-napbox-dashboard': '1', 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ slug: 'forged' }),
      });
    // A change with no Origin, from a sandboxed /t/ page (null), from a sibling host, or marked cross-site by the browser.
    const changes: Array<Record<string, string>> = [
      {},
      { origin: 'null' },
      { origin: `http://evil.localhost:${nb.port}` },
      { ...own(), 'sec-fetch-site': 'same-site' },
    ];
    for (const headers of changes) {
      const res = await create(headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
    }
    const reads: Array<Record<string, string>> = [{ origin: 'null' }, { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' }];
    for (const headers of reads) {
      assert.equal((await request(nb.port, { path: '/api/tenants', headers: { cookie, ...headers } })).status, 401, JSON.stringify(headers));
    }
    assert.equal((await api(nb, 'GET', '/api/tenants/forged')).status, 404, 'nothing was created');
    assert.equal((await request(nb.port, { path: '/api/tenants', headers: { cookie, 'sec-fetch-site': 'same-origin' } })).status, 200);
    const asBearer = await request(nb.port, { path: '/api/tenants', headers: { authorization: `Bearer ${cookie.split('=')[1]}` } });
    assert.equal(asBearer.status, 401);
    assert.match(JSON.parse(asBearer.body).message, /not an API token/);
  });

  it('streams a snapshot, then each change: a wake (with its time), a stop, a removal', async () => {
    const live = follow(nb, cookie);
    try {
      const snapshot = await live.next((e) => e.event === 'snapshot');
      assert.deepEqual(snapshot.data.tenants.map((t: { slug: string }) => t.slug).sort(), ['demo', 'fromcookie']);
      assert.equal((await api(nb, 'POST', '/api/tenants/fromcookie/wake')).status, 200);
      const running = await live.next((e) => e.event === 'tenants' && e.data.changed.some((t: any) => t.slug === 'fromcookie' && t.state === 'running'));
      const view = running.data.changed.find((t: any) => t.slug === 'fromcookie');
      assert.equal(view.recentWakes.length, 1);
      assert.equal(view.recentWakes[0].outcome, 'ready');
      assert.ok(view.recentWakes[0].ms > 0 && view.recentWakes[0].ms < 60_000);
      assert.equal((await api(nb, 'POST', '/api/tenants/fromcookie/stop')).status, 200);
      await live.next((e) => e.event === 'tenants' && e.data.changed.some((t: any) => t.slug === 'fromcookie' && t.state === 'stopped'));
      assert.equal((await api(nb, 'DELETE', '/api/tenants/fromcookie')).status, 200);
      await live.next((e) => e.event === 'tenants' && e.data.removed.includes('fromcookie'));
    } finally {
      live.close();
    }
  });

  it('revokes the session on sign-out: a copy of the cookie stops working, also after a restart', async () => {
    assert.equal((await request(nb.port, { path: '/api/tenants', headers: { cookie } })).status, 200);
    const forged = await request(nb.port, { method: 'DELETE', path: '/api/session', headers: { cookie, origin: `http://evil.localhost:${nb.port}` } });
    assert.equal(forged.status, 401, 'a sign-out from another origin is refused');
    assert.equal((await request(nb.port, { path: '/api/tenants', headers: { cookie } })).status, 200, 'and changed nothing');
    const out = await request(nb.port, { method: 'DELETE', path: '/api/session', headers: { cookie, ...own(), 'x-napbox-dashboard': '1' } });
    assert.equal(out.status, 200);
    assert.match(out.headers['set-cookie']?.[0] ?? '', /^napbox_admin=; Path=\/api; .*Max-Age=0/);
    const copied = await request(nb.port, { path: '/api/tenants', headers: { cookie } });
    assert.equal(copied.status, 401);
    assert.match(JSON.parse(copied.body).message, /signed out/);
    await nb.stop();
    nb = await startNapbox({ dataDir: nb.dataDir });
    assert.equal((await request(nb.port, { path: '/api/tenants', headers: { cookie } })).status, 401, 'still revoked after a restart');
    const again = await request(nb.port, {
      method: 'POST',
      path: '/api/session',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: await nb.token() }),
    });
    const fresh = (again.headers['set-cookie']?.[0] ?? '').split(';')[0]!;
    assert.equal((await request(nb.port, { path: '/api/tenants', headers: { cookie: fresh } })).status, 200, 'a new sign-in works');
  });

  it('serves the page and its files under a strict content security policy', async () => {
    for (const [p, type] of [
      ['/', 'text/html'],
      ['/dashboard/app.js', 'text/javascript'],
      ['/dashboard/app.css', 'text/css'],
    ] as const) {
      const res = await request(nb.port, { method: 'GET', path: p });
      assert.equal(res.status, 200, p);
      assert.ok(String(res.headers['content-type']).startsWith(type), p);
      assert.match(String(res.headers['content-security-policy']), /script-src 'self'/);
      assert.match(String(res.headers['content-security-policy']), /frame-ancestors 'none'/);
      assert.equal(res.headers['x-frame-options'], 'DENY');
    }
    assert.equal((await request(nb.port, { method: 'GET', path: '/dashboard/other.js' })).status, 404);
  });
});
