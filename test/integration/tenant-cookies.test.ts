// Cookies a tenant's page can plant, through a running napbox (fake engine:
// what matters is napbox's answer, whatever runs the app): an app's answer
// under /t/<slug>/ sets none of napbox's cookies and no Domain cookie, and a
// same-named cookie planted for the parent domain (as a tenant's
// document.cookie can), sent before the real one, neither breaks the
// dashboard's API or a private tenant's session nor keeps sign-out from
// revoking the real session.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startWorld, type World } from '../scenarios/world.js';

/** A well-formed JWT napbox did not sign, as a tenant's page would plant it. */
const PLANTED = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkYXNoYm9hcmQifQ.c2lnbmF0dXJl';

describe('cookies a tenant can plant', () => {
  let world: World;
  before(async () => {
    world = await startWorld('fake');
    assert.equal((await world.api('POST', '/api/tenants', { slug: 'app' })).status, 201);
    assert.equal((await world.api('POST', '/api/tenants', { slug: 'priv', visibility: 'private' })).status, 201);
  });
  after(async () => {
    await world?.close();
  });

  it("keeps an app under /t/<slug>/ from setting napbox's cookies or Domain cookies, and scopes its own under the prefix", async () => {
    const set = ['napbox_admin=x; Path=/api', '__Host-napbox_admin=x; Path=/; Secure', 'wide=1; Domain=127.0.0.1; Path=/', 'own=1; Path=/x', 'bare=1'];
    const query = set.map((c) => `c=${encodeURIComponent(c)}`).join('&');
    const res = await world.request({ path: `/t/app/set-cookie?${query}` });
    assert.equal(res.status, 200, res.body);
    assert.deepEqual(res.headers['set-cookie'], ['own=1; Path=/t/app/x', 'bare=1; Path=/t/app/']);
  });

  it('takes the real dashboard session after a planted one, and signing out revokes the real one', async () => {
    const signIn = await world.request({
      method: 'POST',
      path: '/api/session',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token: await world.token() }),
    });
    const real = String(signIn.headers['set-cookie']?.[0]).split(';')[0]!;
    assert.match(real, /^napbox_admin=/);
    const shadowed = `napbox_admin=${PLANTED}; ${real}`;
    assert.equal((await world.request({ path: '/api/tenants', headers: { cookie: shadowed } })).status, 200);
    const out = await world.request({ method: 'DELETE', path: '/api/session', headers: { cookie: shadowed, origin: `http://127.0.0.1:${world.port}` } });
    assert.equal(out.status, 200, out.body);
    assert.equal((await world.request({ path: '/api/tenants', headers: { cookie: real } })).status, 401, 'the real session was revoked');
  });

  it("admits a private tenant's real session after a planted one", async () => {
    const open = (await world.api('POST', '/api/tenants/priv/open')).json as { url: string };
    const link = new URL(open.url);
    const signIn = await world.request({ host: world.tenantHost('priv'), path: `${link.pathname}${link.search}` });
    assert.equal(signIn.status, 303);
    const real = String(signIn.headers['set-cookie']?.[0]).split(';')[0]!;
    const page = await world.request({ host: world.tenantHost('priv'), path: '/', headers: { cookie: `napbox_session=${PLANTED}; ${real}` } });
    assert.equal(page.status, 200, page.body);
  });
});
