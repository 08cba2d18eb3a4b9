// napbox runs as a container too (issue 15): `npm run image` builds napbox:local
// from the tenants' own base image, and compose.yaml runs it with the engine's
// socket, its data dir on a volume and a groups folder mounted. Through the
// compose file (Debian's docker-compose), a tenant is created and its URL
// answers from cold; then everything it made goes.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { removeInstall, request, ROOT } from '../helpers/napbox-process.js';
import { eventually } from '../helpers/wait.js';

const run = promisify(execFile);
const compose = fs.existsSync('/usr/bin/docker-compose') ? '/usr/bin/docker-compose' : undefined;

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('napbox in a container, through compose.yaml', { skip: compose ? false : 'needs docker-compose (npm test installs it)' }, () => {
  const project = `napboxtest${process.pid}`;
  let port = 0;
  let groups = '';
  let env: NodeJS.ProcessEnv = {};
  let installId = '';
  const up = (...args: string[]) => run(compose!, ['-f', path.join(ROOT, 'compose.yaml'), '-p', project, ...args], { env, cwd: ROOT });

  before(async () => {
    await run('bash', [path.join(ROOT, 'setup/napbox-image.sh')], { cwd: ROOT, maxBuffer: 16 * 1024 * 1024 });
    port = await freePort();
    groups = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-compose-groups-'));
    env = { ...process.env, NAPBOX_PORT: String(port), NAPBOX_GROUPS: groups };
  });
  after(async () => {
    await up('down', '-v', '--remove-orphans').catch(() => undefined);
    if (installId) await removeInstall(installId);
    fs.rmSync(groups, { recursive: true, force: true });
    await run('docker', ['rmi', 'napbox:local']).catch(() => undefined); // the test's image: made here, removed here
  });

  it('starts, answers its API, and wakes a tenant from cold', async () => {
    await up('up', '-d');
    const container = `${project}_napbox_1`;
    const healthz = () =>
      request(port, { path: '/healthz' }).then(
        (r) => r.status,
        () => 0,
      );
    const health = await eventually(healthz, (status) => status === 200, 60_000, 'napbox healthy', 250).catch(() => 0); // the logs say why
    const logs = async () => (await run('docker', ['logs', '--tail', '40', container]).catch((e) => e)).stderr ?? '';
    assert.equal(health, 200, await logs());
    installId = (await run('docker', ['exec', container, 'cat', '/data/install-id'])).stdout.trim();
    const token = (await run('docker', ['exec', container, '/usr/local/bin/node', '/opt/napbox/bin/napbox.js', 'token'])).stdout.trim();
    const auth = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const created = await request(port, { method: 'POST', path: '/api/tenants', headers: auth, body: JSON.stringify({ slug: 'boxed' }) });
    assert.equal(created.status, 201, created.body);
    const page = await request(port, { host: `boxed.localhost:${port}` });
    assert.equal(page.status, 200, `${page.body.slice(0, 300)}\n${await logs()}`);
    assert.match(page.body, /boxed/);
  });
});
