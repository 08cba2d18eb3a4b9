// The tenant proxy as a visitor sees it: a cold request of any method, and a
// WebSocket upgrade, are held while the tenant wakes and then forwarded
// intact; a private tenant answers 401 until signed in, and wakes for nobody
// else; a wake that fails is a 503 with Retry-After and a short reason, the
// exit code going to the operator.

import assert from 'node:assert/strict';
import { createTenant, type ScenarioGroup, tenant } from './scenario.js';

export const proxyScenarios: ScenarioGroup = {
  name: 'the tenant proxy',
  scenarios: [
    {
      name: "holds a cold POST and forwards its body intact, and serves the tenant's page at its host and under /t/",
      async run(w) {
        await createTenant(w, { slug: 'body' });
        const body = 'x'.repeat(100_000);
        const res = await w.request({ host: w.tenantHost('body'), method: 'POST', path: '/echo-body', body, headers: { 'content-type': 'text/plain' } });
        assert.equal(res.status, 200);
        assert.equal(res.body, body);
        assert.match((await w.request({ host: w.tenantHost('body') })).body, /Tenant <span id="tenant">body<\/span>/);
        const underPath = await w.request({ path: '/t/body/' });
        assert.equal(underPath.status, 200);
        assert.match(underPath.body, /Tenant <span id="tenant">body<\/span>/);
        assert.match(String(underPath.headers['content-security-policy']), /^sandbox /);
      },
    },
    {
      name: 'holds a WebSocket upgrade to a cold tenant, then echoes through it',
      async run(w) {
        await createTenant(w, { slug: 'sockets' });
        const ws = await w.socket('sockets', '/echo');
        const reply = await new Promise<string>((resolve, reject) => {
          ws.once('message', (data) => resolve(String(data)));
          ws.once('error', reject);
          ws.send('hello through napbox');
        });
        ws.close();
        assert.equal(reply, 'hello through napbox');
      },
    },
    {
      name: 'answers 401 for a private tenant without a session and wakes nothing; its sign-in link lets the visitor in',
      async run(w) {
        await createTenant(w, { slug: 'secret', visibility: 'private' });
        for (const options of [{ host: w.tenantHost('secret') }, { path: '/t/secret/' }]) {
          const refused = await w.request(options);
          assert.equal(refused.status, 401, JSON.stringify(options));
        }
        assert.equal(await w.running('secret'), 0, 'nothing woke');
        assert.equal((await tenant(w, 'secret')).state, 'stopped');
        const link = new URL((await w.api('POST', '/api/tenants/secret/open')).json.url);
        const signIn = await w.request({ host: w.tenantHost('secret'), path: `${link.pathname}${link.search}` });
        assert.equal(signIn.status, 303);
        const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
        const page = await w.request({ host: w.tenantHost('secret'), headers: { cookie } });
        assert.equal(page.status, 200);
        assert.match(page.body, /Tenant <span id="tenant">secret<\/span>/);
        assert.equal((await w.request({ host: w.tenantHost('secret'), headers: { cookie: `${cookie}x` } })).status, 401, 'a forged session');
      },
    },
    {
      name: 'answers a failed wake 503 with Retry-After, a short reason and a request id; the operator gets the exit code',
      async run(w) {
        await createTenant(w, { slug: 'broken', app: { command: ['sh', '-c', 'exit 3'] } });
        const res = await w.request({ host: w.tenantHost('broken') });
        assert.equal(res.status, 503, res.body);
        assert.ok(Number(res.headers['retry-after']) >= 1, `Retry-After: ${res.headers['retry-after']}`);
        const body = JSON.parse(res.body);
        assert.deepEqual(Object.keys(body).sort(), ['error', 'message', 'requestId']);
        assert.equal(body.error, 'wake_failed');
        assert.ok(body.message.includes(body.requestId), body.message);
        assert.doesNotMatch(res.body, /exit code/);
        const state = await tenant(w, 'broken');
        assert.equal(state.state, 'failed');
        assert.match(state.reason, /exit code 3/);
        const again = await w.request({ host: w.tenantHost('broken') });
        assert.equal(again.status, 503, 'the breaker answers at once, without a new start');
        assert.ok(Number(again.headers['retry-after']) >= 1);
        assert.equal(await w.running('broken'), 0);
      },
    },
  ],
};
