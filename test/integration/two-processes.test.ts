// Two napbox processes on one machine sharing one data dir (one database, one
// install id, one groups dir), each on its own port, as behind a load
// balancer: one container per tenant, one wake at a time, every message
// answered once, and the sweep stops a tenant only when neither process uses
// it (docs/scale-out.md).

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { api, openTenantSocket, removeInstall, request, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { containerEvents, count } from '../helpers/engine-events.js';
import { until } from '../helpers/wait.js';

const driver = new DockerDriver();
const IDLE_MS = 2000;
const SWEEP_MS = 300;
// Appends each message's id to a file in the workspace and answers with it; "dump" answers the file.
const RECORD = [
  'sh',
  '-c',
  'read -r t; if [ "$t" = dump ]; then cat /workspace/runs; else echo "$NAPBOX_MESSAGE_ID" >> /workspace/runs; sleep 3; echo "ran $t"; fi',
];

async function state(nb: NapboxProcess, slug: string): Promise<any> {
  return (await api(nb, 'GET', `/api/tenants/${slug}`)).json;
}

async function settled(nb: NapboxProcess, slug: string, id: string): Promise<any> {
  return until(
    async () => ['done', 'failed'].includes((await api(nb, 'GET', `/api/tenants/${slug}/messages/${id}?wait=5s`)).json.state),
    60_000,
    `message ${id} settled`,
  ).then(async () => (await api(nb, 'GET', `/api/tenants/${slug}/messages/${id}`)).json);
}

describe('two napbox processes sharing a data dir', () => {
  let a: NapboxProcess;
  let b: NapboxProcess;
  const env = { NAPBOX_IDLE_TIMEOUT: `${IDLE_MS}ms`, NAPBOX_SWEEP_INTERVAL: `${SWEEP_MS}ms`, NAPBOX_HEARTBEAT_INTERVAL: '500ms', NAPBOX_WAKE_TIMEOUT: '30s' };
  before(async () => {
    a = await startNapbox({ env });
    b = await startNapbox({ env, shareWith: a });
    assert.equal(b.installId, a.installId);
    for (const [slug, provider] of [
      ['crowd', undefined],
      ['record', { kind: 'command', command: RECORD }],
      ['busy', undefined],
    ] as const) {
      const res = await api(a, 'POST', '/api/tenants', { slug, ...(provider ? { provider } : {}) });
      assert.equal(res.status, 201, JSON.stringify(res.json));
    }
    assert.equal((await api(b, 'GET', '/api/tenants/crowd')).status, 200, 'the other process sees the tenant');
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (a) await removeInstall(a.installId);
  });

  it('starts exactly one container for 200 concurrent first requests split between them, all answered', async () => {
    const since = new Date(Date.now() - 1000);
    const agent = new http.Agent({ keepAlive: false, maxSockets: 200 });
    const started = Date.now();
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const nb = i % 2 === 0 ? a : b;
        return request(nb.port, { host: tenantHost(nb, 'crowd'), path: `/whoami?i=${i}`, agent });
      }),
    );
    const took = Date.now() - started;
    agent.destroy();
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200], results.find((r) => r.status !== 200)?.body);
    assert.equal(new Set(results.map((r) => JSON.parse(r.body).pid)).size, 1, 'every answer came from the same container process');
    const containers = await driver.findByLabels({ 'napbox.install': a.installId, 'napbox.tenant': 'crowd' });
    assert.equal(containers.length, 1);
    // The install's one shared network (Docker driver) or the tenant's own overlay (Swarm), never two of one name.
    const networks = (await driver.findNetworksByLabels({ 'napbox.install': a.installId })).filter(
      (n) => n === `napbox-${a.installId}_tenants` || n === `napbox-${a.installId}-crowd`,
    );
    assert.equal(networks.length, 1, `one network, not ${networks.length} of the same name`);
    const events = await containerEvents(a.installId, since, 'crowd');
    assert.equal(count(events, 'create'), 1, `engine events: ${events.join(',')}`);
    assert.equal(count(events, 'start'), 1, `engine events: ${events.join(',')}`);
    assert.ok(took < 15_000, `answered in ${took}ms`);
    assert.equal((await state(b, 'crowd')).lastStartReason, (await state(a, 'crowd')).lastStartReason, 'one start, recorded once');
  });

  it('answers each message once, whichever process accepted it, and a process starting up takes over none in flight', async () => {
    const sent = await Promise.all(
      Array.from({ length: 20 }, (_, i) => api(i % 2 === 0 ? a : b, 'POST', '/api/tenants/record/messages', { text: `t${i}`, session: `s${i}` })),
    );
    assert.ok(
      sent.every((r) => r.status === 202),
      JSON.stringify(sent.map((r) => r.status)),
    );
    // A third process on the same data dir starts while messages are in flight: it must not requeue them.
    await until(
      async () => (await api(a, 'GET', `/api/tenants/record/messages/${sent[0]!.json.id}`)).json.state === 'processing',
      30_000,
      'a message in flight',
    );
    const c = await startNapbox({ env, shareWith: a });
    try {
      const done = await Promise.all(sent.map((r, i) => settled(i % 2 === 0 ? b : a, 'record', r.json.id))); // read through the other one
      for (const [i, m] of done.entries()) {
        assert.equal(m.state, 'done', JSON.stringify(m));
        assert.equal(m.reply, `ran t${i}\n`);
        assert.equal(m.tries, 1, `message ${m.id} was delivered ${m.tries} times`);
      }
      const dump = await api(c, 'POST', '/api/tenants/record/messages', { text: 'dump', session: 'dump' });
      const runs = (await settled(c, 'record', dump.json.id)).reply.trim().split('\n');
      assert.deepEqual([...runs].sort(), sent.map((r) => r.json.id).sort(), 'the runner ran each message exactly once');
    } finally {
      await c.stop();
    }
  });

  it('a chat socket on one process gets the reply to a message the other delivered', async () => {
    const frames: any[] = [];
    const ws = await openTenantSocket(a, 'crowd', '/_napbox/chat?session=chat', (data) => frames.push(JSON.parse(String(data))));
    try {
      const sent = await api(b, 'POST', '/api/tenants/crowd/messages', { text: 'across', session: 'chat' });
      assert.equal(sent.status, 202);
      await until(() => frames.some((f) => f.type === 'reply' && f.id === sent.json.id), 10_000, 'the reply on the socket of the other process');
      assert.equal(frames.filter((f) => f.type === 'reply').length, 1, JSON.stringify(frames));
      assert.equal(frames.find((f) => f.type === 'reply').text, 'echo: across');
    } finally {
      ws.close();
    }
  });

  it('the sweep stops a tenant only once neither process uses it', async () => {
    const since = new Date();
    assert.equal((await request(a.port, { host: tenantHost(a, 'busy'), path: '/whoami' })).status, 200);
    // Used through b only, for twice the idle timeout: a request every 400 ms, then a WebSocket held open.
    const until1 = Date.now() + 2 * IDLE_MS;
    while (Date.now() < until1) {
      assert.equal((await request(b.port, { host: tenantHost(b, 'busy'), path: '/whoami' })).status, 200);
      await new Promise((r) => setTimeout(r, 400));
    }
    const ws = await openTenantSocket(b, 'busy', '/echo');
    await new Promise((r) => setTimeout(r, IDLE_MS + 4 * SWEEP_MS));
    const held = await state(a, 'busy');
    assert.equal(held.state, 'running', JSON.stringify(held));
    assert.ok(
      held.holds.some((h: string) => /websocket/.test(h)),
      `a sees b's socket: ${JSON.stringify(held.holds)}`,
    );
    let events = await containerEvents(a.installId, since, 'busy');
    assert.equal(count(events, 'die'), 0, `stopped while in use: ${events.join(',')}`);
    ws.close();
    const took = await until(async () => (await state(b, 'busy')).state === 'stopped', IDLE_MS + 10 * SWEEP_MS + 5000, 'idle stop once unused');
    events = await containerEvents(a.installId, since, 'busy');
    assert.equal(count(events, 'die'), 1, `engine events: ${events.join(',')}`);
    assert.match((await state(a, 'busy')).lastStopReason, /^idle 2s/);
    assert.ok(took <= IDLE_MS + 10 * SWEEP_MS + 3000, `stopped ${took}ms after the socket closed`);
    // Stopped, it wakes again from either process.
    assert.equal((await request(b.port, { host: tenantHost(b, 'busy'), path: '/whoami' })).status, 200);
    assert.equal((await request(a.port, { host: tenantHost(a, 'busy'), path: '/whoami' })).status, 200);
  });
});
