// The Docker engine itself goes away and comes back: napbox keeps accepting
// messages meanwhile, reconnects, reconciles, and answers every one.
// The engine killed (SIGKILL) and restarted is the test's own
// (test/helpers/own-engine.ts), never the machine's: the user's other
// containers keep running.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { NODE_BASE_TAG, resolveAgentImage } from '../../src/images/agent-image.js';
import { canRunOwnEngine, startOwnEngine, type OwnEngine } from '../helpers/own-engine.js';
import { api, request, ROOT, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';

const refusal = canRunOwnEngine();
const run = promisify(execFile);
const { DOCKER_HOST: _unused, ...machineEnv } = process.env;

async function startedAt(id: string): Promise<string> {
  return (await run('docker', ['inspect', '-f', '{{.State.Running}} {{.State.StartedAt}}', id], { env: machineEnv })).stdout.trim();
}

describe('the engine restarts', { skip: refusal ?? false }, () => {
  let engine: OwnEngine | undefined;
  let nb: NapboxProcess | undefined;
  let sentinel = '';
  let sentinelStarted = '';
  before(async () => {
    const machine = new DockerDriver('unix:///var/run/docker.sock');
    const caBundle = process.env.NAPBOX_CA_BUNDLE ?? process.env.NODE_EXTRA_CA_CERTS ?? process.env.SSL_CERT_FILE;
    const { tag } = await resolveAgentImage({
      driver: machine,
      containerDir: path.join(ROOT, 'container'),
      caBundle: caBundle ? path.resolve(caBundle) : undefined,
    });
    // A container of the machine's engine that is not napbox's: it must run through the whole test.
    sentinel = (
      await run('docker', ['run', '-d', '--rm', '--label', 'napbox.test=engine-restart-sentinel', NODE_BASE_TAG, 'sleep', '600'], { env: machineEnv })
    ).stdout.trim();
    sentinelStarted = await startedAt(sentinel);
    engine = await startOwnEngine([NODE_BASE_TAG, tag]);
  });
  after(async () => {
    await nb?.stop();
    await engine?.remove();
    if (sentinel) await run('docker', ['rm', '-f', sentinel], { env: machineEnv }).catch(() => undefined);
  });

  it('loses no message accepted while the engine was down', async () => {
    const own = engine!;
    nb = await startNapbox({ env: { NAPBOX_SWEEP_INTERVAL: '500ms', DOCKER_HOST: own.host } });
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'calm' })).status, 201);
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'calm') })).status, 200);

    await own.kill();
    const sent = await api(nb, 'POST', '/api/tenants/calm/messages', { text: 'are you there', session: 'e' });
    assert.equal(sent.status, 202, 'accepted while the engine is down');
    // The container may outlive a killed engine (its shim lives on): the URL answers from it, or says why not; it never hangs.
    const during = await request(nb.port, { host: tenantHost(nb, 'calm'), timeoutMs: 30_000 });
    assert.ok([200, 503].includes(during.status), `answered ${during.status}`);

    await own.start();
    const done = await api(nb, 'GET', `/api/tenants/calm/messages/${sent.json.id}?wait=60s`);
    assert.equal(done.json.state, 'done', JSON.stringify(done.json));
    assert.equal(done.json.reply, 'echo: are you there');
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'calm') })).status, 200);
    assert.equal(await startedAt(sentinel), sentinelStarted, "the machine's engine and its other containers were never touched");
  });
});
