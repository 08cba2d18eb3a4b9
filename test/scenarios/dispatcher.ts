// The dispatcher as a user sees it: a message wakes a stopped tenant and gets
// exactly one reply, in the API and on every chat socket of its session; a
// container that dies mid-message gets the message delivered again and still
// one reply; a retryable error is retried, a non-retryable one fails the
// message at once, and a failed message can be retried through the API.

import assert from 'node:assert/strict';
import type WebSocket from 'ws';
import { sleep, until } from '../helpers/wait.js';
import { createTenant, type ScenarioGroup, settled, tenant } from './scenario.js';
import { PROVIDERS, type World } from './world.js';

async function chat(w: World, slug: string, session: string): Promise<{ ws: WebSocket; frames: any[] }> {
  const ws = await w.socket(slug, `/_napbox/chat?session=${session}`);
  const frames: any[] = [];
  ws.on('message', (data) => frames.push(JSON.parse(String(data))));
  return { ws, frames };
}

async function send(w: World, slug: string, text: string, session: string): Promise<string> {
  const res = await w.api('POST', `/api/tenants/${slug}/messages`, { text, session });
  assert.equal(res.status, 202, JSON.stringify(res.json));
  assert.match(res.json.id, /^m_/);
  return res.json.id;
}

export const dispatcherScenarios: ScenarioGroup = {
  name: 'the dispatcher',
  env: () => ({ NAPBOX_HEARTBEAT_INTERVAL: '500ms' }),
  scenarios: [
    {
      name: 'wakes a stopped tenant with a message; its one reply reaches the API and every chat socket of the session',
      async run(w) {
        await createTenant(w, { slug: 'talk' });
        assert.equal(await w.running('talk'), 0);
        const clients = [await chat(w, 'talk', 's1'), await chat(w, 'talk', 's1')];
        const id = await send(w, 'talk', 'hello there', 's1');
        const done = await settled(w, 'talk', id);
        assert.equal(done.state, 'done', JSON.stringify(done));
        assert.equal(done.reply, 'echo: hello there');
        assert.equal(done.tries, 1);
        const woken = await tenant(w, 'talk');
        assert.equal(woken.state, 'running');
        assert.equal(woken.lastStartReason, `message ${id}`);
        assert.equal(await w.running('talk'), 1);
        for (const client of clients) {
          await until(() => client.frames.some((f) => f.type === 'reply' && f.id === id), 5000, 'the reply on the chat socket');
          client.ws.close();
          assert.equal(client.frames.filter((f) => f.type === 'reply').length, 1);
          assert.equal(client.frames.find((f) => f.type === 'reply').text, 'echo: hello there');
        }
        const listed = await w.api('GET', '/api/tenants/talk/messages?session=s1');
        assert.deepEqual(
          listed.json.messages.map((m: any) => [m.text, m.reply]),
          [['hello there', 'echo: hello there']],
        );
      },
    },
    {
      name: 'delivers a message again when its container dies while processing it, and stores one reply',
      async run(w) {
        await createTenant(w, { slug: 'crashy', provider: PROVIDERS.slow(w.timing) });
        const client = await chat(w, 'crashy', 'k');
        const id = await send(w, 'crashy', 'survive', 'k');
        await until(async () => (await w.api('GET', `/api/tenants/crashy/messages/${id}`)).json.state === 'processing', w.timing.replyMs, 'processing');
        await w.crash('crashy');
        const done = await settled(w, 'crashy', id);
        assert.equal(done.state, 'done', JSON.stringify(done));
        assert.equal(done.reply, 'slow reply to survive\n');
        assert.ok(done.tries >= 2, `delivered again after the crash: tries ${done.tries}`);
        await sleep(200); // a second reply event would come now
        assert.equal(client.frames.filter((f) => f.type === 'reply' && f.id === id).length, 1, 'one reply event');
        client.ws.close();
      },
    },
    {
      name: 'retries a message after a retryable error, and delivers it again with the next attempt',
      async run(w) {
        await createTenant(w, { slug: 'flaky', provider: PROVIDERS.flaky() });
        const id = await send(w, 'flaky', 'again please', 'f');
        const done = await settled(w, 'flaky', id);
        assert.equal(done.state, 'done', JSON.stringify(done));
        assert.equal(done.reply, 'second try again please\n');
        assert.equal(done.tries, 2);
      },
    },
    {
      name: 'fails a message at once on an error that a retry cannot help; a retry through the API then delivers it once',
      async run(w) {
        await createTenant(w, { slug: 'broken', provider: PROVIDERS.missing() });
        const id = await send(w, 'broken', 'again', 's');
        const failed = await settled(w, 'broken', id);
        assert.equal(failed.state, 'failed', JSON.stringify(failed));
        assert.equal(failed.tries, 1, 'not retried');
        assert.equal((await w.api('POST', '/api/tenants/broken/messages/m_nope/retry')).status, 404);
        assert.equal((await w.api('PATCH', '/api/tenants/broken', { provider: { kind: 'echo' } })).status, 200);
        assert.equal((await w.api('POST', '/api/tenants/broken/stop')).status, 200);
        const retried = await w.api('POST', `/api/tenants/broken/messages/${id}/retry`);
        assert.equal(retried.status, 202, JSON.stringify(retried.json));
        assert.equal((await w.api('POST', `/api/tenants/broken/messages/${id}/retry`)).status, 409, 'only a failed message can be retried');
        const done = await settled(w, 'broken', id);
        assert.equal(done.state, 'done', JSON.stringify(done));
        assert.equal(done.reply, 'echo: again');
        const listed = (await w.api('GET', '/api/tenants/broken/messages?session=s')).json.messages;
        assert.equal(listed.filter((m: { id: string }) => m.id === id).length, 1, 'one message, not a copy');
      },
    },
  ],
};
