// napbox with NAPBOX_DRIVER=swarm on this engine made a single-node swarm,
// each tenant a swarm service scaled 0/1. The scenarios every engine passes
// (test/scenarios/: sweep, dispatcher, relay, tenant proxy, admin API) run
// here on swarm, the same definitions as on FakeDriver and Docker; below
// them, what only swarm needs checking, as a real napbox process: one
// service and one task per tenant however many ask at once (from one process
// or two), no restart by swarm, a frozen task restarted, copy mounts,
// adoption after a restart. Counts come from the engine (its services, its
// tasks' container events), not from what napbox says.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { SwarmDriver } from '../../src/runtime/swarm-driver.js';
import { api, removeInstall, request, startNapbox, tempDataDir, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { containerEvents, count } from '../helpers/engine-events.js';
import { sleep, until } from '../helpers/wait.js';
import { ALL_SCENARIOS } from '../scenarios/all.js';
import { runScenarios } from '../scenarios/scenario.js';

const run = promisify(execFile);
const swarm = new SwarmDriver();
const docker = new DockerDriver();
const SWARM = { NAPBOX_DRIVER: 'swarm' } as const;

async function services(installId: string, slug: string) {
  return swarm.findByLabels({ 'napbox.install': installId, 'napbox.tenant': slug });
}

async function state(nb: NapboxProcess, slug: string): Promise<any> {
  return (await api(nb, 'GET', `/api/tenants/${slug}`)).json;
}

before(async () => {
  await swarm.ensureSwarm();
});

runScenarios('swarm', ALL_SCENARIOS);

describe('swarm: cold start through a tenant URL', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox({ env: { ...SWARM, NAPBOX_WAKE_TIMEOUT: '20s' } });
    for (const slug of ['alpha', 'crowd']) assert.equal((await api(nb, 'POST', '/api/tenants', { slug })).status, 201);
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it("serves a stopped tenant's own page from a swarm service that now runs one task", async () => {
    assert.equal((await services(nb.installId, 'alpha')).length, 0);
    const res = await request(nb.port, { host: tenantHost(nb, 'alpha') });
    assert.equal(res.status, 200);
    assert.match(res.body, /Tenant <span id="tenant">alpha<\/span>/);
    const [service, ...more] = await services(nb.installId, 'alpha');
    assert.equal(more.length, 0);
    assert.equal(service?.status, 'running');
    const info = await swarm.inspect(service!.id);
    assert.equal(info?.labels['napbox.tenant'], 'alpha');
    // The task's container is the engine's, labelled as spec.md says, and hardened as the service spec says.
    const [task] = (await docker.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': 'alpha' })).filter((c) => c.status === 'running');
    assert.ok(task, 'a labelled task container runs');
    assert.equal(task.labels['com.docker.swarm.service.id'], service!.id);
    const status = await state(nb, 'alpha');
    assert.equal(status.state, 'running');
    assert.equal(status.lastStartReason, 'request GET /');
  });

  it('starts exactly one task for 200 concurrent first requests, all answered', async () => {
    const since = new Date(Date.now() - 1000);
    const agent = new http.Agent({ keepAlive: false, maxSockets: 200 });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => request(nb.port, { host: tenantHost(nb, 'crowd'), path: `/whoami?i=${i}`, agent })),
    );
    agent.destroy();
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200]);
    assert.equal(new Set(results.map((r) => JSON.parse(r.body).pid)).size, 1, 'every answer came from the same process');
    assert.equal((await services(nb.installId, 'crowd')).length, 1, 'one service');
    const events = await containerEvents(nb.installId, since, 'crowd');
    assert.equal(count(events, 'create'), 1, `engine events: ${events.join(',')}`);
    assert.equal(count(events, 'start'), 1, `engine events: ${events.join(',')}`);
  });
});

describe('swarm: a tenant whose app exits at once', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox({ env: { ...SWARM, NAPBOX_WAKE_TIMEOUT: '15s' } });
    const app = { command: ['sh', '-c', 'echo "config file missing" >&2; exit 3'] };
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'broken', app })).status, 201);
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('does not restart the task of a failed wake (restart condition none): one start only', async () => {
    const since = new Date(Date.now() - 1000);
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'broken') })).status, 503);
    await sleep(2000); // a restart by swarm would come now
    const events = await containerEvents(nb.installId, since, 'broken');
    assert.equal(count(events, 'start'), 1, `one start only, engine events: ${events.join(',')}`);
  });
});

describe('swarm: the sweep restarts a stuck runner', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox({
      env: {
        ...SWARM,
        NAPBOX_SWEEP_INTERVAL: '500ms',
        NAPBOX_HEARTBEAT_INTERVAL: '300ms',
        NAPBOX_HEARTBEAT_TIMEOUT: '2s',
      },
    });
    const frozen = { kind: 'command', command: ['sh', '-c', 'read -r x; sleep 3; echo "thawed $x"'] };
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'frozen', provider: frozen })).status, 201);
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('restarts a task whose runner froze while processing (thawed to be stopped), and the message gets one reply', async () => {
    const sent = await api(nb, 'POST', '/api/tenants/frozen/messages', { text: 'ice', session: 'f' });
    await until(async () => (await api(nb, 'GET', `/api/tenants/frozen/messages/${sent.json.id}`)).json.state === 'processing', 30_000, 'processing');
    const [task] = (await docker.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': 'frozen' })).filter((c) => c.status === 'running');
    assert.ok(task);
    await run('docker', ['pause', task.id]);
    const done = await api(nb, 'GET', `/api/tenants/frozen/messages/${sent.json.id}?wait=45s`);
    assert.equal(done.json.state, 'done', JSON.stringify(done.json));
    assert.equal(done.json.reply, 'thawed ice\n');
    assert.equal(done.json.tries, 2);
    assert.match((await state(nb, 'frozen')).lastStopReason ?? '', /heartbeat missing .* while processing m_/);
  });
});

describe('swarm: two napbox processes sharing a data dir', () => {
  let a: NapboxProcess;
  let b: NapboxProcess;
  before(async () => {
    a = await startNapbox({ env: { ...SWARM, NAPBOX_WAKE_TIMEOUT: '30s' } });
    b = await startNapbox({ env: { ...SWARM, NAPBOX_WAKE_TIMEOUT: '30s' }, shareWith: a });
    assert.equal((await api(a, 'POST', '/api/tenants', { slug: 'shared' })).status, 201);
  });
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    if (a) await removeInstall(a.installId);
  });

  it('starts one service, one network and one task for 200 concurrent first requests split between them', async () => {
    const since = new Date(Date.now() - 1000);
    const agent = new http.Agent({ keepAlive: false, maxSockets: 200 });
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => {
        const nb = i % 2 === 0 ? a : b;
        return request(nb.port, { host: tenantHost(nb, 'shared'), path: `/whoami?i=${i}`, agent });
      }),
    );
    agent.destroy();
    assert.deepEqual([...new Set(results.map((r) => r.status))], [200], results.find((r) => r.status !== 200)?.body);
    assert.equal(new Set(results.map((r) => JSON.parse(r.body).pid)).size, 1, 'every answer came from the same process');
    assert.equal((await services(a.installId, 'shared')).length, 1);
    assert.equal((await swarm.findNetworksByLabels({ 'napbox.install': a.installId, 'napbox.tenant': 'shared' })).length, 1);
    const events = await containerEvents(a.installId, since, 'shared');
    assert.equal(count(events, 'create'), 1, `engine events: ${events.join(',')}`);
    assert.equal(count(events, 'start'), 1, `engine events: ${events.join(',')}`);
  });
});

describe('swarm as a remote engine is used (copy mounts, published ports)', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox({ env: { ...SWARM, NAPBOX_MOUNTS: 'copy', NAPBOX_UPSTREAM: 'published' } });
    const provider = { kind: 'command', command: ['sh', '-c', 'stat -c "%u %a" /group/.napbox/config.json'] };
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'copied', provider })).status, 201);
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it("gives the task napbox's files as root-owned read-only copies, with no host path mounted", async () => {
    const res = await api(nb, 'POST', '/api/tenants/copied/messages', { text: 'which', session: 'c' });
    const done = await api(nb, 'GET', `/api/tenants/copied/messages/${res.json.id}?wait=30s`);
    assert.equal(done.json.state, 'done', JSON.stringify(done.json));
    assert.equal(done.json.reply.trim(), '0 444');
    const [service] = await services(nb.installId, 'copied');
    const [task] = (await docker.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': 'copied' })).filter((c) => c.status === 'running');
    assert.ok(service && task);
    const { stdout } = await run('docker', ['inspect', '--format', '{{range .Mounts}}{{.Type}} {{end}}', task.id]);
    assert.ok(!/bind/.test(stdout), `no bind mounts: ${stdout}`);
    const page = await request(nb.port, { host: tenantHost(nb, 'copied') });
    assert.equal(page.status, 200, 'the app answers through its published port');
    assert.match(page.body, /Tenant <span id="tenant">copied<\/span>/);
  });
});

describe('swarm: napbox restarted while a tenant runs', () => {
  it('adopts the running service instead of starting another task', async () => {
    const dataDir = tempDataDir();
    let nb = await startNapbox({ dataDir, env: SWARM });
    const installId = nb.installId;
    try {
      assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'steady' })).status, 201);
      assert.equal((await request(nb.port, { host: tenantHost(nb, 'steady'), path: '/whoami' })).status, 200);
      const [before1] = await services(installId, 'steady');
      assert.ok(before1);
      await nb.kill();
      const since = new Date();
      nb = await startNapbox({ dataDir, env: SWARM });
      assert.equal((await request(nb.port, { host: tenantHost(nb, 'steady'), path: '/whoami' })).status, 200);
      assert.deepEqual(
        (await services(installId, 'steady')).map((s) => s.id),
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
