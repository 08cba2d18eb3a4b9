// A tenant's page attacks napbox in a real browser (Debian's chromium, driven
// by playwright-core), against a real napbox and real tenant containers.
// The attacker is the tenant `evil`, whose own app (`app.command`, a node
// one-liner) serves a page with a script, and records the Cookie header of
// every request it receives.
//
// The operator is signed in to the dashboard (http://127.0.0.1:PORT/) and to
// the private tenant `priv2`, and then visits the evil page:
// - under /t/evil/ (the same host as the dashboard), its script tries the
//   admin API (list, create, delete, mint a sign-in link, read logs) and to
//   read the tenants `victim` and `priv2` under /t/, by fetch and in frames;
// - on its own host evil.napbox.test, a sibling of priv2.napbox.test (one
//   site), its script opens priv2's chat socket with the operator's session.
// - it plants cookies named like napbox's, by Set-Cookie under /t/evil/ and
//   by document.cookie for the parent domain napbox.test on its own host.
// Everything must fail, while the pages' own chat works under /t/ and on
// the tenant's host, and the dashboard on napbox.test and priv2 stay signed
// in, and signing out still revokes the real session. The base domain napbox.test is mapped to 127.0.0.1 by
// Chromium's host resolver rules: no DNS, no traffic off the machine.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { DEFAULT_BROWSER } from '../../setup/test-tools.js';
import { ROOT, api, removeInstall, request, startNapbox, type NapboxProcess } from '../helpers/napbox-process.js';

const SHOTS = path.join(ROOT, 'test-results', 'origin-isolation');
const BASE = 'napbox.test';
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  `--host-resolver-rules=MAP ${BASE} 127.0.0.1, MAP *.${BASE} 127.0.0.1`,
];

// The attacker's app. It also sends a CSP of its own that would allow same-origin, to show it cannot loosen napbox's.
const EVIL_APP = `
const seen = [];
require('http').createServer((req, res) => {
  if (req.url === '/seen') {
    res.writeHead(200, { 'content-type': 'application/json' });
    return res.end(JSON.stringify(seen));
  }
  seen.push({ url: req.url, cookie: req.headers.cookie || '' });
  if (req.url === '/plant') {
    // Cookies that would shadow or overwrite napbox's, by Set-Cookie: napbox drops them under /t/.
    res.writeHead(200, { 'content-type': 'text/html', 'set-cookie': ['napbox_admin=planted; Path=/api/tenants', 'wide=1; Domain=napbox.test; Path=/'] });
    return res.end('<title>planted</title>');
  }
  if (req.url === '/plant-js') {
    // The same by document.cookie, for the parent domain: no proxy can stop it, napbox's readers skip them instead.
    res.writeHead(200, { 'content-type': 'text/html' });
    return res.end("<title>plant</title><script>document.cookie = 'napbox_admin=planted; domain=napbox.test; path=/api/'; document.cookie = 'napbox_session=planted; domain=napbox.test; path=/'; document.title = 'planted';</script>");
  }
  if (req.url === '/attack.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' });
    return res.end(process.argv[1]);
  }
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': 'sandbox allow-scripts allow-same-origin' });
  res.end('<!doctype html><title>evil</title><body><p>evil</p><script src="attack.js"></script></body>');
}).listen(Number(process.env.PORT), '0.0.0.0');
`;

// The page's script, served by the evil app as /attack.js (its second argument).
const ATTACK = `
(async () => {
  const r = {};
  const sleep = (ms) => new Promise((ok) => setTimeout(ok, ms));
  const tryFetch = async (name, url, init) => {
    try {
      const x = await fetch(url, init);
      r[name] = 'status ' + x.status + ' ' + (await x.text()).slice(0, 300);
    } catch (e) {
      r[name] = 'blocked: ' + e.message;
    }
  };
  r.origin = String(self.origin);
  try { r.cookie = document.cookie; } catch (e) { r.cookie = 'blocked: ' + e.name; }
  if (location.pathname.indexOf('/t/') === 0) {
    const H = { 'x-napbox-dashboard': '1', 'content-type': 'application/json' };
    await tryFetch('list', '/api/tenants', { credentials: 'include' });
    await tryFetch('create', '/api/tenants', { method: 'POST', credentials: 'include', headers: H, body: JSON.stringify({ slug: 'pwned' }) });
    await tryFetch('createNoCors', '/api/tenants', { method: 'POST', mode: 'no-cors', credentials: 'include', headers: { 'content-type': 'text/plain' }, body: JSON.stringify({ slug: 'pwned2' }) });
    await tryFetch('remove', '/api/tenants/victim', { method: 'DELETE', credentials: 'include', headers: H });
    await tryFetch('mint', '/api/tenants/priv2/open', { method: 'POST', credentials: 'include', headers: H });
    await tryFetch('logs', '/api/tenants/priv2/logs', { credentials: 'include' });
    await tryFetch('readVictim', '/t/victim/', { credentials: 'include' });
    await tryFetch('readPriv2', '/t/priv2/', { credentials: 'include' });
    const frame = (src) => new Promise((ok) => {
      const f = document.createElement('iframe');
      f.src = src;
      f.onload = () => {
        try { ok('read: ' + f.contentDocument.body.innerText.slice(0, 200)); } catch (e) { ok('blocked: ' + e.name); }
      };
      document.body.appendChild(f);
      setTimeout(() => ok('no load'), 8000);
    });
    r.frameVictim = await frame('/t/victim/');
    r.frameDashboard = await frame('/');
    try {
      const w = window.open('/');
      await sleep(1500);
      r.popup = w ? 'read: ' + w.document.title : 'no window';
      if (w) w.close();
    } catch (e) {
      r.popup = 'blocked: ' + e.name;
    }
  } else {
    const target = 'ws://priv2.' + location.host.split('.').slice(1).join('.') + '/_napbox/chat?session=stolen';
    r.ws = await new Promise((ok) => {
      const ws = new WebSocket(target);
      ws.onopen = () => ws.send(JSON.stringify({ type: 'send', text: 'sent by evil' }));
      ws.onmessage = (e) => ok('read: ' + String(e.data).slice(0, 200));
      ws.onerror = () => ok('refused');
      setTimeout(() => ok('timeout'), 8000);
    });
    await tryFetch('readPriv2', 'http://priv2.' + location.host.split('.').slice(1).join('.') + '/', { credentials: 'include' });
  }
  window.results = r;
  document.title = 'done';
})();
`;

describe('tenant pages cannot reach napbox or other tenants (Chromium)', () => {
  let nb: NapboxProcess;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let dashboard: string;
  const host = (slug: string) => `http://${slug}.${BASE}:${nb.port}`;

  /** Runs a step; when it fails, keeps a screenshot and napbox's output to see why. */
  const step = (name: string, run: () => Promise<void>) =>
    it(name, async () => {
      try {
        await run();
      } catch (err) {
        await page?.screenshot({ path: path.join(SHOTS, `failed-${name.slice(0, 30).replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => undefined);
        console.error(`napbox output:\n${nb?.output().slice(-4000)}`);
        throw err;
      }
    });

  /** Opens the evil page at `url` and returns what its script found. */
  async function attack(url: string): Promise<Record<string, string>> {
    await page.goto(url);
    await page.waitForFunction(() => document.title === 'done', undefined, { timeout: 40_000 });
    return page.evaluate(() => (window as unknown as { results: Record<string, string> }).results);
  }

  /** Sends `text` on the built-in page's chat and waits for the echo. */
  async function chat(text: string): Promise<void> {
    await page.locator('#chat-send:not([disabled])').waitFor({ timeout: 30_000 });
    await page.fill('#chat-text', text);
    await page.click('#chat-send');
    await page.locator('#chat-log li.out', { hasText: `echo: ${text}` }).waitFor({ timeout: 60_000 });
  }

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    nb = await startNapbox({ env: { NAPBOX_BASE_DOMAIN: BASE } });
    dashboard = `http://127.0.0.1:${nb.port}`;
    for (const body of [{ slug: 'evil', app: { command: ['node', '-e', EVIL_APP, ATTACK] } }, { slug: 'victim' }, { slug: 'priv2', visibility: 'private' }])
      assert.equal((await api(nb, 'POST', '/api/tenants', body)).status, 201);
    browser = await chromium.launch({ executablePath: process.env.NAPBOX_TEST_BROWSER ?? DEFAULT_BROWSER, headless: true, args: FLAGS });
    context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    page = await context.newPage();
    page.setDefaultTimeout(30_000);
  });

  after(async () => {
    await browser?.close();
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  step('the operator signs in to the dashboard, and to priv2 with a link opened under /t/, which lands on its own host', async () => {
    await page.goto(`${dashboard}/`);
    await page.fill('#token', await nb.token());
    await page.click('#signin-form button[type=submit]');
    await page.locator('#app').waitFor({ state: 'visible' });
    const link = new URL((await api(nb, 'POST', '/api/tenants/priv2/open')).json.url);
    assert.equal(link.host, `priv2.${BASE}:${nb.port}`);
    // The same link under /t/ (as someone without wildcard DNS would try it).
    await page.goto(`${dashboard}/t/priv2${link.pathname}${link.search}`);
    await page.locator('#tenant', { hasText: 'priv2' }).waitFor();
    assert.equal(new URL(page.url()).host, `priv2.${BASE}:${nb.port}`, 'a private tenant is signed in to on its own host');
    await chat('hello from priv2');
  });

  step("a public tenant's built-in page and its chat work under /t/, sandboxed", async () => {
    const answer = await page.goto(`${dashboard}/t/victim/`);
    assert.match(String(answer?.headers()['content-security-policy']), /sandbox allow-scripts/);
    assert.doesNotMatch(String(answer?.headers()['content-security-policy']), /allow-same-origin/);
    await page.locator('#tenant', { hasText: 'victim' }).waitFor();
    await chat('hello from /t/');
  });

  step("the page under /t/evil/ cannot use the admin API or read other tenants' pages", async () => {
    const r = await attack(`${dashboard}/t/evil/`);
    await page.screenshot({ path: path.join(SHOTS, 'evil-under-t.png'), fullPage: true });
    assert.equal(r.origin, 'null', 'the page runs in an opaque origin, whatever CSP the app sent');
    assert.match(r.cookie!, /^blocked/);
    for (const key of ['list', 'create', 'remove', 'mint', 'logs', 'readVictim', 'readPriv2']) {
      assert.match(r[key]!, /^blocked|^status 401/, `${key}: ${r[key]}`);
    }
    assert.doesNotMatch(JSON.stringify(r), /signin\?token=|"tenants"|Tenant <span/);
    for (const key of ['frameVictim', 'frameDashboard', 'popup']) assert.doesNotMatch(r[key]!, /^read/, `${key}: ${r[key]}`);
    assert.equal((await api(nb, 'GET', '/api/tenants/pwned')).status, 404);
    assert.equal((await api(nb, 'GET', '/api/tenants/pwned2')).status, 404);
    assert.equal((await api(nb, 'GET', '/api/tenants/victim')).status, 200, 'victim was not deleted');
    // What the evil app received: never napbox's cookies.
    const seen = JSON.parse((await request(nb.port, { path: '/t/evil/seen' })).body) as Array<{ url: string; cookie: string }>;
    assert.ok(seen.length >= 1, 'the evil app served its page');
    for (const { url, cookie } of seen) assert.doesNotMatch(cookie, /napbox_admin|napbox_session/, `${url} came with ${cookie}`);
  });

  step("a sibling tenant's page cannot open priv2's chat with the operator's session, while priv2's own page can", async () => {
    // Signed in on priv2's own host (again: this step does not lean on the first).
    await page.goto((await api(nb, 'POST', '/api/tenants/priv2/open')).json.url);
    await page.locator('#tenant', { hasText: 'priv2' }).waitFor();
    await chat('mine, before');
    const r = await attack(`${host('evil')}/`);
    await page.screenshot({ path: path.join(SHOTS, 'evil-on-sibling-host.png'), fullPage: true });
    assert.equal(r.ws, 'refused', `evil's WebSocket: ${r.ws}`);
    assert.match(r.readPriv2!, /^blocked/);
    const stolen = await api(nb, 'GET', '/api/tenants/priv2/messages?session=stolen');
    assert.deepEqual(stolen.json.messages, [], 'nothing was sent on the stolen session');
    // The operator's own page still chats.
    await page.goto(`${host('priv2')}/`);
    await chat('still mine');
  });

  step("cookies a tenant plants do not sign the operator out of the dashboard on the tenants' parent domain, or of priv2", async () => {
    const fresh = await browser.newContext({ viewport: { width: 1000, height: 700 } });
    const tab = await fresh.newPage();
    try {
      const base = `http://${BASE}:${nb.port}`;
      await tab.goto(`${base}/`);
      await tab.fill('#token', await nb.token());
      await tab.click('#signin-form button[type=submit]');
      await tab.locator('#app').waitFor({ state: 'visible' });
      const real = (await fresh.cookies()).find((c) => c.name === 'napbox_admin')!;
      // Planted on the tenant's host first (parent domain, a longer Path: the browser sends it first), then under /t/.
      await tab.goto(`${host('evil')}/plant-js`);
      await tab.waitForFunction(() => document.title === 'planted');
      await tab.goto(`${base}/t/evil/plant`);
      const planted = (await fresh.cookies()).filter((c) => c.value === 'planted' || c.name === 'wide');
      assert.deepEqual(
        planted.map((c) => `${c.name} ${c.domain} ${c.path}`).sort(),
        ['napbox_admin .napbox.test /api/', 'napbox_session .napbox.test /'],
        'the /t/ answer set nothing; only document.cookie on the tenant host did',
      );
      // A sign-in to priv2 after the planting: its real cookie is sent after the planted one.
      await tab.goto((await api(nb, 'POST', '/api/tenants/priv2/open')).json.url);
      await tab.locator('#tenant', { hasText: 'priv2' }).waitFor();
      await tab.goto(`${host('priv2')}/`);
      await tab.locator('#tenant', { hasText: 'priv2' }).waitFor();
      await tab.goto(`${base}/`);
      await tab.locator('#app').waitFor({ state: 'visible' });
      await tab.locator('tr[data-slug="victim"]').waitFor();
      await tab.click('#signout');
      await tab.locator('#signin-form').waitFor({ state: 'visible' });
      const after = await request(nb.port, { host: `${BASE}:${nb.port}`, path: '/api/tenants', headers: { cookie: `napbox_admin=${real.value}` } });
      assert.equal(after.status, 401, 'signing out revoked the real session, not only the planted one');
    } finally {
      await fresh.close();
    }
  });
});
