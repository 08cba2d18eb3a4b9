// A message's tries count only deliveries that reached a runner, or a
// container really started for it that died; an open breaker makes it wait,
// never fail. A message that did fail can be retried. Issue 14, item 1.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { api, removeInstall, startNapbox, type NapboxProcess } from '../helpers/napbox-process.js';

const run = promisify(execFile);

describe('message tries', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox();
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('a message whose container is killed at each start, twice, waits out the breaker and gets its one reply', async () => {
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'killed' })).status, 201);
    // Kill the tenant's container right after each of its first two starts, as an engine in trouble would.
    const events = spawn('docker', [
      'events',
      '--filter',
      'type=container',
      '--filter',
      'event=start',
      '--filter',
      `label=napbox.install=${nb.installId}`,
      '--filter',
      'label=napbox.tenant=killed',
      '--format',
      '{{.ID}}',
    ]);
    let kills = 0;
    events.stdout.on('data', (chunk: Buffer) => {
      for (const id of chunk.toString().split('\n').filter(Boolean)) {
        if (kills >= 2) continue;
        kills += 1;
        void run('docker', ['kill', id]).catch(() => undefined);
      }
    });
    try {
      await new Promise((r) => setTimeout(r, 500)); // the event stream is open
      const sent = await api(nb, 'POST', '/api/tenants/killed/messages', { text: 'still here?', session: 's' });
      assert.equal(sent.status, 202);
      let message: any;
      const deadline = Date.now() + 80_000;
      while (Date.now() < deadline) {
        message = (await api(nb, 'GET', `/api/tenants/killed/messages/${sent.json.id}?wait=10s`)).json;
        if (message.state === 'done' || message.state === 'failed') break;
      }
      assert.equal(kills, 2, 'both starts were killed');
      assert.equal(message.state, 'done', JSON.stringify(message));
      assert.equal(message.reply, 'echo: still here?');
      assert.ok(message.tries <= 3, `tries counted only what reached a container: ${message.tries}`);
    } finally {
      events.kill();
    }
  });

  it('a failed message can be retried through the API, and is then delivered once', async () => {
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'broken', provider: { kind: 'command', command: ['/no/such/program'] } })).status, 201);
    const sent = await api(nb, 'POST', '/api/tenants/broken/messages', { text: 'again', session: 's' });
    const failed = (await api(nb, 'GET', `/api/tenants/broken/messages/${sent.json.id}?wait=60s`)).json;
    assert.equal(failed.state, 'failed', JSON.stringify(failed));
    const early = await api(nb, 'POST', `/api/tenants/broken/messages/m_nope/retry`);
    assert.equal(early.status, 404);
    assert.equal((await api(nb, 'PATCH', '/api/tenants/broken', { provider: { kind: 'echo' } })).status, 200);
    assert.equal((await api(nb, 'POST', '/api/tenants/broken/stop')).status, 200);
    const retried = await api(nb, 'POST', `/api/tenants/broken/messages/${sent.json.id}/retry`);
    assert.equal(retried.status, 202, JSON.stringify(retried.json));
    assert.equal((await api(nb, 'POST', `/api/tenants/broken/messages/${sent.json.id}/retry`)).status, 409, 'only a failed message can be retried');
    const done = (await api(nb, 'GET', `/api/tenants/broken/messages/${sent.json.id}?wait=60s`)).json;
    assert.equal(done.state, 'done', JSON.stringify(done));
    assert.equal(done.reply, 'echo: again');
    const listed = (await api(nb, 'GET', '/api/tenants/broken/messages?session=s')).json.messages;
    assert.equal(listed.filter((m: { role?: string; id: string }) => m.id === sent.json.id).length, 1, 'one message, not a copy');
  });
});
