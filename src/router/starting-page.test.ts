// Browsers get pages, programs get JSON: a request held for a cold wake,
// through a real Lifecycle on the fake driver whose containers take 3 s to
// start. A browser's navigation gets the self-refreshing "starting" page once
// held past the threshold; an API client is held and gets the app's answer;
// a tenant with startingPage false holds browsers too; a failed wake is an
// HTML page for a browser and JSON for a program.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Db } from '../db/database.js';
import { createLogger } from '../log.js';
import { FakeDriver } from '../runtime/fake-driver.js';
import { ActivityTracker } from '../tenants/activity.js';
import { Lifecycle } from '../tenants/lifecycle.js';
import { TenantStore } from '../tenants/tenant-store.js';
import type { TenantAccess } from '../api/tenant-access.js';
import { TenantProxy } from './tenant-proxy.js';

const BROWSER = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';
const THRESHOLD_MS = 500;

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
  readonly ms: number;
}

describe('the starting page', () => {
  let dir: string;
  let db: Db;
  let driver: FakeDriver;
  let proxy: TenantProxy;
  let server: http.Server;
  let port = 0;

  before(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-starting-'));
    db = openDatabase(dir);
    const store = new TenantStore(db);
    for (const slug of ['acme', 'quiet', 'broken', 'plain']) {
      const config = slug === 'quiet' ? { startingPage: false } : slug === 'broken' ? { app: { command: ['sh', '-c', 'exit 3'] } } : {};
      store.create(slug, config, Date.now());
    }
    driver = new FakeDriver();
    driver.startDelayMs = 3000;
    const lifecycle = new Lifecycle({
      store,
      driver,
      logger: createLogger('silent'),
      installId: 'unit0001',
      baseImage: 'napbox-agent:test',
      wakeTimeoutMs: 10_000,
      upstream: 'published',
    });
    proxy = new TenantProxy({
      lifecycle,
      store,
      activity: new ActivityTracker(),
      logger: createLogger('silent'),
      access: { admit: async () => 'public' } as unknown as TenantAccess,
      startingPageAfterMs: THRESHOLD_MS,
      requestId: () => '<b>id&1</b>',
    });
    // As server.ts does for a tenant host: /<slug>/... goes to that tenant.
    server = http.createServer((req, res) => {
      const [, slug = '', ...rest] = (req.url ?? '/').split('/');
      void proxy.web(req, res, { slug, path: `/${rest.join('/')}`, prefix: '' });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });

  after(async () => {
    proxy.close();
    server.closeAllConnections();
    server.close();
    for (const id of [...driver.containers.keys()]) await driver.remove(id, { force: true });
    db.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function get(urlPath: string, accept: string, method = 'GET'): Promise<Answer> {
    const started = Date.now();
    return new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port, path: urlPath, method, headers: { accept }, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), ms: Date.now() - started }),
        );
      });
      req.on('error', reject);
      req.end();
    });
  }

  it('gives a browser the page after the threshold, holds an API client (and a POST) until the app answers, and holds browsers of a tenant with startingPage false', async () => {
    const [browser, head, api, quiet, post] = await Promise.all([
      get('/acme/', BROWSER),
      get('/acme/', BROWSER, 'HEAD'),
      get('/acme/whoami', 'application/json'),
      get('/quiet/', BROWSER),
      get('/plain/', BROWSER, 'POST'),
    ]);

    assert.equal(browser.status, 503);
    assert.ok(browser.ms >= THRESHOLD_MS - 50 && browser.ms < 2000, `the page came after ${browser.ms}ms`);
    assert.equal(browser.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(browser.headers['cache-control'], 'no-store');
    assert.equal(browser.headers['retry-after'], '1');
    assert.equal(browser.headers.refresh, '1');
    assert.match(browser.body, /<title>starting acme<\/title>/);
    assert.match(browser.body, /<meta http-equiv="refresh" content="1">/);
    assert.doesNotMatch(browser.body, /<script|src=|href=|url\(/i, 'loads nothing');
    assert.equal(head.status, 503);
    assert.equal(head.body, '', 'no body for HEAD');

    assert.equal(api.status, 200, 'an API client is held and gets the app');
    assert.ok(api.ms >= 2500, `the API client was answered after ${api.ms}ms`);
    assert.equal((JSON.parse(api.body) as { tenant: string }).tenant, 'acme');

    assert.equal(quiet.status, 200, 'startingPage false: the browser is held');
    assert.ok(quiet.ms >= 2500);
    assert.equal(post.status, 200, 'a POST is held, never answered with a page its reload would send again');
    assert.ok(post.ms >= 2500);

    // The wake went on behind the page: its next reload gets the app at once.
    const reload = await get('/acme/', BROWSER);
    assert.deepEqual([reload.status, reload.ms < 1000], [200, true]);
  });

  it('tells a failed wake to a browser as an HTML page with the short reason, escaped, and to a program as JSON', async () => {
    const [browser, program] = await Promise.all([get('/broken/', BROWSER), get('/broken/', 'application/json')]);
    // The broken container fails after the threshold: the browser got the starting page first; its reload (the last
    // wake failed) is held for this try and learns why.
    assert.match(browser.body, /starting broken/);
    const reload = await get('/broken/', BROWSER);
    assert.equal(reload.status, 503);
    assert.equal(reload.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(reload.headers['cache-control'], 'no-store');
    assert.ok(Number(reload.headers['retry-after']) >= 1);
    assert.match(reload.body, /tenant broken could not be started: try again later \(request id &#60;b&#62;id&#38;1&#60;\/b&#62;\)/);
    assert.doesNotMatch(reload.body, /<b>/);
    assert.doesNotMatch(reload.body, /http-equiv="refresh"/, 'a failure does not reload by itself');

    assert.equal(program.status, 503);
    assert.match(String(program.headers['content-type']), /^application\/json/);
    assert.ok(Number(program.headers['retry-after']) >= 1);
    assert.equal((JSON.parse(program.body) as { error: string }).error, 'wake_failed');
  });
});
