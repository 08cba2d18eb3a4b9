// Chat messages through the real engine: a message wakes its tenant, every
// accepted message gets exactly one reply, in order per session, across
// container and napbox crashes.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { api, removeInstall, startNapbox, tempDataDir, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { sleep, until } from '../helpers/wait.js';

const run = promisify(execFile);
const driver = new DockerDriver();

async function waitDone(nb: NapboxProcess, slug: string, id: string, ms = 60_000): Promise<any> {
  const deadline = Date.now() + ms;
  for (;;) {
    const res = await api(nb, 'GET', `/api/tenants/${slug}/messages/${id}?wait=20s`);
    assert.equal(res.status, 200, JSON.stringify(res.json));
    if (res.json.state === 'done' || res.json.state === 'failed' || Date.now() > deadline) return res.json;
  }
}

function chatClient(nb: NapboxProcess, slug: string, session: string): Promise<{ ws: WebSocket; frames: any[] }> {
  const ws = new WebSocket(`ws://127.0.0.1:${nb.port}/_napbox/chat?session=${session}`, { headers: { host: tenantHost(nb, slug) } });
  const frames: any[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data))));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, frames }));
    ws.once('error', reject);
    ws.once('unexpected-response', (_req, res) => reject(new Error(`chat upgrade answered ${res.statusCode}`)));
  });
}

describe('chat messages', () => {
  let nb: NapboxProcess;
  const ordered = ['sh', '-c', 'read -r line; echo "$line" >> seen; tr "\\n" "," < seen'];
  before(async () => {
    nb = await startNapbox({ env: { NAPBOX_HEARTBEAT_INTERVAL: '500ms' } });
    const tenants: Array<[string, unknown]> = [
      ['talk', undefined],
      ['order', { kind: 'command', command: ordered }],
      ['shell', { kind: 'command', command: ['sh', '-c', 'cat; echo; id -u; pwd'] }],
      ['crashy', { kind: 'command', command: ['sh', '-c', 'read -r line; sleep 3; echo "slow reply to $line"'] }],
    ];
    for (const [slug, provider] of tenants) {
      const res = await api(nb, 'POST', '/api/tenants', { slug, ...(provider ? { provider } : {}) });
      assert.equal(res.status, 201, JSON.stringify(res.json));
    }
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('wakes a stopped tenant; the reply reaches the API and every chat client of the session', async () => {
    assert.equal((await driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': 'talk' })).length, 0);
    const a = await chatClient(nb, 'talk', 's1');
    const b = await chatClient(nb, 'talk', 's1');
    const res = await api(nb, 'POST', '/api/tenants/talk/messages', { text: 'hello there', session: 's1' });
    assert.equal(res.status, 202);
    assert.match(res.json.id, /^m_/);
    const done = await waitDone(nb, 'talk', res.json.id);
    assert.equal(done.state, 'done');
    assert.equal(done.reply, 'echo: hello there');
    for (const client of [a, b]) {
      await until(() => client.frames.some((f) => f.type === 'reply' && f.id === res.json.id), 5000, 'the reply on the chat socket');
      assert.equal(client.frames.find((f) => f.type === 'reply').text, 'echo: hello there');
      client.ws.close();
    }
    const listed = await api(nb, 'GET', '/api/tenants/talk/messages?session=s1');
    assert.deepEqual(
      listed.json.messages.map((m: any) => [m.text, m.reply]),
      [['hello there', 'echo: hello there']],
    );
  });

  it('sends through the chat socket too, and a retried client id is stored once', async () => {
    const c = await chatClient(nb, 'talk', 's2');
    c.ws.send(JSON.stringify({ type: 'send', text: 'via socket', id: 'client-1' }));
    c.ws.send(JSON.stringify({ type: 'send', text: 'via socket', id: 'client-1' }));
    await until(() => c.frames.some((f) => f.type === 'reply'), 30_000, 'a reply');
    assert.equal(c.frames.find((f) => f.type === 'reply').text, 'echo: via socket');
    c.ws.close();
    const again = await api(nb, 'POST', '/api/tenants/talk/messages', { text: 'via socket', session: 's2', id: 'client-1' });
    assert.equal(again.status, 202);
    assert.equal(again.json.duplicate, true);
    assert.equal((await api(nb, 'GET', '/api/tenants/talk/messages?session=s2')).json.messages.length, 1);
  });

  it('answers 100 messages over 10 sessions sent at once, each session in order, one at a time', async () => {
    const sent = await Promise.all(
      Array.from({ length: 100 }, (_, i) => api(nb, 'POST', '/api/tenants/order/messages', { text: `t${Math.floor(i / 10)}`, session: `s${i % 10}` })),
    );
    assert.ok(sent.every((r) => r.status === 202));
    await until(
      async () => {
        const lists = await Promise.all(Array.from({ length: 10 }, (_, s) => api(nb, 'GET', `/api/tenants/order/messages?session=s${s}`)));
        return lists.every((l) => l.json.messages.every((m: any) => m.state === 'done'));
      },
      120_000,
      'every message answered',
    );
    for (let s = 0; s < 10; s += 1) {
      const { json } = await api(nb, 'GET', `/api/tenants/order/messages?session=s${s}`);
      assert.equal(json.messages.length, 10);
      // Each reply lists every text the session's command saw so far: in order and none twice.
      json.messages.forEach((m: any, k: number) => {
        const expected =
          json.messages
            .slice(0, k + 1)
            .map((x: any) => x.text)
            .join(',') + ',';
        assert.equal(m.reply, expected, `session s${s} message ${k}`);
      });
    }
  });

  it('answers with the output of a real command run in the container, in the session folder', async () => {
    const res = await api(nb, 'POST', '/api/tenants/shell/messages', { text: 'input text', session: 'work' });
    const done = await waitDone(nb, 'shell', res.json.id);
    assert.equal(done.state, 'done', done.reason);
    assert.deepEqual(done.reply.trim().split('\n'), ['input text', '10001', '/workspace/sessions/work']);
  });

  it('still gives exactly one reply when the container is killed while processing', async () => {
    const chat = await chatClient(nb, 'crashy', 'k');
    const res = await api(nb, 'POST', '/api/tenants/crashy/messages', { text: 'survive', session: 'k' });
    await until(async () => (await api(nb, 'GET', `/api/tenants/crashy/messages/${res.json.id}`)).json.state === 'processing', 60_000, 'processing');
    const [container] = await driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': 'crashy' });
    assert.ok(container);
    await run('docker', ['kill', container.id]);
    const done = await waitDone(nb, 'crashy', res.json.id, 90_000);
    assert.equal(done.state, 'done', done.reason);
    assert.equal(done.reply, 'slow reply to survive\n', 'the reply is all of stdout');
    // Delivered again after the kill (a failed channel attempt while the container restarts also counts a try).
    assert.ok(done.tries >= 2, `tries: ${done.tries}`);
    await sleep(500);
    assert.equal(chat.frames.filter((f) => f.type === 'reply' && f.id === res.json.id).length, 1, 'one reply event');
    chat.ws.close();
  });

  it('refuses bad input with a clear 4xx and stores nothing', async () => {
    const cases: Array<[string, unknown, number]> = [
      ['/api/tenants/talk/messages', { text: '', session: 'bad1' }, 400],
      ['/api/tenants/talk/messages', { text: '   ', session: 'bad1' }, 400],
      ['/api/tenants/talk/messages', { text: 'x'.repeat(64 * 1024 + 1), session: 'bad1' }, 400],
      ['/api/tenants/talk/messages', { text: 'hi', session: '../etc' }, 400],
      ['/api/tenants/talk/messages', { text: 'hi', session: 'bad1', id: 'a b' }, 400],
      ['/api/tenants/talk/messages', { text: 'hi', session: 'bad1', extra: true }, 400],
      ['/api/tenants/talk/messages', 'not json', 400],
      ['/api/tenants/nosuch/messages', { text: 'hi', session: 'bad1' }, 404],
    ];
    for (const [path, body, status] of cases) {
      const res = await api(nb, 'POST', path, body);
      assert.equal(res.status, status, `${JSON.stringify(body).slice(0, 60)} -> ${res.status} ${JSON.stringify(res.json).slice(0, 200)}`);
      assert.equal(typeof res.json.message, 'string');
    }
    assert.equal((await api(nb, 'GET', '/api/tenants/talk/messages?session=bad1')).json.messages.length, 0);
    await assert.rejects(chatClient(nb, 'talk', 'no/good'), /400/);
    await assert.rejects(chatClient(nb, 'nosuch', 'ok'), /404/);
  });
});

describe('napbox killed right after accepting a message', () => {
  it('answers the message after it is started again', async () => {
    const dataDir = tempDataDir();
    let nb = await startNapbox({ dataDir });
    const installId = nb.installId;
    try {
      assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'durable' })).status, 201);
      const res = await api(nb, 'POST', '/api/tenants/durable/messages', { text: 'do not lose me', session: 'x' });
      assert.equal(res.status, 202);
      await nb.kill();
      nb = await startNapbox({ dataDir });
      const done = await waitDone(nb, 'durable', res.json.id);
      assert.equal(done.state, 'done');
      assert.equal(done.reply, 'echo: do not lose me');
    } finally {
      await nb.stop();
      await removeInstall(installId);
    }
  });
});
