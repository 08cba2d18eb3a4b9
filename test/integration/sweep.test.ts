// The heartbeat sweep through the real engine, with short timeouts: idle
// tenants stop, held ones do not, stuck runners are restarted, and the
// database is reconciled with the engine on every tick.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { buildContainerSpec } from '../../src/runtime/container-spec.js';
import { api, openTenantSocket, removeInstall, request, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { sleep, until } from '../helpers/wait.js';

const run = promisify(execFile);
const driver = new DockerDriver();
const IDLE_MS = 2000;
const SWEEP_MS = 500;
// A provider command that takes the lease its message names ("name ttlMs") through the runner, from inside.
const TAKE_LEASE = `let t='';process.stdin.on('data',d=>t+=d).on('end',async()=>{const [name,ttl]=t.trim().split(' ');
const r=await fetch('http://127.0.0.1:8081/lease',{method:'POST',body:JSON.stringify({name,ttlMs:Number(ttl)})});console.log(r.status)})`;

async function state(nb: NapboxProcess, slug: string): Promise<any> {
  return (await api(nb, 'GET', `/api/tenants/${slug}`)).json;
}

const stopped = (nb: NapboxProcess, slug: string) => async () => (await state(nb, slug)).state === 'stopped';

describe('the sweep', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox({
      env: {
        NAPBOX_IDLE_TIMEOUT: `${IDLE_MS}ms`,
        NAPBOX_SWEEP_INTERVAL: `${SWEEP_MS}ms`,
        NAPBOX_HEARTBEAT_INTERVAL: '300ms',
        NAPBOX_HEARTBEAT_TIMEOUT: '2s',
        NAPBOX_LEASE_MAX: '5s',
        NAPBOX_LOG_LEVEL: process.env.SWEEP_LOG ?? 'warn',
      },
    });
    const tenants: Array<[string, unknown]> = [
      ['idle', undefined],
      ['socket', undefined],
      ['slow', undefined],
      ['busy', { kind: 'command', command: ['sh', '-c', 'sleep 4; echo finished'] }],
      ['frozen', { kind: 'command', command: ['sh', '-c', 'read -r x; sleep 3; echo "thawed $x"'] }],
      ['leasy', { kind: 'command', command: ['node', '-e', TAKE_LEASE] }],
    ];
    for (const [slug, provider] of tenants) assert.equal((await api(nb, 'POST', '/api/tenants', { slug, ...(provider ? { provider } : {}) })).status, 201);
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('stops an idle tenant within the idle timeout plus a sweep interval, and wakes it again on the next request', async () => {
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'idle') })).status, 200);
    const took = await until(stopped(nb, 'idle'), IDLE_MS + SWEEP_MS + 3000, 'idle stop');
    assert.ok(took <= IDLE_MS + SWEEP_MS + 1500, `stopped after ${took}ms`);
    const s = await state(nb, 'idle');
    assert.match(s.lastStopReason, /^idle 2s, last activity \d\d:\d\d:\d\d request$/);
    const [c] = await driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': 'idle' });
    assert.equal(c?.status, 'exited');
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'idle') })).status, 200);
    assert.equal((await state(nb, 'idle')).state, 'running');
  });

  it('keeps a tenant with an open WebSocket, and stops it once the socket closes', async () => {
    const ws = await openTenantSocket(nb, 'socket', '/echo');
    await sleep(IDLE_MS + 3 * SWEEP_MS);
    const held = await state(nb, 'socket');
    assert.equal(held.state, 'running');
    assert.ok(
      held.holds.some((h: string) => /websocket/.test(h)),
      JSON.stringify(held.holds),
    );
    ws.close();
    await until(stopped(nb, 'socket'), IDLE_MS + SWEEP_MS + 3000, 'stop after the socket closed');
  });

  it('keeps a tenant with a slow request in flight', async () => {
    const slow = request(nb.port, { host: tenantHost(nb, 'slow'), path: `/slow?ms=${IDLE_MS + 2500}` });
    await sleep(IDLE_MS + 2000);
    assert.equal((await state(nb, 'slow')).state, 'running');
    assert.equal((await slow).status, 200);
    await until(stopped(nb, 'slow'), IDLE_MS + SWEEP_MS + 3000, 'stop after the request ended');
  });

  it('keeps a tenant while it processes a message', async () => {
    const sent = await api(nb, 'POST', '/api/tenants/busy/messages', { text: 'work', session: 'w' });
    assert.equal(sent.status, 202);
    await until(async () => (await state(nb, 'busy')).state === 'running', 30_000, 'running');
    await sleep(3000);
    const during = await state(nb, 'busy');
    assert.equal(during.state, 'running');
    assert.ok(
      during.holds.some((h: string) => /processing|pending/.test(h)),
      JSON.stringify(during.holds),
    );
    const done = await api(nb, 'GET', `/api/tenants/busy/messages/${sent.json.id}?wait=30s`);
    assert.equal(done.json.reply.trim(), 'finished');
    await until(stopped(nb, 'busy'), IDLE_MS + SWEEP_MS + 3000, 'stop after the message');
  });

  it('restarts a runner whose heartbeat stops while processing, and the message gets exactly one reply', async () => {
    const sent = await api(nb, 'POST', '/api/tenants/frozen/messages', { text: 'ice', session: 'f' });
    await until(async () => (await api(nb, 'GET', `/api/tenants/frozen/messages/${sent.json.id}`)).json.state === 'processing', 30_000, 'processing');
    const [c] = await driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': 'frozen' });
    assert.ok(c);
    // The runner hangs (SIGSTOP from the host: the engine does not know; a `docker pause` would be a pause,
    // which napbox adopts and thaws, since a frozen container is not a stuck one).
    // The container's pid 1 is its init; the runner is its child.
    const { stdout: pid } = await run('docker', ['inspect', '-f', '{{.State.Pid}}', c.id]);
    const init = pid.trim();
    const [runner] = fs.readFileSync(`/proc/${init}/task/${init}/children`, 'utf8').trim().split(/\s+/);
    process.kill(Number(runner), 'SIGSTOP');
    const done = await api(nb, 'GET', `/api/tenants/frozen/messages/${sent.json.id}?wait=45s`);
    assert.equal(done.json.state, 'done', JSON.stringify(done.json));
    assert.equal(done.json.reply, 'thawed ice\n');
    assert.equal(done.json.tries, 2);
    if (process.env.SWEEP_LOG)
      console.log(
        nb
          .output()
          .split('\n')
          .filter((l) => l.includes('frozen'))
          .join('\n'),
      );
    assert.match((await state(nb, 'frozen')).lastStopReason ?? '', /heartbeat missing .* while processing m_/);
    const listed = await api(nb, 'GET', '/api/tenants/frozen/messages?session=f');
    assert.equal(listed.json.messages.length, 1);
  });

  it('keeps a tenant holding a lease until the lease ends', async () => {
    const sent = await api(nb, 'POST', '/api/tenants/leasy/messages', { text: 'build 4000', session: 'l1' });
    const done = await api(nb, 'GET', `/api/tenants/leasy/messages/${sent.json.id}?wait=30s`);
    assert.equal(done.json.reply.trim(), '200', 'the runner took the lease and told napbox');
    const took = Date.now();
    await sleep(IDLE_MS + 1000);
    const held = await state(nb, 'leasy');
    assert.equal(held.state, 'running');
    assert.deepEqual(held.holds, ['lease build']);
    await until(stopped(nb, 'leasy'), 4000 + IDLE_MS + SWEEP_MS + 3000, 'stop after the lease');
    assert.ok(Date.now() - took >= 4000 + IDLE_MS - 500, 'idle time counts from the end of the lease, not from when it was taken');
  });

  it('lets no lease hold a tenant past the cap', async () => {
    const sent = await api(nb, 'POST', '/api/tenants/leasy/messages', { text: 'forever 3600000', session: 'l2' });
    const done = await api(nb, 'GET', `/api/tenants/leasy/messages/${sent.json.id}?wait=30s`);
    assert.equal(done.json.reply.trim(), '200');
    await until(stopped(nb, 'leasy'), 5000 + SWEEP_MS + 4000, 'stop at the lease cap');
    assert.match((await state(nb, 'leasy')).lastStopReason, /lease forever past its 5s cap/);
  });

  it('removes an orphan container and adopts a running one it did not start', async () => {
    const image = (await state(nb, 'idle')).image;
    const orphan = await driver.create({
      ...buildContainerSpec({ installId: nb.installId, slug: 'ghost', config: {}, image, publish: false, channelKey: 'x'.repeat(43), heartbeatMs: 5000 }),
      network: undefined,
    });
    await until(async () => (await driver.inspect(orphan.id)) === undefined, 5000, 'orphan removal');

    await until(stopped(nb, 'idle'), IDLE_MS + SWEEP_MS + 3000, 'idle stopped first');
    const [c] = await driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': 'idle' });
    assert.ok(c);
    await driver.start(c.id);
    await until(async () => (await state(nb, 'idle')).state === 'running', 5000, 'adoption');
    assert.match((await state(nb, 'idle')).reason, /adopted/);
  });
});
