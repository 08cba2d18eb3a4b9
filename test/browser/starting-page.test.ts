// Browsers get pages (issue 19), in a real browser (Debian's chromium, driven
// by playwright-core) against a real napbox and real tenant containers: a
// tenant whose app takes 3 s to listen shows the "starting" page, which
// reloads itself until the app's own page is there; a tenant whose app
// exits at once shows an HTML page with the short reason, not JSON.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { DEFAULT_BROWSER } from '../../setup/test-tools.js';
import { api, removeInstall, startNapbox, type NapboxProcess } from '../helpers/napbox-process.js';

const SLOW_APP = `setTimeout(() => require('http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
  res.end('<title>slow app</title><p id="app">served by the app</p>');
}).listen(Number(process.env.PORT), '0.0.0.0'), 3000);`;

describe('the starting page in a browser', () => {
  let nb: NapboxProcess;
  let browser: Browser;
  let page: Page;

  before(async () => {
    nb = await startNapbox({ env: { NAPBOX_STARTING_PAGE_AFTER: '1s' } });
    for (const body of [
      { slug: 'slowapp', app: { command: ['node', '-e', SLOW_APP] } },
      { slug: 'broken', app: { command: ['sh', '-c', 'exit 3'] } },
    ])
      assert.equal((await api(nb, 'POST', '/api/tenants', body)).status, 201);
    browser = await chromium.launch({
      executablePath: process.env.NAPBOX_TEST_BROWSER ?? DEFAULT_BROWSER,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    page = await (await browser.newContext()).newPage();
    page.setDefaultTimeout(30_000);
  });

  after(async () => {
    await browser?.close();
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it("shows 'starting <tenant>' to a browser held past the threshold, then the app's own page by itself", async () => {
    const first = await page.goto(`${nb.url}/t/slowapp/`);
    assert.equal(first?.status(), 503);
    assert.equal(first?.headers()['cache-control'], 'no-store');
    assert.equal(await page.title(), 'starting slowapp');
    await page.locator('#app', { hasText: 'served by the app' }).waitFor({ timeout: 30_000 }); // the page reloaded itself
    assert.equal(await page.title(), 'slow app');
  });

  it('shows a failed wake as an HTML page with the short reason', async () => {
    const answer = await page.goto(`${nb.url}/t/broken/`);
    assert.equal(answer?.status(), 503);
    assert.match(String(answer?.headers()['content-type']), /^text\/html/);
    assert.match(String(await page.locator('main').textContent()), /tenant broken could not be started: try again later \(request id [\w-]+\)/);
  });
});
