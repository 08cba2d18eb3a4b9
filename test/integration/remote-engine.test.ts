// napbox driving an engine it reaches over TCP, as it would a remote one:
// DOCKER_HOST=tcp://127.0.0.1:<port>, where a forwarder (test/helpers/
// tcp-forwarder.ts) stands in for a dockerd listening on TCP. The mounts
// default to copy mode there, so the test checks what a remote engine needs:
// no bind mount of any host path of napbox's, the tenant's files copied in
// read-only, its group folder and workspace in volumes that outlive a stop,
// and the tenant reached on a port published where napbox can reach it.
// A second suite checks TLS (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) the same way.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { NapboxError } from '../../src/errors.js';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { parseDockerHost } from '../../src/config/docker-host.js';
import { api, removeInstall, request, startNapbox, tempDataDir, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { engineGet, startTcpForwarder, type TcpForwarder } from '../helpers/tcp-forwarder.js';
import { until } from '../helpers/wait.js';

const local = parseDockerHost(process.env);
const SLUG = 'remote';

// Reports which paths it can write, whether it can change or move napbox's files, what it was given, and what a previous run left.
const PROBE = [
  'sh',
  '-c',
  [
    'cat >/dev/null',
    'for p in /workspace /group /group/.napbox /global; do (touch $p/w 2>/dev/null && echo "$p rw") || echo "$p ro"; done',
    '(echo changed > /group/.napbox/instructions.md) 2>/dev/null && echo napbox-written || echo napbox-refused',
    'mv /group/.napbox /group/moved 2>/dev/null && echo napbox-moved || echo napbox-stays',
    'stat -c "%u %a %n" /group/.napbox/config.json /group/.napbox/instructions.md /global/notes/readme.txt',
    'test -e /group/tenant.json && echo settings-copied || echo no-settings',
    'cat /global/notes/readme.txt',
    'cat /group/.napbox/instructions.md',
    'cat /group/kept 2>/dev/null || echo no-kept; echo kept > /group/kept',
    'cat /workspace/kept 2>/dev/null || echo no-workspace-kept; echo kept > /workspace/kept',
  ].join('; '),
];

async function ask(nb: NapboxProcess): Promise<string[]> {
  const sent = await api(nb, 'POST', `/api/tenants/${SLUG}/messages`, { text: 'x', session: 'probe' });
  assert.equal(sent.status, 202, JSON.stringify(sent.json));
  const done = await api(nb, 'GET', `/api/tenants/${SLUG}/messages/${sent.json.id}?wait=60s`);
  assert.equal(done.json.state, 'done', JSON.stringify(done.json));
  return done.json.reply.trim().split('\n');
}

describe('a remote engine: DOCKER_HOST=tcp:// with copied mounts', { skip: local.kind !== 'unix' && 'needs the local engine socket to forward to' }, () => {
  let nb: NapboxProcess;
  let forwarder: TcpForwarder;
  let dataDir: string;
  let groups: string;
  const socketPath = local.kind === 'unix' ? local.socketPath : '';

  before(async () => {
    forwarder = await startTcpForwarder(socketPath);
    dataDir = tempDataDir();
    groups = `${dataDir}-groups`;
    fs.mkdirSync(path.join(groups, 'global', 'notes'), { recursive: true });
    fs.writeFileSync(path.join(groups, 'global', 'instructions.md'), 'Be kind.\n');
    fs.writeFileSync(path.join(groups, 'global', 'notes', 'readme.txt'), 'shared by all\n');
    fs.symlinkSync('/etc/hostname', path.join(groups, 'global', 'host-file')); // never followed in copy mode
    nb = await startNapbox({
      dataDir,
      env: { DOCKER_HOST: `tcp://127.0.0.1:${forwarder.port}`, NAPBOX_WAKE_TIMEOUT: '30s', NAPBOX_LOG_LEVEL: 'info', NAPBOX_LOG_FORMAT: 'json' },
    });
    fs.mkdirSync(path.join(groups, SLUG));
    fs.writeFileSync(
      path.join(groups, SLUG, 'tenant.json'),
      JSON.stringify({ instructions: 'You are remote.', provider: { kind: 'command', command: PROBE } }),
    );
    await until(async () => (await api(nb, 'GET', `/api/tenants/${SLUG}`)).status === 200, 10_000, 'the tenant from its folder');
  });

  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
    await forwarder?.close();
    if (dataDir) for (const dir of [dataDir, groups]) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('serves a cold tenant URL, talking to the engine over TCP, and reaches the tenant on a published port', async () => {
    const res = await request(nb.port, { host: tenantHost(nb, SLUG) });
    assert.equal(res.status, 200);
    assert.match(res.body, /Tenant <span id="tenant">remote<\/span>/);
    assert.ok(forwarder.connections() > 0, 'napbox talks to the engine through the tcp:// address (its connections are kept alive, so a few serve it all)');
    assert.match(nb.output(), /"upstream":"published"/, 'a remote engine is reached on published ports');
    const [summary] = await engineGet(
      socketPath,
      `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: [`napbox.install=${nb.installId}`, `napbox.tenant=${SLUG}`] }))}`,
    );
    assert.ok(summary, 'the tenant has a container');
    const info = await engineGet(socketPath, `/containers/${summary.Id}/json`);
    const app = info.NetworkSettings.Ports['8080/tcp']?.[0];
    assert.equal(app?.HostIp, '127.0.0.1', "published on the engine's address from DOCKER_HOST, not on every interface");
    const direct = await request(Number(app.HostPort), { host: 'anything' });
    assert.match(direct.body, /Tenant <span id="tenant">remote<\/span>/, 'the published port is the tenant');
  });

  it("mounts no host path of napbox's: every layer is a labelled volume", async () => {
    const [summary] = await engineGet(
      socketPath,
      `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: [`napbox.install=${nb.installId}`, `napbox.tenant=${SLUG}`] }))}`,
    );
    const info = await engineGet(socketPath, `/containers/${summary.Id}/json`);
    const mounts = (info.Mounts as Array<{ Type: string; Source: string; Destination: string; Name?: string }>).map((m) => [m.Destination, m.Type, m.Name]);
    assert.deepEqual(mounts.sort(), [
      ['/global', 'volume', `napbox-${nb.installId}-${SLUG}-global`],
      ['/group', 'volume', `napbox-${nb.installId}-${SLUG}-group`],
      ['/group/.napbox', 'volume', `napbox-${nb.installId}-${SLUG}-napbox`],
      ['/workspace', 'volume', `napbox-${nb.installId}-${SLUG}-workspace`],
    ]);
    assert.equal(info.HostConfig.Binds ?? null, null);
    for (const source of (info.Mounts as Array<{ Source: string }>).map((m) => m.Source)) {
      assert.ok(!source.startsWith(dataDir) && !source.startsWith(groups), `${source} is not napbox's`);
    }
  });

  it('shows the tenant its copied files read-only and its group folder and workspace writable, kept across a stop and a wake', async () => {
    const first = await ask(nb);
    assert.deepEqual(first.slice(0, 6), ['/workspace rw', '/group rw', '/group/.napbox ro', '/global ro', 'napbox-refused', 'napbox-stays']);
    assert.deepEqual(first.slice(6, 10), [
      '0 444 /group/.napbox/config.json',
      '0 444 /group/.napbox/instructions.md',
      '0 444 /global/notes/readme.txt',
      'no-settings',
    ]);
    assert.equal(first[10], 'shared by all');
    assert.ok(first.includes('Be kind.') && first.includes('You are remote.'), `instructions composed: ${first.join(' | ')}`);
    assert.ok(!first.some((l) => l.includes('host-file')), 'a symlink in groups/global is not followed');
    assert.deepEqual(first.slice(-2), ['no-kept', 'no-workspace-kept']);
    assert.equal(fs.existsSync(path.join(groups, SLUG, 'kept')), false, "the group folder lives in the engine, not in napbox's folder");

    assert.equal((await api(nb, 'POST', `/api/tenants/${SLUG}/stop`)).status, 200);
    const second = await ask(nb);
    assert.deepEqual(second.slice(-2), ['kept', 'kept'], 'the group folder and the workspace outlived the stop');
  });

  it("brings an edit of the tenant's instructions at its next creation, and drops what napbox no longer copies", async () => {
    fs.writeFileSync(
      path.join(groups, SLUG, 'tenant.json'),
      JSON.stringify({ instructions: 'You are edited.', provider: { kind: 'command', command: PROBE } }),
    );
    fs.rmSync(path.join(groups, 'global', 'notes'), { recursive: true });
    const materialized = path.join(dataDir, 'tenants', SLUG, 'materialized', 'instructions.md');
    await until(() => fs.readFileSync(materialized, 'utf8').includes('You are edited.'), 10_000, 'the edit materialized');
    assert.equal((await api(nb, 'POST', `/api/tenants/${SLUG}/stop`)).status, 200);
    const lines = await ask(nb);
    assert.ok(lines.includes('You are edited.') && !lines.includes('You are remote.'), lines.join(' | '));
    assert.ok(!lines.includes('shared by all'), 'a file removed from groups/global is gone from the fresh volume');
    assert.deepEqual(lines.slice(-2), ['kept', 'kept'], 'a recreated container keeps the group folder and workspace');
  });

  it('copies the files of a tenant with a read-only root filesystem too (they go into volumes, never the root)', async () => {
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'rofs', readOnlyRootfs: true, instructions: 'Read-only root.' })).status, 201);
    const res = await request(nb.port, { host: tenantHost(nb, 'rofs') });
    assert.equal(res.status, 200, res.body);
    const [summary] = await engineGet(
      socketPath,
      `/containers/json?filters=${encodeURIComponent(JSON.stringify({ label: [`napbox.install=${nb.installId}`, 'napbox.tenant=rofs'] }))}`,
    );
    const info = await engineGet(socketPath, `/containers/${summary.Id}/json`);
    assert.equal(info.HostConfig.ReadonlyRootfs, true);
    const instructions = await new DockerDriver().readFile(summary.Id, '/group/.napbox/instructions.md');
    assert.match(instructions?.content.toString() ?? '', /Read-only root\./);
  });

  it('refuses extra mounts of host folders, saying why', async () => {
    const res = await api(nb, 'PATCH', `/api/tenants/${SLUG}`, { mounts: [{ hostPath: dataDir, containerPath: 'data' }] });
    assert.equal(res.status, 400);
    assert.match(res.json.message, /remote/);
  });
});

// DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as Docker's tools read them, against a forwarder that, like
// `dockerd --tlsverify`, serves TLS and requires a client certificate from the same CA. Certificates
// are made with openssl (argv, no shell) in a temp folder.
function makeCertificates(dir: string): void {
  const run = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  };
  fs.writeFileSync(path.join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1\n');
  fs.writeFileSync(path.join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=napbox-test-ca']);
  for (const [name, subject, ext] of [
    ['server', '/CN=127.0.0.1', 'server.ext'],
    ['client', '/CN=napbox', 'client.ext'],
  ] as const) {
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}-key.pem`, '-out', `${name}.csr`, '-subj', subject]);
    run([
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca-key.pem',
      '-CAcreateserial',
      '-out',
      `${name}-cert.pem`,
      '-days',
      '1',
      '-extfile',
      ext,
    ]);
  }
  // The names Docker's tools look for in DOCKER_CERT_PATH.
  fs.copyFileSync(path.join(dir, 'client-cert.pem'), path.join(dir, 'cert.pem'));
  fs.copyFileSync(path.join(dir, 'client-key.pem'), path.join(dir, 'key.pem'));
}

const hasOpenssl = (() => {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

describe('a remote engine over TLS: DOCKER_TLS_VERIFY and DOCKER_CERT_PATH', {
  skip: (local.kind !== 'unix' && 'needs the local engine socket') || (!hasOpenssl && 'needs openssl to make certificates'),
}, () => {
  let forwarder: TcpForwarder;
  let certs: string;
  let otherCa: string;
  before(async () => {
    certs = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-tls-'));
    otherCa = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-tls-other-'));
    makeCertificates(certs);
    makeCertificates(otherCa);
    const read = (name: string): Buffer => fs.readFileSync(path.join(certs, name));
    forwarder = await startTcpForwarder(local.kind === 'unix' ? local.socketPath : '', {
      key: read('server-key.pem'),
      cert: read('server-cert.pem'),
      ca: read('ca.pem'),
    });
  });
  after(async () => {
    await forwarder?.close();
    for (const dir of [certs, otherCa]) if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('talks to an engine that checks client certificates, checking its certificate against ca.pem', async () => {
    const driver = new DockerDriver(`tcp://127.0.0.1:${forwarder.port}`, { env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs } });
    await driver.ping();
    assert.ok(Array.isArray(await driver.findByLabels({ 'napbox.install': 'tls-test-none' })));
  });

  it('refuses an engine whose certificate another CA signed, saying where to look', async () => {
    const driver = new DockerDriver(`tcp://127.0.0.1:${forwarder.port}`, { env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: otherCa } });
    await assert.rejects(driver.ping(), (err: NapboxError) => err.code === 'engine_unreachable' && /DOCKER_CERT_PATH/.test(err.message));
  });

  it('says which file is missing from DOCKER_CERT_PATH', () => {
    assert.throws(
      () => new DockerDriver(`tcp://127.0.0.1:${forwarder.port}`, { env: { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: path.join(certs, 'missing') } }),
      (err: NapboxError) => err.code === 'config_invalid' && err.message.includes('ca.pem'),
    );
  });
});
