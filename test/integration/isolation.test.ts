// Tenant isolation and access through the real engine: private tenants,
// wake storms, an unprivileged and capped container, a fork bomb that stays
// inside its own tenant, and tenants that cannot reach each other.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { api, removeInstall, request, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';

const run = promisify(execFile);
// Reports what it may write: the image's own files, scratch space, and its workspace (and what an earlier run left there).
const LAYERS =
  'cat >/dev/null; (touch /usr/x 2>/dev/null && echo usr-writable || echo usr-readonly); (echo t > /tmp/t && echo tmp-writable); (cat /workspace/mark 2>/dev/null || echo no-mark); echo kept > /workspace/mark';
const driver = new DockerDriver();

async function ask(nb: NapboxProcess, slug: string, text: string, waitMs = 60_000): Promise<any> {
  const sent = await api(nb, 'POST', `/api/tenants/${slug}/messages`, { text, session: 'iso' });
  assert.equal(sent.status, 202, JSON.stringify(sent.json));
  return (await api(nb, 'GET', `/api/tenants/${slug}/messages/${sent.json.id}?wait=${Math.round(waitMs / 1000)}s`)).json;
}

const containersOf = (nb: NapboxProcess, slug: string) => driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': slug });

describe('isolation and access', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox({ env: { NAPBOX_WAKE_RATE: '3' } });
    const tenants: Array<Record<string, unknown>> = [
      { slug: 'secret', visibility: 'private' },
      { slug: 'vault', visibility: 'private' },
      { slug: 'open' },
      { slug: 'probe', provider: { kind: 'command', command: ['sh', '-c', 'cat >/dev/null; id -u; grep -E "^(NoNewPrivs|CapEff)" /proc/self/status'] } },
      {
        slug: 'bomb',
        provider: { kind: 'command', command: ['sh', '-c', 'cat >/dev/null; i=0; while [ $i -lt 2000 ]; do sleep 60 & i=$((i+1)); done; echo survived'] },
      },
      { slug: 'stormy' },
      { slug: 'locked', readOnlyRootfs: true, limits: { memoryMiB: 256, pids: 128 }, provider: { kind: 'command', command: ['sh', '-c', LAYERS] } },
    ];
    for (const body of tenants) assert.equal((await api(nb, 'POST', '/api/tenants', body)).status, 201);
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('answers 401 to a private tenant without a session, and wakes nothing', async () => {
    const res = await request(nb.port, { host: tenantHost(nb, 'secret') });
    assert.equal(res.status, 401);
    assert.match(JSON.parse(res.body).message, /napbox open secret/);
    assert.equal((await request(nb.port, { path: '/t/secret/' })).status, 401);
    assert.equal((await containersOf(nb, 'secret')).length, 0);
  });

  it('serves a private tenant after its sign-in link, and only that tenant', async () => {
    const { json } = await api(nb, 'POST', '/api/tenants/secret/open');
    const link = new URL(json.url);
    const signIn = await request(nb.port, { host: tenantHost(nb, 'secret'), path: `${link.pathname}${link.search}` });
    assert.equal(signIn.status, 303);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    assert.match(String(signIn.headers['set-cookie']), /HttpOnly/);
    assert.doesNotMatch(String(signIn.headers['set-cookie']), /Domain=/i, 'host-only: other tenant hosts never get it');
    const page = await request(nb.port, { host: tenantHost(nb, 'secret'), headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(page.body, /Tenant <span id="tenant">secret<\/span>/);
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'vault'), headers: { cookie } })).status, 401, "secret's session is no key to vault");
    const forged = await request(nb.port, { host: tenantHost(nb, 'secret'), path: '/_napbox/signin?token=not-a-token' });
    assert.equal(forged.status, 401);
  });

  it('runs tenant code as an unprivileged user that cannot gain privileges', async () => {
    const done = await ask(nb, 'probe', 'who');
    assert.equal(done.state, 'done', JSON.stringify(done));
    const lines = done.reply.trim().split('\n');
    assert.equal(lines[0], '10001');
    assert.ok(lines.includes('NoNewPrivs:\t1'), done.reply);
    assert.ok(lines.includes('CapEff:\t0000000000000000'), done.reply);
  });

  it('keeps a process flood (a fork bomb that never lets go) inside its pids limit while napbox and other tenants keep serving', async () => {
    const sent = await api(nb, 'POST', '/api/tenants/bomb/messages', { text: 'go', session: 'boom' });
    assert.equal(sent.status, 202);
    let peak = 0;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && peak < 200) {
      const [c] = await containersOf(nb, 'bomb');
      if (c) {
        const { stdout } = await run('docker', ['stats', '--no-stream', '--format', '{{.PIDs}}', c.id]).catch(() => ({ stdout: '0' }));
        peak = Math.max(peak, Number(stdout.trim()) || 0);
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.ok(peak > 100 && peak <= 256, `the bomb reached ${peak} processes, capped at 256`);
    assert.equal((await request(nb.port, { path: '/healthz', timeoutMs: 5000 })).status, 200);
    const other = await request(nb.port, { host: tenantHost(nb, 'open'), timeoutMs: 30_000 });
    assert.equal(other.status, 200);
    assert.equal((await api(nb, 'POST', '/api/tenants/bomb/stop')).status, 200);
  });

  it("cannot reach another tenant's container from inside a tenant", async () => {
    await request(nb.port, { host: tenantHost(nb, 'open') });
    const [target] = await containersOf(nb, 'open');
    const info = await driver.inspect(target!.id);
    const dial = `require('net').connect({host:'${info!.bridgeIp}',port:8080,timeout:2000}).on('connect',()=>{console.log('REACHED');process.exit(0)}).on('error',e=>{console.log('BLOCKED '+e.code);process.exit(0)}).on('timeout',()=>{console.log('BLOCKED timeout');process.exit(0)})`;
    const [self] = await containersOf(nb, 'probe');
    const { stdout } = await run('docker', ['exec', self!.id, 'node', '-e', dial]);
    assert.match(stdout, /BLOCKED/);
  });

  it('keeps the root filesystem read-only when asked, and the workspace across a stop and a wake', async () => {
    const first = await ask(nb, 'locked', 'one');
    assert.equal(first.state, 'done', JSON.stringify(first));
    assert.deepEqual(first.reply.trim().split('\n'), ['usr-readonly', 'tmp-writable', 'no-mark']);
    assert.equal((await api(nb, 'POST', '/api/tenants/locked/stop')).json.state, 'stopped');
    const second = await ask(nb, 'locked', 'two');
    assert.deepEqual(second.reply.trim().split('\n'), ['usr-readonly', 'tmp-writable', 'kept']);
    const [c] = await containersOf(nb, 'locked');
    const { stdout } = await run('docker', ['inspect', '--format', '{{.HostConfig.Memory}} {{.HostConfig.PidsLimit}} {{.HostConfig.ReadonlyRootfs}}', c!.id]);
    assert.equal(stdout.trim(), `${256 * 1024 * 1024} 128 true`);
  });

  it('refuses a wake storm with 429 and Retry-After', async () => {
    const statuses: number[] = [];
    let retryAfter = '';
    for (let i = 0; i < 5; i += 1) {
      const res = await request(nb.port, { host: tenantHost(nb, 'stormy') });
      statuses.push(res.status);
      if (res.status === 429) retryAfter = String(res.headers['retry-after']);
      await api(nb, 'POST', '/api/tenants/stormy/stop');
    }
    assert.deepEqual(statuses.slice(0, 3), [200, 200, 200]);
    assert.equal(statuses[3], 429);
    assert.ok(Number(retryAfter) >= 1);
  });
});
