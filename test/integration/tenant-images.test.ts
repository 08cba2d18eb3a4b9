// Tenant images against the real engine, through the image modules directly
// (the HTTP API is wired on top of them): a tenant's own image has its apt and
// npm packages, a base container has neither, unchanged lists build nothing,
// bad lists build nothing, a missing package fails the build with a log that
// says so and leaves the tenant on its image, and two requests in a row build
// only the newest list. Everything made here carries a unique install label
// and is removed in `after`, even when a test failed.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config.js';
import { openDatabase, type Db } from '../../src/db/database.js';
import type { NapboxError } from '../../src/errors.js';
import { requireAgentImage } from '../../src/images/agent-image.js';
import { BuildQueue } from '../../src/images/build-queue.js';
import { BuildStore, type Build } from '../../src/images/build-store.js';
import { pruneImages } from '../../src/images/prune.js';
import { endpointFor, type Endpoint } from '../../src/runtime/container-driver.js';
import { APP_PORT, CONTROL_PORT, LABEL_INSTALL, buildContainerSpec, tenantNetwork } from '../../src/runtime/container-spec.js';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { waitReady } from '../../src/runtime/readiness.js';
import { TenantStore } from '../../src/tenants/tenant-store.js';
import { ROOT } from '../helpers/napbox-process.js';

const driver = new DockerDriver();
const baseTag = await requireAgentImage({ driver, containerDir: path.join(ROOT, 'container'), caBundle: loadConfig().caBundle });

/** The tenant app: serves what `jq --version` and `require('is-number')(5)` (and where it came from) give inside the container. */
const PROBE_APP = `
const { execFileSync } = require('node:child_process');
const http = require('node:http');
const probe = (f) => { try { return f(); } catch (e) { return 'missing: ' + (e.code || e.message.split('\\n')[0]); } };
const body = JSON.stringify({
  jq: probe(() => execFileSync('jq', ['--version'], { encoding: 'utf8' }).trim()),
  isNumber: probe(() => require('is-number')(5) + ' from ' + require.resolve('is-number')),
});
http.createServer((req, res) => res.end(body)).listen(Number(process.env.PORT), '0.0.0.0');
`;

function getJson(endpoint: Endpoint): Promise<unknown> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: endpoint.host, port: endpoint.port, path: '/', agent: false, timeout: 5000 }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve(JSON.parse(body)));
      })
      .once('error', reject);
  });
}

describe('tenant images (real engine)', () => {
  const install = `img${crypto.randomBytes(4).toString('hex')}`;
  const timings: Record<string, number> = {};
  let dir: string;
  let db: Db;
  let tenants: TenantStore;
  let store: BuildStore;
  let queue: BuildQueue;
  const failures: Array<[string, string, string]> = [];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-img-'));
    db = openDatabase(dir);
    tenants = new TenantStore(db);
    for (const slug of ['alpha', 'beta', 'gamma']) tenants.create(slug, { app: { command: ['node', '-e', PROBE_APP] } }, Date.now());
    store = new BuildStore(db, dir, tenants);
    queue = new BuildQueue({
      driver,
      store,
      installId: install,
      baseImage: async () => baseTag,
      onReady: (tenant, tag) => void db.prepare('UPDATE tenants SET image = ? WHERE slug = ?').run(tag, tenant),
      onFailed: (tenant, id, error) => void failures.push([tenant, id, error]),
      settleMs: 300,
    });
  });

  after(async () => {
    await queue?.idle();
    const labels = { [LABEL_INSTALL]: install };
    for (const c of await driver.findByLabels(labels)) await driver.remove(c.id, { force: true });
    for (const name of await driver.findNetworksByLabels(labels)) await driver.removeNetwork(name);
    for (const v of await driver.findVolumesByLabels(labels)) await driver.removeVolume(v);
    for (const image of await driver.findImagesByLabels(labels)) {
      for (const ref of image.tags.filter((t) => t !== '<none>:<none>').concat(image.id)) await driver.removeImage(ref).catch(() => undefined);
    }
    db?.close();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
    console.log(`tenant-images timings: ${JSON.stringify(timings)}`);
  });

  async function runTenant(slug: string): Promise<unknown> {
    const tenant = tenants.require(slug);
    const spec = buildContainerSpec({
      installId: install,
      slug,
      config: tenant.config,
      image: tenant.image ?? baseTag,
      publish: true,
      channelKey: tenants.channelKey(slug),
      heartbeatMs: 5000,
    });
    await driver.ensureNetwork(tenantNetwork(install, slug, 'tenant'));
    const created = await driver.create(spec);
    await driver.start(created.id);
    const info = await driver.inspect(created.id);
    const control = info && endpointFor(info, CONTROL_PORT, 'published');
    const app = info && endpointFor(info, APP_PORT, 'published');
    assert.ok(control && app, 'published ports');
    const outcome = await waitReady({
      endpoint: control,
      path: '/ready',
      deadline: Date.now() + 30_000,
      stillRunning: async () => (await driver.inspect(created.id))?.running ?? false,
    });
    assert.equal(outcome.kind, 'ready', `${slug} became ready: ${await driver.logs(created.id, { tail: 20 })}`);
    return getJson(app);
  }

  it('refuses a bad list before any build, storing nothing', async () => {
    for (const [bad, named] of [
      [{ apt: ['jq; rm -rf /'] }, '"jq; rm -rf /"'],
      [{ npm: ['../x'] }, '"../x"'],
      [{ apt: ['jq', ''] }, '""'],
    ] as const) {
      await assert.rejects(queue.request('alpha', bad), (err: NapboxError) => err.code === 'bad_request' && err.message.includes(named));
    }
    assert.equal(store.getPackages('alpha'), undefined);
    assert.equal(store.latestByTenant('alpha').size, 0, 'no build recorded');
    assert.deepEqual(await driver.findImagesByLabels({ [LABEL_INSTALL]: install }), []);
  });

  let alphaTag: string;

  it('builds jq and is-number into the tenant image, with a log readable while it runs', async () => {
    const started = Date.now();
    const build = await queue.request('alpha', { apt: ['jq'], npm: ['is-number'] });
    assert.equal(build.state, 'queued');
    let offset = 0;
    let readWhileBuilding = '';
    let current: Build = build;
    while (current.state === 'queued' || current.state === 'building') {
      const chunk = await queue.readLog(build.id, offset);
      if (queue.require(build.id).state === 'building') readWhileBuilding += chunk.text;
      offset = chunk.nextOffset;
      await new Promise((r) => setTimeout(r, 100));
      current = queue.require(build.id);
    }
    timings.buildMs = Date.now() - started;
    assert.equal(current.state, 'ready', current.error ?? '');
    assert.equal(current.applied, true);
    assert.match(readWhileBuilding, /napbox: building napbox-tenant:[0-9a-f]{16} from napbox-agent:/, 'lines were readable during the build');
    const log = (await queue.readLog(build.id)).text;
    assert.match(log, /Setting up jq /, 'apt really installed it (not a cached layer)');
    assert.match(log, /added \d+ packages? in/, 'npm really installed it');
    assert.match(log, /Successfully tagged napbox-tenant:/);
    alphaTag = current.tag!;
    assert.equal(tenants.require('alpha').image, alphaTag);
    const image = await driver.inspectImage(alphaTag);
    assert.equal(image?.labels['napbox.install'], install);
    assert.equal(image?.labels['napbox.role'], 'tenant');
    assert.equal(image?.labels['napbox.packages-hash'], alphaTag.split(':')[1]);
  });

  it("runs the tenant's container with both packages; a container of the base image has neither", async () => {
    const started = Date.now();
    const [alpha, beta] = await Promise.all([runTenant('alpha'), runTenant('beta')]);
    timings.containersMs = Date.now() - started;
    assert.deepEqual(alpha, { jq: 'jq-1.6', isNumber: 'true from /usr/local/lib/node_modules/is-number/index.js' });
    // Debian's npm package brings its own copy of is-number (/usr/share/nodejs), so the base image can
    // require it too; what the tenant image adds is the copy npm installed, which comes first on NODE_PATH.
    assert.equal((beta as { jq: string }).jq, 'missing: ENOENT');
    assert.doesNotMatch((beta as { isNumber: string }).isNumber, /\/usr\/local\/lib\/node_modules/);
  });

  it('builds nothing for the same lists again, for this tenant or another', async () => {
    const imageId = (await driver.inspectImage(alphaTag))?.id;
    let started = performance.now();
    const again = await queue.request('alpha', { npm: ['is-number'], apt: ['jq'] });
    timings.cachedRequestMs = Math.round(performance.now() - started);
    started = performance.now();
    const shared = await queue.request('gamma', { apt: ['jq'], npm: ['is-number'] });
    timings.cachedRequestOtherTenantMs = Math.round(performance.now() - started);
    for (const b of [again, shared]) {
      assert.equal(b.state, 'ready');
      assert.equal(b.cached, true);
      assert.equal(b.tag, alphaTag);
    }
    assert.ok(timings.cachedRequestMs < 100, `a cached request took ${timings.cachedRequestMs} ms`);
    assert.equal(tenants.require('gamma').image, alphaTag, 'two tenants share one image');
    assert.equal((await driver.inspectImage(alphaTag))?.id, imageId, 'not rebuilt');
  });

  it('fails the build of a package that does not exist, with a log that says so; the tenant keeps its image', async () => {
    const started = Date.now();
    const build = await queue.wait((await queue.request('alpha', { apt: ['napbox-no-such-package-xyz'], npm: ['is-number'] })).id);
    timings.failedBuildMs = Date.now() - started;
    assert.equal(build.state, 'failed');
    assert.match(build.error ?? '', /E: Unable to locate package napbox-no-such-package-xyz/);
    assert.match((await queue.readLog(build.id)).text, /E: Unable to locate package napbox-no-such-package-xyz[\s\S]*napbox: build failed after/);
    assert.deepEqual(failures.at(-1), ['alpha', build.id, build.error]);
    assert.equal(tenants.require('alpha').image, alphaTag, 'still on its previous image');
    assert.equal(store.getPackages('alpha')?.image, alphaTag);
    assert.equal(await driver.inspectImage(build.tag!), undefined);
  });

  it('builds only the newest of two requests in a row', async () => {
    const started = Date.now();
    const first = await queue.request('beta', { npm: ['is-odd'] });
    const second = await queue.request('beta', { npm: ['is-number'] });
    const done = await queue.wait(second.id);
    timings.supersedeMs = Date.now() - started;
    assert.equal(done.state, 'ready', done.error ?? '');
    assert.equal(queue.require(first.id).state, 'failed');
    assert.match(queue.require(first.id).error ?? '', /superseded/);
    assert.equal(await driver.inspectImage(first.tag!), undefined, 'the first list was never built');
    assert.equal(tenants.require('beta').image, done.tag);
  });

  it("prunes images no tenant needs, keeping each tenant's current and previous image", async () => {
    for (const c of await driver.findByLabels({ [LABEL_INSTALL]: install })) await driver.remove(c.id, { force: true });
    const betaTag = tenants.require('beta').image!;
    const first = await pruneImages(driver, { installId: install, uses: store.imageUse(), building: queue.activeTags(), current: [], scope: 'all' });
    assert.deepEqual(first.removed, []);
    assert.deepEqual(first.kept.map((k) => k.ref).sort(), [alphaTag, betaTag].sort());
    // alpha and gamma go to the base image, then to beta's image: alphaTag is neither current nor previous for anyone.
    for (const slug of ['alpha', 'gamma']) {
      await queue.request(slug, {});
      assert.equal(store.getPackages(slug)?.previousImage, alphaTag);
      assert.equal((await queue.request(slug, { npm: ['is-number'] })).cached, true);
    }
    const second = await pruneImages(driver, { installId: install, uses: store.imageUse(), building: queue.activeTags(), current: [], scope: 'all' });
    assert.deepEqual(
      second.removed.map((r) => r.ref),
      [alphaTag],
    );
    assert.deepEqual(
      second.kept.map((k) => k.ref),
      [betaTag],
    );
    assert.equal(await driver.inspectImage(alphaTag), undefined);
    assert.ok(await driver.inspectImage(betaTag));
  });
});
