// A tenant's app configured like an app, through a real napbox and the real
// engine: its env reaches the app's process (and the runner's secrets do
// not), the app is told $PORT and napbox forwards to that port, a readiness
// path holds the wake until the app answers it below 500, a bad setting is a
// 400 naming the field that changes nothing, and a changed port or env
// applies from the tenant's next start.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, removeInstall, request, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';

// Listens on $PORT; /healthz answers 503 for its first 2 s; / tells what the app sees.
const APP = `const started = Date.now();
require('http').createServer((req, res) => {
  if (req.url === '/healthz') { res.writeHead(Date.now() - started < 2000 ? 503 : 204); return res.end(); }
  res.setHeader('content-type', 'application/json');
  res.end(JSON.stringify({
    port: process.env.PORT, greeting: process.env.GREETING ?? null, uptimeMs: Date.now() - started,
    secrets: Object.keys(process.env).filter((k) => /KEY/.test(k)),
  }));
}).listen(Number(process.env.PORT), '0.0.0.0');`;

describe("a tenant's app settings, end to end", () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox();
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('gives the app its env and $PORT, forwards to that port, and waits for its readiness path', async () => {
    const created = await api(nb, 'POST', '/api/tenants', {
      slug: 'cfg',
      app: { command: ['node', '-e', APP] },
      env: { GREETING: 'hello "world" $HOME' },
      port: 3000,
      readinessPath: '/healthz',
      wakeTimeout: '45s',
      provider: { kind: 'openai', baseUrl: 'http://127.0.0.1:9/v1', model: 'm', apiKey: 'sk-test-not-for-the-app' },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const res = await request(nb.port, { host: tenantHost(nb, 'cfg'), path: '/' });
    assert.equal(res.status, 200, res.body);
    const seen = JSON.parse(res.body);
    assert.equal(seen.port, '3000');
    assert.equal(seen.greeting, 'hello "world" $HOME', 'passed as is, never through a shell');
    assert.deepEqual(seen.secrets, [], "the runner's channel and provider keys are not the app's");
    assert.ok(seen.uptimeMs >= 1900, `the first request came ${seen.uptimeMs} ms after the app started: before its /healthz answered`);
    const view = (await api(nb, 'GET', '/api/tenants/cfg')).json;
    assert.equal(view.state, 'running');
  });

  it('refuses a bad setting with a 400 naming the field, changing nothing; a good change applies from the next start', async () => {
    for (const [body, field] of [
      [{ port: 8081 }, /port: 8081 is the runner's own control port/],
      [{ port: 80 }, /port: /],
      [{ env: { NAPBOX_CHANNEL_KEY: 'x' } }, /env\.NAPBOX_CHANNEL_KEY: .*set by napbox/],
      [{ env: { 'BAD NAME': 'x' } }, /env\.BAD NAME: /],
      [{ wakeTimeout: '2h' }, /wakeTimeout: /],
      [{ readinessPath: 'healthz' }, /readinessPath: /],
      [{ startingPage: 'no' }, /startingPage: /],
    ] as const) {
      const res = await api(nb, 'PATCH', '/api/tenants/cfg', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(res.json.message, field);
    }
    const unchanged = (await api(nb, 'GET', '/api/tenants/cfg')).json;
    assert.equal(unchanged.config.port, 3000);
    assert.deepEqual(unchanged.config.env, { GREETING: 'hello "world" $HOME' });

    const patched = await api(nb, 'PATCH', '/api/tenants/cfg', { port: 3001, env: { GREETING: 'again' } });
    assert.equal(patched.status, 200, JSON.stringify(patched.json));
    const still = JSON.parse((await request(nb.port, { host: tenantHost(nb, 'cfg'), path: '/' })).body);
    assert.deepEqual([still.port, still.greeting], ['3000', 'hello "world" $HOME'], 'the running container keeps its own until it stops');

    assert.equal((await api(nb, 'POST', '/api/tenants/cfg/stop')).status, 200);
    const next = await request(nb.port, { host: tenantHost(nb, 'cfg'), path: '/' });
    assert.equal(next.status, 200, next.body);
    assert.deepEqual([JSON.parse(next.body).port, JSON.parse(next.body).greeting], ['3001', 'again']);
  });
});

describe("a tenant's port through published ports (NAPBOX_UPSTREAM=published)", () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox({ env: { NAPBOX_UPSTREAM: 'published' } });
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it("publishes the app's own port and forwards there", async () => {
    const created = await api(nb, 'POST', '/api/tenants', { slug: 'pub', app: { command: ['node', '-e', APP] }, port: 4321, readinessPath: '/healthz' });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const res = await request(nb.port, { host: tenantHost(nb, 'pub'), path: '/' });
    assert.equal(res.status, 200, res.body);
    assert.equal(JSON.parse(res.body).port, '4321');
    assert.ok(JSON.parse(res.body).uptimeMs >= 1900, 'its readiness path was waited for on the published port too');
  });
});
