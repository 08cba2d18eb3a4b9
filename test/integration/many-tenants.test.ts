// More tenants than Docker's default address pools could give a network each
// (about 30): 64 woken one after another and stopped again, then 20 at once,
// all answered 200 on an engine with its default settings; tenants still
// cannot reach each other among many; an older install's per-tenant network
// is taken away cleanly. Issue 13.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { buildContainerSpec, tenantNetwork } from '../../src/runtime/container-spec.js';
import { api, removeInstall, request, startNapbox, tempDataDir, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';

const run = promisify(execFile);
const driver = new DockerDriver();
const SEQUENTIAL = 60;
const AT_ONCE = 20;
const slugOf = (i: number): string => `many-${String(i).padStart(3, '0')}`;

// Tries a TCP connection from inside a container (as the tenant's user); prints "open" or why not.
const CONNECT =
  "const s=require('net').connect({host:process.argv[1],port:+process.argv[2],timeout:2000});s.on('connect',()=>{console.log('open');process.exit(0)});s.on('timeout',()=>{console.log('timeout');process.exit(0)});s.on('error',e=>{console.log(e.code);process.exit(0)})";

async function connectFrom(containerId: string, host: string, port: number): Promise<string> {
  const { stdout } = await run('docker', ['exec', '-u', '10001', containerId, 'node', '-e', CONNECT, host, String(port)], { timeout: 20_000 });
  return stdout.trim();
}

async function installNetworks(installId: string): Promise<string[]> {
  return (await driver.findNetworksByLabels({ 'napbox.install': installId })).sort();
}

describe('many tenants on an engine with default settings', () => {
  let nb: NapboxProcess;
  let dataDir: string;
  before(async () => {
    dataDir = tempDataDir();
    nb = await startNapbox({ dataDir, env: { NAPBOX_SWEEP_INTERVAL: '1h' } });
    for (let i = 1; i <= SEQUENTIAL; i++) assert.equal((await api(nb, 'POST', '/api/tenants', { slug: slugOf(i) })).status, 201);
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it(`wakes ${SEQUENTIAL} tenants one after another (each stopped again), then ${AT_ONCE} at once`, async () => {
    const failures: string[] = [];
    for (let i = 1; i <= SEQUENTIAL; i++) {
      const res = await request(nb.port, { host: tenantHost(nb, slugOf(i)) });
      if (res.status !== 200) failures.push(`${slugOf(i)}: ${res.status} ${res.body.slice(0, 300)}`);
      assert.equal((await api(nb, 'POST', `/api/tenants/${slugOf(i)}/stop`)).status, 200);
      if (failures.length > 0) break;
    }
    assert.deepEqual(failures, [], 'every sequential wake answered');
    const together = await Promise.all(Array.from({ length: AT_ONCE }, (_, k) => request(nb.port, { host: tenantHost(nb, slugOf(k + 1)) })));
    assert.deepEqual(
      together.map((r) => r.status),
      Array(AT_ONCE).fill(200),
      together
        .filter((r) => r.status !== 200)
        .map((r) => r.body.slice(0, 200))
        .join('\n'),
    );
    assert.equal((await installNetworks(nb.installId)).length, 1, 'one network for every tenant, not one each');
  });

  it('keeps tenants from reaching each other by address or by name, among many running', async () => {
    const [a] = await driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': slugOf(1) });
    const [b] = await driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': slugOf(2) });
    assert.ok(a && b && a.status === 'running' && b.status === 'running');
    const bInfo = JSON.parse((await run('docker', ['inspect', b.id])).stdout)[0];
    const bAddress = Object.values(bInfo.NetworkSettings.Networks as Record<string, { IPAddress: string }>)[0]!.IPAddress;
    assert.equal(await connectFrom(a.id, '127.0.0.1', 8080), 'open', 'the probe works: a tenant reaches its own app');
    assert.notEqual(await connectFrom(a.id, bAddress, 8080), 'open', `a reaches b's app at ${bAddress}`);
    assert.notEqual(await connectFrom(a.id, bAddress, 8081), 'open', "a reaches b's runner");
    assert.notEqual(await connectFrom(a.id, b.name.replace(/^\//, ''), 8080), 'open', "a reaches b's app by its name");
    assert.equal((await request(nb.port, { host: tenantHost(nb, slugOf(2)) })).status, 200, 'napbox still reaches b');
  });

  it("takes an older install's per-tenant network away and wakes its tenant on the shared one", async () => {
    await nb.stop();
    const slug = slugOf(SEQUENTIAL);
    const old = tenantNetwork(nb.installId, slug, 'tenant');
    await driver.ensureNetwork(old);
    const [existing] = await driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': slug });
    if (existing) await driver.remove(existing.id, { force: true });
    const spec = buildContainerSpec({
      installId: nb.installId,
      slug,
      config: {},
      image: 'napbox-node-base:node24',
      publish: false,
      channelKey: 'k'.repeat(43),
      heartbeatMs: 5000,
      networkScope: 'tenant',
    });
    await driver.create(spec); // as an older napbox left it: stopped, on its own network
    nb = await startNapbox({ dataDir, env: { NAPBOX_SWEEP_INTERVAL: '1h' } });
    assert.equal((await request(nb.port, { host: tenantHost(nb, slug) })).status, 200);
    await api(nb, 'POST', `/api/tenants/${slug}/stop`);
    await nb.stop();
    nb = await startNapbox({ dataDir, env: { NAPBOX_SWEEP_INTERVAL: '1h' } });
    assert.deepEqual(await installNetworks(nb.installId), [`napbox-${nb.installId}_tenants`]);
  });
});
