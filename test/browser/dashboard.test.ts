// The dashboard in a real browser: Debian's chromium, driven by playwright-core,
// against a real napbox and the real Docker engine. It signs in, creates a
// tenant, wakes it and sees it turn running without a reload, sees a stop made
// elsewhere arrive live, edits its packages and watches the build log, sends a
// chat message and sees the reply. Screenshots go to test-results/dashboard/.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEFAULT_BROWSER } from '../../setup/test-tools.js';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { ROOT, api, removeInstall, startNapbox, type NapboxProcess } from '../helpers/napbox-process.js';

const SHOTS = path.join(ROOT, 'test-results', 'dashboard');
// The flags this closed machine needs: without the background-networking ones
// Chromium keeps dialling Google's hosts and gets refused.
const FLAGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const SLUG = 'browser1';

describe('the dashboard in headless Chromium', () => {
  let nb: NapboxProcess;
  let browser: Browser;
  let page: Page;
  const problems: string[] = [];

  const row = (slug: string) => page.locator(`tr[data-slug="${slug}"]`);
  const shot = (name: string) => page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
  /** Waits until the tenant's state cell reads `state`, with no navigation in between. */
  const waitState = (slug: string, state: string, timeout = 60_000) =>
    page.waitForFunction(([s, want]) => document.querySelector(`tr[data-slug="${s}"] td.state`)?.firstChild?.textContent === want, [slug, state] as const, {
      timeout,
    });

  /** Runs a step; when it fails, keeps a screenshot and napbox's output to see why. */
  const step = (name: string, run: () => Promise<void>) =>
    it(name, async () => {
      try {
        await run();
      } catch (err) {
        await page?.screenshot({ path: path.join(SHOTS, `failed-${name.slice(0, 30).replace(/\W+/g, '-')}.png`), fullPage: true }).catch(() => undefined);
        console.error(
          `napbox output:\n${nb?.output().slice(-4000)}\npage status: ${await page
            ?.locator('#status')
            .textContent()
            .catch(() => '?')}`,
        );
        throw err;
      }
    });

  before(async () => {
    fs.mkdirSync(SHOTS, { recursive: true });
    nb = await startNapbox();
    browser = await chromium.launch({ executablePath: process.env.NAPBOX_TEST_BROWSER ?? DEFAULT_BROWSER, headless: true, args: FLAGS });
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error' && !/status of 401/.test(msg.text())) problems.push(`console: ${msg.text()}`);
    });
    page.setDefaultTimeout(30_000);
  });

  after(async () => {
    await browser?.close();
    await nb?.stop();
    if (nb) {
      await removeInstall(nb.installId);
      const driver = new DockerDriver();
      for (const image of await driver.findImagesByLabels({ 'napbox.install': nb.installId })) await driver.removeImage(image.id).catch(() => undefined);
    }
  });

  step('asks for a token, refuses a wrong one, and signs in with a good one', async () => {
    await page.goto(`${nb.url}/`);
    await page.locator('#signin-form').waitFor({ state: 'visible' });
    assert.equal(await page.locator('#signin-error').textContent(), '', 'a first visit had no session: nothing "ended"');
    await page.fill('#token', 'not-a-token');
    await page.click('#signin-form button[type=submit]');
    await page.locator('#signin-error', { hasText: 'not valid' }).waitFor();
    await page.fill('#token', await nb.token());
    await page.click('#signin-form button[type=submit]');
    await page.locator('#app').waitFor({ state: 'visible' });
    await page.locator('#live', { hasText: 'live' }).waitFor();
    await row('demo').waitFor();
    const cookies = await page.context().cookies();
    const session = cookies.find((c) => c.name === 'napbox_admin');
    assert.ok(session, 'a session cookie is set');
    assert.equal(session.httpOnly, true);
    assert.equal(session.sameSite, 'Strict');
    await shot('1-signed-in');
  });

  step('creates a tenant, wakes it, and shows it running without a reload; a stop made elsewhere arrives live', async () => {
    await page.evaluate(() => ((window as unknown as { marker: number }).marker = 42));
    await page.fill('#new-slug', SLUG);
    await page.click('#create-form button[type=submit]');
    await row(SLUG).waitFor();
    await waitState(SLUG, 'stopped', 5000);
    await row(SLUG)
      .getByRole('button', { name: `Wake ${SLUG}` })
      .click();
    await waitState(SLUG, 'running');
    // The wake's time shows in the row, and the row says why it started.
    await row(SLUG).locator('td', { hasText: 'started: admin wake' }).waitFor();
    await page.waitForFunction((s) => /\d/.test(document.querySelector<HTMLTableRowElement>(`tr[data-slug="${s}"]`)?.cells[6]?.textContent ?? ''), SLUG);
    await shot('2-running');
    // Stopped through the API, not the page: the page learns it from the event stream.
    assert.equal((await api(nb, 'POST', `/api/tenants/${SLUG}/stop`)).status, 200);
    await waitState(SLUG, 'stopped');
    await row(SLUG).locator('td', { hasText: 'stopped: admin stop' }).waitFor();
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 42, 'the page was never reloaded');
  });

  step('edits the packages and streams the build log while it builds', async () => {
    // The stored lists arrive late (as on a busy machine): what is typed must not be overwritten by them (the
    // fields are not editable until they are in).
    await page.route('**/api/tenants/*/packages', async (route) => {
      if (route.request().method() === 'GET') await new Promise((r) => setTimeout(r, 500));
      await route.continue();
    });
    // Settings made elsewhere show in the details, those it does not have with their defaults, any other key as it is.
    assert.equal((await api(nb, 'PATCH', `/api/tenants/${SLUG}`, { provider: { kind: 'echo' }, limits: { memoryMiB: 300 } })).status, 200);
    await row(SLUG)
      .getByRole('button', { name: `Details ${SLUG}` })
      .click();
    await page.locator('#detail').waitFor({ state: 'visible' });
    const settings = async () => (await page.locator('#detail-settings > *').allTextContents()).join(' ').replace(/\s+/g, ' ');
    await page.waitForFunction(() => /provider/.test(document.getElementById('detail-settings')?.textContent ?? ''));
    for (const shown of [
      /state stopped: /,
      /image napbox-/,
      /app napbox's built-in page \(default\)/,
      /provider echo/,
      /visibility public \(default\)/,
      /limits \{ "memoryMiB": 300 \}/,
    ]) {
      assert.match(await settings(), shown);
    }
    const listsLoaded = page.waitForResponse((r) => r.url().endsWith(`/api/tenants/${SLUG}/packages`) && r.request().method() === 'GET');
    await page.fill('#npm', 'is-number');
    await listsLoaded;
    await page.waitForTimeout(100); // the page has applied the stored lists by now
    assert.equal(await page.inputValue('#npm'), 'is-number', 'what was typed survives the stored lists arriving');
    await page.click('#packages-form button[type=submit]');
    // Log lines arrive while the build state still says building.
    await page.waitForFunction(
      () => (document.getElementById('build-log')?.textContent ?? '').length > 0 && /building/.test(document.getElementById('build-state')?.textContent ?? ''),
      undefined,
      { timeout: 120_000 },
    );
    await shot('3-building');
    await page.locator('#build-state', { hasText: /: ready|: failed/ }).waitFor({ timeout: 240_000 });
    assert.match((await page.locator('#build-state').textContent()) ?? '', /: ready/);
    assert.match((await page.locator('#build-log').textContent()) ?? '', /is-number/);
    const stored = await api(nb, 'GET', `/api/tenants/${SLUG}/packages`);
    assert.deepEqual(stored.json.npm, ['is-number']);
    // The row shows the tenant's own image, whole, and its finished build.
    await row(SLUG).locator('td', { hasText: 'build ready' }).waitFor();
    const image = (await api(nb, 'GET', `/api/tenants/${SLUG}`)).json.image as string;
    assert.equal(await row(SLUG).locator('td').nth(4).locator('span').textContent(), image);
  });

  step('sends a chat message and shows the reply', async () => {
    await page.fill('#chat-text', 'hello from the browser');
    await page.click('#chat-form button[type=submit]');
    await page.locator('#chat-log .out', { hasText: 'echo: hello from the browser' }).waitFor({ timeout: 90_000 });
    await waitState(SLUG, 'running');
    await shot('4-chat');
    const messages = await api(nb, 'GET', `/api/tenants/${SLUG}/messages?session=dashboard`);
    assert.equal(messages.json.messages.length, 1);
    assert.equal(messages.json.messages[0].reply, 'echo: hello from the browser');
  });

  step('searches and pages through a few hundred tenants', async () => {
    for (let i = 0; i < 120; i++) assert.equal((await api(nb, 'POST', '/api/tenants', { slug: `bulk-${String(i).padStart(3, '0')}` })).status, 201);
    await page.locator('#summary', { hasText: '122 tenants' }).waitFor();
    await page.fill('#search', '');
    await page.locator('#page-info', { hasText: 'of 3' }).waitFor();
    assert.equal(await page.locator('#tenants tbody tr').count(), 50);
    await page.click('#next');
    await page.locator('#page-info', { hasText: 'page 2 of 3' }).waitFor();
    await page.fill('#search', 'bulk-11');
    await page.locator('#page-info', { hasText: '10 shown' }).waitFor();
    await shot('5-search');
    assert.deepEqual(problems, [], 'no script errors or refused resources in the page');
  });

  step('shows long image names whole, and the whole failure reason and every setting in the details', async () => {
    // A tenant as the live feed would send it, with what is long in practice: an image by digest from a registry,
    // a failed wake's reason with log lines, and settings of the app (env, port, readiness path).
    const image = `registry.example.com:5000/team/napbox-agent@sha256:${'ab'.repeat(32)}`;
    const reason = `wake failed: the container exited with code 1 before it was ready; last lines: ${'x'.repeat(300)} END`;
    const tenant = {
      slug: 'longnames',
      state: 'failed',
      reason,
      stateChangedAt: new Date().toISOString(),
      lastStartReason: 'admin wake',
      lastStopReason: reason,
      lastActivity: null,
      lastHeartbeat: null,
      image,
      nextImage: 'napbox-tenant:0123456789abcdef',
      containerId: null,
      failures: 1,
      retryAt: null,
      holds: [],
      paused: null,
      url: 'http://longnames.localhost:8080/',
      build: { id: 'b1', state: 'failed', error: `apt-get failed: ${'y'.repeat(200)} END` },
      recentWakes: [],
      config: {
        app: { command: ['sh', '-c', 'exec node server.js'] },
        visibility: 'private',
        env: { GREETING: 'hello world', MODE: 'demo' },
        port: 3000,
        readinessPath: '/ready',
      },
    };
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    await context.addCookies(await page.context().cookies()); // the signed-in session
    const other = await context.newPage();
    try {
      await other.route('**/api/events', (route) =>
        route.fulfill({
          status: 200,
          headers: { 'content-type': 'text/event-stream' },
          body: `event: snapshot\ndata: ${JSON.stringify({ tenants: [tenant] })}\n\n`,
        }),
      );
      await other.goto(`${nb.url}/`);
      const longRow = other.locator('tr[data-slug="longnames"]');
      await longRow.waitFor();
      assert.equal(await longRow.locator('td').nth(4).locator('span').textContent(), image);
      assert.match((await longRow.locator('td').nth(4).textContent()) ?? '', /next: napbox-tenant:0123456789abcdef/);
      assert.equal(await longRow.locator('td').nth(0).getAttribute('title'), `failed\n${reason}`, 'the whole reason on hover');
      await longRow.getByRole('button', { name: 'Details longnames' }).click();
      const details = (await other.locator('#detail-settings > *').allTextContents()).join(' ').replace(/\s+/g, ' ');
      for (const shown of [
        `state failed: ${reason}`,
        `image ${image}`,
        'next image napbox-tenant:0123456789abcdef',
        `build b1: failed: apt-get failed: ${'y'.repeat(200)} END`,
        'app sh -c "exec node server.js"',
        'provider echo (default)',
        'visibility private',
        'port 3000',
        'env GREETING=hello world MODE=demo',
        'readinessPath /ready',
      ]) {
        assert.ok(details.includes(shown), `details show ${shown.slice(0, 60)}: ${details.slice(0, 2000)}`);
      }
      await other.screenshot({ path: path.join(SHOTS, '6-long-names.png'), fullPage: true });
    } finally {
      await context.close();
    }
  });
});
