// The Docker engine itself goes away and comes back: napbox keeps accepting
// messages meanwhile, reconnects, reconciles, and answers every one.
// This test kills (SIGKILL) and restarts the machine's dockerd (as set-up starts it).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import { after, describe, it } from 'node:test';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { ensureDockerEngine } from '../../setup/docker-engine.js';
import { api, removeInstall, request, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';

const driver = new DockerDriver();
const PID_FILE = '/var/run/docker.pid';

async function stopEngine(): Promise<void> {
  const pid = Number(fs.readFileSync(PID_FILE, 'utf8').trim());
  process.kill(pid, 'SIGKILL'); // killed, not shut down: no chance to tidy up
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error('dockerd did not die within 60s');
}

const canRestartEngine = process.env.DOCKER_HOST === undefined && fs.existsSync(PID_FILE) && process.getuid?.() === 0;

describe('the engine restarts', { skip: canRestartEngine ? false : 'needs the local dockerd that set-up started (root, /var/run/docker.pid)' }, () => {
  let nb: NapboxProcess | undefined;
  after(async () => {
    await ensureDockerEngine(driver, undefined); // whatever happened, leave an engine running
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('loses no message accepted while the engine was down', async () => {
    nb = await startNapbox({ env: { NAPBOX_SWEEP_INTERVAL: '500ms' } });
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'calm' })).status, 201);
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'calm') })).status, 200);

    await stopEngine();
    const sent = await api(nb, 'POST', '/api/tenants/calm/messages', { text: 'are you there', session: 'e' });
    assert.equal(sent.status, 202, 'accepted while the engine is down');
    // The container may outlive a killed engine (its shim lives on): the URL answers from it, or says why not; it never hangs.
    const during = await request(nb.port, { host: tenantHost(nb, 'calm'), timeoutMs: 30_000 });
    assert.ok([200, 503].includes(during.status), `answered ${during.status}`);

    await ensureDockerEngine(driver, undefined);
    const done = await api(nb, 'GET', `/api/tenants/calm/messages/${sent.json.id}?wait=60s`);
    assert.equal(done.json.state, 'done', JSON.stringify(done.json));
    assert.equal(done.json.reply, 'echo: are you there');
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'calm') })).status, 200);
  });
});
