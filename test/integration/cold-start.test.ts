// A tenant URL cold-starts its own container: through the real engine, with
// napbox running as a real process.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { api, removeInstall, request, startNapbox, tenantHost, tempDataDir, type NapboxProcess } from '../helpers/napbox-process.js';
import { containerEvents, count } from '../helpers/engine-events.js';

const driver = new DockerDriver();

async function tenantContainers(installId: string, slug: string) {
  return driver.findByLabels({ 'napbox.install': installId, 'napbox.tenant': slug });
}

describe('cold start through a tenant URL', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox({ env: { NAPBOX_WAKE_TIMEOUT: '15s' } });
    for (const slug of ['alpha', 'beta', 'crowd', 'sockets', 'bodies']) {
      assert.equal((await api(nb, 'POST', '/api/tenants', { slug })).status, 201);
    }
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it("serves a stopped tenant's own page, and a labelled container now runs", async () => {
    assert.equal((await tenantContainers(nb.installId, 'alpha')).length, 0);
    const res = await request(nb.port, { host: tenantHost(nb, 'alpha') });
    assert.equal(res.status, 200);
    assert.match(res.body, /Tenant <span id="tenant">alpha<\/span>/);
    const [c, ...more] = await tenantContainers(nb.installId, 'alpha');
    assert.equal(more.length, 0);
    assert.equal(c?.status, 'running');
    assert.equal(c?.labels['napbox.tenant'], 'alpha');

    const other = await request(nb.port, { path: '/t/beta/' });
    assert.equal(other.status, 200);
    assert.match(other.body, /Tenant <span id="tenant">beta<\/span>/, 'the /t/<slug>/ form reaches the other tenant');
    const status = await api(nb, 'GET', '/api/tenants/alpha');
    assert.equal(status.json.state, 'running');
    assert.equal(status.json.lastStartReason, 'request GET /');
  });

  it('starts exactly one container for 200 concurrent first requests, all answered', async () => {
    const since = new Date(Date.now() - 1000);
    const agent = new (await import('node:http')).Agent({ keepAlive: false, maxSockets: 200 });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => request(nb.port, { host: tenantHost(nb, 'crowd'), path: `/whoami?i=${i}`, agent })),
    );
    agent.destroy();
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
    assert.ok(results.every((r) => JSON.parse(r.body).tenant === 'crowd'));
    const pids = new Set(results.map((r) => JSON.parse(r.body).pid));
    assert.equal(pids.size, 1, 'every answer came from the same process');
    assert.equal((await tenantContainers(nb.installId, 'crowd')).length, 1);
    const events = await containerEvents(nb.installId, since, 'crowd');
    assert.equal(count(events, 'create'), 1, `engine events: ${events.join(',')}`);
    assert.equal(count(events, 'start'), 1, `engine events: ${events.join(',')}`);
  });

  it('holds a WebSocket upgrade to a cold tenant and then echoes through it', async () => {
    for (const [url, headers] of [
      [`ws://127.0.0.1:${nb.port}/echo`, { host: tenantHost(nb, 'sockets') }],
      [`ws://127.0.0.1:${nb.port}/t/sockets/echo`, {}],
    ] as const) {
      const ws = new WebSocket(url, { headers });
      const reply = await new Promise<string>((resolve, reject) => {
        ws.once('open', () => ws.send('hello through napbox'));
        ws.once('message', (data) => resolve(String(data)));
        ws.once('error', reject);
        ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade answered ${res.statusCode}`)));
      });
      ws.close();
      assert.equal(reply, 'hello through napbox');
    }
  });

  it('forwards the body of a request held during a cold start intact', async () => {
    const body = crypto.randomBytes(1024 * 1024);
    const res = await new Promise<{ status: number; body: Buffer }>((resolve, reject) => {
      import('node:http').then(({ default: http }) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: nb.port,
            method: 'POST',
            path: '/echo-body',
            headers: { host: tenantHost(nb, 'bodies'), 'content-type': 'application/octet-stream' },
          },
          (r) => {
            const chunks: Buffer[] = [];
            r.on('data', (c: Buffer) => chunks.push(c));
            r.on('end', () => resolve({ status: r.statusCode ?? 0, body: Buffer.concat(chunks) }));
          },
        );
        req.on('error', reject);
        req.end(body);
      }, reject);
    });
    assert.equal(res.status, 200);
    assert.ok(res.body.equals(body), 'the echoed body is byte-for-byte the one sent');
  });

  it("streams a tenant's container logs, the last lines first, with follow", async () => {
    const http = (await import('node:http')).default;
    const token = await nb.token();
    const text = await new Promise<string>((resolve, reject) => {
      const req = http.get(
        { host: '127.0.0.1', port: nb.port, path: '/api/tenants/alpha/logs?tail=20&follow=1', headers: { authorization: `Bearer ${token}` } },
        (res) => {
          let seen = '';
          res.on('data', (chunk: Buffer) => {
            seen += chunk.toString();
            if (/runner ready/.test(seen)) {
              req.destroy();
              resolve(seen);
            }
          });
        },
      );
      req.on('error', (err) => (/socket hang up|aborted/.test(err.message) ? undefined : reject(err)));
      setTimeout(() => reject(new Error('no log line within 10s')), 10_000).unref();
    });
    assert.match(text, /runner ready/);
  });

  it('answers 404 for an unknown tenant, by host and by path', async () => {
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'nosuch') })).status, 404);
    assert.equal((await request(nb.port, { path: '/t/nosuch/' })).status, 404);
  });
});

describe('a tenant whose container exits at once', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox({ env: { NAPBOX_WAKE_TIMEOUT: '10s' } });
    const app = { command: ['sh', '-c', 'echo "config file missing" >&2; exit 3'] };
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'broken', app })).status, 201);
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('gets a 503 within the deadline, the operator the exit code and last log lines, and no restart loop', async () => {
    const since = new Date(Date.now() - 1000);
    const started = Date.now();
    const res = await request(nb.port, { host: tenantHost(nb, 'broken') });
    const took = Date.now() - started;
    assert.equal(res.status, 503);
    assert.ok(Number(res.headers['retry-after']) >= 1, 'has Retry-After');
    const body = JSON.parse(res.body);
    // The visitor gets a short reason and a request id; the exit code and log lines are the operator's (below).
    assert.equal(body.error, 'wake_failed');
    assert.ok(body.message.includes(body.requestId), body.message);
    assert.doesNotMatch(res.body, /exit code|config file missing/);
    assert.ok(took < 10_000, `answered in ${took}ms, within the 10s deadline`);

    // One failed wake is not a loop: the next two requests try again (NAPBOX_BREAKER_FAILURES, 3), then the breaker opens.
    const errors: string[] = [];
    for (let i = 0; i < 3; i += 1) {
      const again = await request(nb.port, { host: tenantHost(nb, 'broken') });
      assert.equal(again.status, 503);
      errors.push(JSON.parse(again.body).error);
    }
    assert.deepEqual(errors, ['wake_failed', 'wake_failed', 'circuit_open']);
    await new Promise((r) => setTimeout(r, 2000));
    const events = await containerEvents(nb.installId, since, 'broken');
    assert.equal(count(events, 'start'), 3, `three starts, then none, engine events: ${events.join(',')}`);
    const status = await api(nb, 'GET', '/api/tenants/broken');
    assert.equal(status.json.state, 'failed');
    assert.match(status.json.reason, /exit code 3/);
    assert.match(status.json.reason, /config file missing/);
  });
});

describe('napbox restarted while a tenant runs', () => {
  it('adopts the running container instead of starting a second one', async () => {
    const dataDir = tempDataDir();
    let nb = await startNapbox({ dataDir });
    const installId = nb.installId;
    try {
      assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'steady' })).status, 201);
      assert.equal((await request(nb.port, { host: tenantHost(nb, 'steady'), path: '/whoami' })).status, 200);
      const [before1] = await tenantContainers(installId, 'steady');
      assert.ok(before1);
      await nb.kill();
      const since = new Date();
      nb = await startNapbox({ dataDir });
      const res = await request(nb.port, { host: tenantHost(nb, 'steady'), path: '/whoami' });
      assert.equal(res.status, 200);
      const after1 = await tenantContainers(installId, 'steady');
      assert.deepEqual(
        after1.map((c) => c.id),
        [before1.id],
      );
      const events = await containerEvents(installId, since);
      assert.equal(count(events, 'create') + count(events, 'start'), 0, `engine events: ${events.join(',')}`);
    } finally {
      await nb.stop();
      await removeInstall(installId);
    }
  });
});

describe('admin API guards', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox();
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('refuses a missing, malformed or foreign token with 401', async () => {
    assert.equal((await request(nb.port, { path: '/api/tenants' })).status, 401);
    assert.equal((await request(nb.port, { path: '/api/tenants', headers: { authorization: 'Bearer nonsense' } })).status, 401);
    const other = await startNapbox();
    try {
      const foreign = await other.token();
      assert.equal((await request(nb.port, { path: '/api/tenants', headers: { authorization: `Bearer ${foreign}` } })).status, 401);
    } finally {
      await other.stop();
      await removeInstall(other.installId);
    }
  });

  it('refuses bad slugs and bodies with 400 and writes nothing', async () => {
    const before1 = (await api(nb, 'GET', '/api/tenants')).json.tenants.length;
    for (const body of [
      { slug: 'Bad_Slug' },
      { slug: '../x' },
      { slug: '' },
      { slug: 'a'.repeat(41) },
      { slug: 'ok', extra: 1 },
      'not json',
      { slug: 'api' },
    ]) {
      const res = await api(nb, 'POST', '/api/tenants', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.status}`);
      assert.equal(typeof res.json.message, 'string');
    }
    assert.equal((await api(nb, 'GET', '/api/tenants/Bad_Slug')).status, 400);
    assert.equal((await api(nb, 'GET', '/api/tenants')).json.tenants.length, before1);
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'dup' })).status, 201);
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'dup' })).status, 409);
  });
});
