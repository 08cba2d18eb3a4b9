// NAPBOX_PUBLIC_URL on a running napbox (fake engine: no container is needed
// to see links and cookies): every link it serves names the public address,
// and behind https its cookies are Secure; without it, links and cookies are
// as they always were.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { removeInstall, startNapbox } from '../helpers/napbox-process.js';
import { startWorld, type World } from '../scenarios/world.js';

async function linksAndCookies(world: World, host: (slug: string) => string) {
  assert.equal((await world.api('POST', '/api/tenants', { slug: 'acme' })).status, 201);
  const view = (await world.api('GET', '/api/tenants/acme')).json;
  const list = (await world.api('GET', '/api/tenants')).json;
  const open = (await world.api('POST', '/api/tenants/acme/open')).json as { url: string };
  const signin = new URL(open.url);
  const tenantSession = await world.request({ host: host('acme'), path: `${signin.pathname}${signin.search}` });
  return { view, list, open, tenantSession };
}

describe('NAPBOX_PUBLIC_URL', () => {
  it('names the public address in tenant views, sign-in links and their redirects, with Secure cookies behind https, named __Host-', async () => {
    const world = await startWorld('fake', { NAPBOX_PUBLIC_URL: 'https://napbox.example.com' });
    try {
      const { view, list, open, tenantSession } = await linksAndCookies(world, (slug) => `${slug}.napbox.example.com`);
      assert.equal(view.url, 'https://acme.napbox.example.com/');
      assert.equal(JSON.stringify(list).includes(`:${world.port}`), false, 'no listen port in any view');
      assert.match(open.url, /^https:\/\/acme\.napbox\.example\.com\/_napbox\/signin\?token=/);
      assert.equal(tenantSession.status, 303);
      assert.match(String(tenantSession.headers['set-cookie']), /^__Host-napbox_session=[^;]+; Path=\/;.*; Secure/);
      // A sign-in link opened under /t/ is sent on to the tenant's public host.
      const underPath = await world.request({ host: 'napbox.example.com', path: `/t/acme${new URL(open.url).pathname}${new URL(open.url).search}` });
      assert.equal(underPath.status, 303);
      assert.match(String(underPath.headers.location), /^https:\/\/acme\.napbox\.example\.com\/_napbox\/signin\?token=/);
      const session = await world.request({
        host: 'napbox.example.com',
        method: 'POST',
        path: '/api/session',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ token: await world.token() }),
      });
      assert.equal(session.status, 200);
      assert.match(String(session.headers['set-cookie']), /^__Host-napbox_admin=[^;]+; Path=\/;.*; Secure/);
    } finally {
      await world.close();
    }
  });

  it('without it: links on the port napbox listens on, cookies without Secure (plain http)', async () => {
    const world = await startWorld('fake');
    try {
      const { view, open, tenantSession } = await linksAndCookies(world, (slug) => world.tenantHost(slug));
      assert.equal(view.url, `http://acme.localhost:${world.port}/`);
      assert.match(open.url, new RegExp(`^http://acme\\.localhost:${world.port}/_napbox/signin\\?token=`));
      assert.equal(tenantSession.status, 303);
      assert.doesNotMatch(String(tenantSession.headers['set-cookie']), /Secure/);
    } finally {
      await world.close();
    }
  });

  it("prints public links in napbox's start-up banner, and where it listens", async () => {
    const nb = await startNapbox({ env: { NAPBOX_PUBLIC_URL: 'https://napbox.example.com' } });
    try {
      const deadline = Date.now() + 10_000;
      while (!nb.output().includes('admin CLI') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const banner = nb.output();
      assert.match(banner, new RegExp(`napbox is running on ${nb.url}, public at https://napbox\\.example\\.com\n`));
      assert.match(banner, /created the tenant "demo": open https:\/\/demo\.napbox\.example\.com\/\n/);
      assert.match(banner, /without wildcard DNS: +https:\/\/napbox\.example\.com\/t\/demo\/\n/);
      assert.match(banner, /dashboard: +https:\/\/napbox\.example\.com\/ /);
      assert.equal(banner.includes(`:${nb.port}/`), false, banner);
    } finally {
      await nb.stop();
      await removeInstall(nb.installId);
    }
  });
});
