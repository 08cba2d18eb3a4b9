// ssh:// engines: the driver contract and a cold start through napbox with
// DOCKER_HOST=ssh://<user>@127.0.0.1:<port>, a throwaway sshd in front of the
// local engine (test/helpers/local-sshd.ts) standing in for a remote machine.
// Skipped where OpenSSH's sshd is not installed (Debian: openssh-server) or
// the test does not run as root.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config.js';
import { requireAgentImage } from '../../src/images/agent-image.js';
import { runDriverContract } from '../../src/runtime/container-driver.contract.js';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { parseDockerHost } from '../../src/config/docker-host.js';
import { startLocalSshd, sshdUnavailable, type LocalSshd } from '../helpers/local-sshd.js';
import { api, removeInstall, request, ROOT, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';

const unavailable = parseDockerHost(process.env).kind !== 'unix' ? 'needs the local engine behind the sshd' : sshdUnavailable();
const sshd: LocalSshd | undefined = unavailable ? undefined : await startLocalSshd();
const dockerHost = sshd ? `ssh://${sshd.user}@127.0.0.1:${sshd.port}` : '';
let nb: NapboxProcess | undefined;

after(async () => {
  await nb?.stop();
  if (nb) await removeInstall(nb.installId);
  await sshd?.stop();
});

if (sshd) {
  const image = await requireAgentImage({ driver: new DockerDriver(), containerDir: path.join(ROOT, 'container'), caBundle: loadConfig().caBundle });
  runDriverContract('docker over ssh:// (published)', () => new DockerDriver(dockerHost, { env: { ...process.env, ...sshd.env } }), {
    image,
    mode: 'published',
  });
}

describe('napbox with DOCKER_HOST=ssh://', { skip: unavailable ?? false }, () => {
  it('serves a cold tenant URL on a port published on the engine host, its files copied in', async () => {
    nb = await startNapbox({ env: { ...sshd!.env, DOCKER_HOST: dockerHost, NAPBOX_WAKE_TIMEOUT: '30s' } });
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'overssh', instructions: 'Over ssh.' })).status, 201);
    const res = await request(nb.port, { host: tenantHost(nb, 'overssh') });
    assert.equal(res.status, 200);
    assert.match(res.body, /Tenant <span id="tenant">overssh<\/span>/);
    const driver = new DockerDriver();
    const [container] = await driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': 'overssh' });
    assert.ok(container);
    const instructions = await driver.readFile(container.id, '/group/.napbox/instructions.md');
    assert.equal(instructions?.content.toString().trim(), 'Over ssh.');
    assert.equal(instructions?.uid, 0);
  });
});
