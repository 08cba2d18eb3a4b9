// The paused tier through the real engine (issue 18): an idle tenant is
// frozen after NAPBOX_PAUSE_AFTER and thawed by the next request or message,
// in the same container; anything that holds it keeps it running; a
// container paused by hand is adopted as paused and thawed by the next wake;
// past NAPBOX_PAUSED_MAX the longest-idle paused tenant is stopped, saying
// why; the state, time paused and memory show in the API and the metrics.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { api, openTenantSocket, removeInstall, request, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { sleep, until } from '../helpers/wait.js';

const run = promisify(execFile);
const PAUSE_MS = 1000;
const SWEEP_MS = 250;

async function tenant(nb: NapboxProcess, slug: string): Promise<any> {
  return (await api(nb, 'GET', `/api/tenants/${slug}`)).json;
}

const inState = (nb: NapboxProcess, slug: string, state: string) => async () => (await tenant(nb, slug)).state === state;

/** Whether the engine says the container is frozen. */
async function frozen(containerId: string): Promise<boolean> {
  const { stdout } = await run('docker', ['inspect', '-f', '{{.State.Paused}}', containerId]);
  return stdout.trim() === 'true';
}

async function waitDone(nb: NapboxProcess, slug: string, id: string): Promise<any> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const res = await api(nb, 'GET', `/api/tenants/${slug}/messages/${id}?wait=10s`);
    if (res.json.state === 'done' || res.json.state === 'failed' || Date.now() > deadline) return res.json;
  }
}

describe('the paused tier', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox({
      env: {
        NAPBOX_PAUSE_AFTER: `${PAUSE_MS}ms`,
        NAPBOX_IDLE_TIMEOUT: '60s',
        NAPBOX_SWEEP_INTERVAL: `${SWEEP_MS}ms`,
        NAPBOX_HEARTBEAT_INTERVAL: '200ms',
        NAPBOX_HEARTBEAT_TIMEOUT: '1s',
        NAPBOX_PAUSED_MAX: '2',
        NAPBOX_LOG_LEVEL: process.env.PAUSED_LOG ?? 'warn',
      },
    });
    for (const slug of ['cold', 'held', 'talk', 'byhand', 'cap1', 'cap2', 'cap3']) {
      assert.equal((await api(nb, 'POST', '/api/tenants', { slug })).status, 201);
    }
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('pauses an idle tenant, keeping its memory, and the next request thaws the same container', async () => {
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'cold') })).status, 200);
    const running = await tenant(nb, 'cold');
    await until(inState(nb, 'cold', 'paused'), PAUSE_MS + 10 * SWEEP_MS + 5000, 'the pause');
    const paused = await tenant(nb, 'cold');
    assert.match(paused.reason, /^paused: idle 1(\.0)?s, last activity/);
    assert.ok(paused.paused?.memoryBytes > 1024 ** 2, `memory kept: ${JSON.stringify(paused.paused)}`);
    assert.ok(Date.parse(paused.paused.since) >= Date.parse(running.stateChangedAt));
    assert.equal(await frozen(paused.containerId), true, 'the engine froze it');
    const metrics = (await request(nb.port, { path: '/metrics' })).body;
    assert.match(metrics, /napbox_tenants\{state="paused"\} 1/);
    assert.match(metrics, /napbox_pauses_total\{reason="idle"\} 1/);
    assert.match(metrics, /napbox_paused_memory_bytes [1-9]/);

    const res = await request(nb.port, { host: tenantHost(nb, 'cold') });
    assert.equal(res.status, 200);
    const thawed = await tenant(nb, 'cold');
    assert.equal(thawed.state, 'running');
    assert.equal(thawed.containerId, running.containerId, 'thawed, not started anew');
    assert.match(thawed.lastStartReason, /^thawed: /);
    assert.equal(thawed.paused, null);
    assert.equal(await frozen(thawed.containerId), false);
    assert.match((await request(nb.port, { path: '/metrics' })).body, /napbox_thaw_duration_seconds_count 1/);
  });

  it('never pauses a tenant with an open WebSocket, and pauses it once the socket closes', async () => {
    const ws = await openTenantSocket(nb, 'held', '/echo');
    await sleep(PAUSE_MS + 4 * SWEEP_MS);
    const held = await tenant(nb, 'held');
    assert.equal(held.state, 'running');
    assert.ok(
      held.holds.some((h: string) => /websocket/.test(h)),
      JSON.stringify(held.holds),
    );
    ws.close();
    await until(inState(nb, 'held', 'paused'), PAUSE_MS + 10 * SWEEP_MS + 5000, 'the pause after the socket closed');
  });

  it('delivers a message to a paused tenant after the thaw, exactly once, over the runner channel kept through the pause', async () => {
    const first = await api(nb, 'POST', '/api/tenants/talk/messages', { text: 'before', session: 's1' });
    assert.equal((await waitDone(nb, 'talk', first.json.id)).reply, 'echo: before');
    await until(inState(nb, 'talk', 'paused'), PAUSE_MS + 10 * SWEEP_MS + 5000, 'the pause');
    // Paused past the heartbeat timeout: a frozen runner sends no heartbeat, and is not taken for stuck.
    await sleep(1500);
    assert.equal((await tenant(nb, 'talk')).state, 'paused');
    const res = await api(nb, 'POST', '/api/tenants/talk/messages', { text: 'while paused', session: 's1' });
    assert.equal(res.status, 202);
    const done = await waitDone(nb, 'talk', res.json.id);
    assert.equal(done.state, 'done');
    assert.equal(done.reply, 'echo: while paused');
    const listed = await api(nb, 'GET', '/api/tenants/talk/messages?session=s1');
    assert.deepEqual(
      listed.json.messages.map((m: any) => [m.text, m.reply]),
      [
        ['before', 'echo: before'],
        ['while paused', 'echo: while paused'],
      ],
    );
    const t = await tenant(nb, 'talk');
    assert.equal(t.state, 'running');
    assert.match(t.lastStartReason, /^thawed: message /);
  });

  it('adopts a container paused by hand as paused, and the next request thaws it', async () => {
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'byhand') })).status, 200);
    const running = await tenant(nb, 'byhand');
    await run('docker', ['pause', running.containerId]);
    await until(inState(nb, 'byhand', 'paused'), 10 * SWEEP_MS + 5000, 'adopted as paused');
    assert.equal((await tenant(nb, 'byhand')).reason, 'found paused in the engine');
    const res = await request(nb.port, { host: tenantHost(nb, 'byhand') });
    assert.equal(res.status, 200);
    assert.equal(await frozen(running.containerId), false);
    assert.equal((await tenant(nb, 'byhand')).containerId, running.containerId);
  });

  it('stops the longest-idle paused tenant past NAPBOX_PAUSED_MAX, saying why', async () => {
    // Other tests' tenants may be paused too: the cap counts every paused tenant of this install.
    for (const slug of ['cap1', 'cap2', 'cap3']) {
      assert.equal((await request(nb.port, { host: tenantHost(nb, slug) })).status, 200);
      await until(inState(nb, slug, 'paused'), PAUSE_MS + 10 * SWEEP_MS + 5000, `${slug} paused`);
    }
    await until(
      async () => (await api(nb, 'GET', '/api/tenants')).json.tenants.filter((t: any) => t.state === 'paused').length <= 2,
      10 * SWEEP_MS + 5000,
      'the cap',
    );
    const all = (await api(nb, 'GET', '/api/tenants')).json.tenants;
    assert.equal(all.filter((t: any) => t.state === 'paused').length, 2);
    assert.equal((await tenant(nb, 'cap3')).state, 'paused', 'the newest paused one stays');
    const capped = all.filter((t: any) => t.state === 'stopped' && /NAPBOX_PAUSED_MAX=2/.test(t.lastStopReason ?? ''));
    assert.ok(capped.length >= 1, JSON.stringify(all.map((t: any) => [t.slug, t.state, t.lastStopReason])));
    assert.match((await request(nb.port, { path: '/metrics' })).body, /napbox_stops_total\{reason="paused-cap"\} [1-9]/);
  });
});
