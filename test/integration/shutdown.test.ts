// SIGTERM stops napbox cleanly (issue 14, item 2): with an idle keep-alive
// client, an open WebSocket, a request held for a slow wake and a message
// being processed, napbox answers the held request 503 with Retry-After,
// hands the message back, closes every connection and exits 0 within a
// couple of seconds; the next start delivers the message once.

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { api, openTenantSocket, removeInstall, request, startNapbox, tempDataDir, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { sleep, until } from '../helpers/wait.js';

describe('shutdown on SIGTERM', () => {
  let nb: NapboxProcess;
  let dataDir: string;
  before(async () => {
    dataDir = tempDataDir();
    nb = await startNapbox({ dataDir });
    const slow = {
      slug: 'slowboot',
      app: { command: ['sh', '-c', "sleep 40; exec node -e \"require('http').createServer((q,s)=>s.end('up')).listen(8080)\""] },
    };
    assert.equal((await api(nb, 'POST', '/api/tenants', slow)).status, 201);
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'calm' })).status, 201);
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'busy', provider: { kind: 'command', command: ['sh', '-c', 'sleep 6; cat'] } })).status, 201);
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('answers what is held, hands back what is delivered, closes every connection and exits 0 at once', async () => {
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'calm') })).status, 200);
    const agent = new http.Agent({ keepAlive: true });
    const kept = await new Promise<http.IncomingMessage>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: nb.port, path: '/healthz', agent }, resolve).on('error', reject);
    });
    kept.resume();
    const keptClosed = new Promise<void>((resolve) => kept.socket.once('close', () => resolve()));
    const ws = await openTenantSocket(nb, 'calm', '/_napbox/chat?session=w');
    const wsClosed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    const held = request(nb.port, { host: tenantHost(nb, 'slowboot'), timeoutMs: 30_000 });
    const sent = await api(nb, 'POST', '/api/tenants/busy/messages', { text: 'survive', session: 'x' });
    await until(async () => (await api(nb, 'GET', `/api/tenants/busy/messages/${sent.json.id}`)).json.state === 'processing', 10_000, 'processing', 100);
    await sleep(300); // the held request is waiting for its wake

    const t0 = Date.now();
    await nb.stop();
    const took = Date.now() - t0;
    assert.equal(nb.proc.exitCode, 0, nb.output().slice(-2000));
    assert.ok(took < 3000, `exited in ${took} ms`);
    const answer = await held;
    assert.equal(answer.status, 503);
    assert.ok(answer.headers['retry-after'], 'with Retry-After');
    await keptClosed;
    await wsClosed;
    agent.destroy();

    nb = await startNapbox({ dataDir });
    const done = (await api(nb, 'GET', `/api/tenants/busy/messages/${sent.json.id}?wait=60s`)).json;
    assert.equal(done.state, 'done', JSON.stringify(done));
    assert.equal(done.reply, 'survive');
    const listed = (await api(nb, 'GET', '/api/tenants/busy/messages?session=x')).json.messages;
    assert.equal(listed.length, 1);
  });

  it('a second signal exits at once', async () => {
    const proc = nb.proc;
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const t0 = Date.now();
    proc.kill('SIGTERM');
    proc.kill('SIGTERM');
    const code = await exited;
    assert.ok(Date.now() - t0 < 2000);
    assert.ok(code === 0 || code === 1, `exit code ${code}`);
    nb = await startNapbox({ dataDir });
  });
});
