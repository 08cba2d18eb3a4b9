// An admin installs packages into a tenant's own image through the admin API,
// and the tenant runs on it: checked by running the tools inside the tenant's
// container through its `command` provider.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { api, removeInstall, startNapbox, type NapboxProcess } from '../helpers/napbox-process.js';
import { eventually } from '../helpers/wait.js';

const driver = new DockerDriver();
// Prints jq's version (or that it is missing) and where is-number resolves from.
const PROBE = [
  'sh',
  '-c',
  'cat >/dev/null; (jq --version 2>/dev/null || echo "no jq"); node -p "require.resolve(\'is-number\')" 2>/dev/null || echo "no is-number"',
];

async function ask(nb: NapboxProcess, slug: string, text: string): Promise<string> {
  const sent = await api(nb, 'POST', `/api/tenants/${slug}/messages`, { text, session: 'probe' });
  assert.equal(sent.status, 202, JSON.stringify(sent.json));
  const done = await api(nb, 'GET', `/api/tenants/${slug}/messages/${sent.json.id}?wait=60s`);
  assert.equal(done.json.state, 'done', JSON.stringify(done.json));
  return done.json.reply as string;
}

async function settled(nb: NapboxProcess, id: string, sawLogWhileRunning?: { value: boolean }): Promise<any> {
  const read = async (): Promise<any> => {
    const { json } = await api(nb, 'GET', `/api/builds/${id}`);
    if (json.state === 'building' && json.log.length > 0 && sawLogWhileRunning) sawLogWhileRunning.value = true;
    return json;
  };
  return eventually(read, (json) => json.state === 'ready' || json.state === 'failed', 180_000, `build ${id} to end`, 200);
}

describe('packages through the admin API', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox();
    for (const slug of ['tools', 'plain']) {
      assert.equal((await api(nb, 'POST', '/api/tenants', { slug, provider: { kind: 'command', command: PROBE } })).status, 201);
    }
  });
  after(async () => {
    await nb?.stop();
    if (nb) {
      await removeInstall(nb.installId);
      for (const image of await driver.findImagesByLabels({ 'napbox.install': nb.installId })) await driver.removeImage(image.id).catch(() => undefined);
    }
  });

  it('refuses a bad list whole, storing nothing and building nothing', async () => {
    for (const body of [
      { apt: ['jq; rm -rf /'], npm: [] },
      { apt: [], npm: ['../x'] },
      { apt: [''], npm: [] },
      { apt: 'jq' },
      { apt: [], npm: [], extra: 1 },
    ]) {
      const res = await api(nb, 'PUT', '/api/tenants/tools/packages', body);
      assert.equal(res.status, 400, `${JSON.stringify(body)} -> ${res.status}`);
    }
    const stored = await api(nb, 'GET', '/api/tenants/tools/packages');
    assert.deepEqual([stored.json.apt, stored.json.npm, stored.json.build], [[], [], null]);
  });

  it("installs jq and is-number into the tenant's next container only, with the log readable during and after", async () => {
    const base = (await api(nb, 'GET', '/api/tenants/tools')).json.image;
    assert.match(await ask(nb, 'tools', 'before'), /no jq/);
    const put = await api(nb, 'PUT', '/api/tenants/tools/packages?apply=now', { apt: ['jq'], npm: ['is-number'] });
    assert.equal(put.status, 202, JSON.stringify(put.json));
    const during = { value: false };
    const build = await settled(nb, put.json.id, during);
    assert.equal(build.state, 'ready', build.log);
    assert.ok(during.value, 'the log could be read while the build ran');
    assert.match(build.log, /jq/);
    const tenant = (await api(nb, 'GET', '/api/tenants/tools')).json;
    assert.notEqual(tenant.image, base);
    assert.match(tenant.image, /^napbox-tenant:/);

    const reply = await ask(nb, 'tools', 'after');
    assert.match(reply, /^jq-1\.\d/m);
    assert.match(reply, /\/usr\/local\/lib\/node_modules\/is-number\//);
    const [c] = await driver.findByLabels({ 'napbox.install': nb.installId, 'napbox.tenant': 'tools' });
    assert.equal((await driver.inspect(c!.id))?.image, tenant.image, 'apply=now restarted it on the new image');

    const other = await ask(nb, 'plain', 'other');
    assert.match(other, /no jq/);
    assert.doesNotMatch(other, /\/usr\/local\/lib\/node_modules\/is-number/);
  });

  it('starts no build for the same lists again', async () => {
    const t0 = Date.now();
    const again = await api(nb, 'PUT', '/api/tenants/tools/packages', { apt: ['jq'], npm: ['is-number'] });
    assert.equal(again.status, 200);
    assert.equal(again.json.state, 'ready');
    assert.equal(again.json.cached, true);
    assert.ok(Date.now() - t0 < 1000);
  });

  it('fails the build of a package that does not exist, and the tenant keeps its image and serves', async () => {
    const before1 = (await api(nb, 'GET', '/api/tenants/tools')).json.image;
    const put = await api(nb, 'PUT', '/api/tenants/tools/packages', { apt: ['jq', 'napbox-no-such-package-xyz'], npm: [] });
    const build = await settled(nb, put.json.id);
    assert.equal(build.state, 'failed');
    assert.match(build.log + build.error, /napbox-no-such-package-xyz/);
    const tenant = (await api(nb, 'GET', '/api/tenants/tools')).json;
    assert.equal(tenant.image, before1);
    assert.equal(tenant.build.state, 'failed');
    assert.match(await ask(nb, 'tools', 'still'), /^jq-1\.\d/m);
  });

  it('builds only the newest of two lists sent in a row', async () => {
    const first = await api(nb, 'PUT', '/api/tenants/plain/packages', { apt: ['jq'], npm: [] });
    const second = await api(nb, 'PUT', '/api/tenants/plain/packages', { apt: [], npm: ['is-number'] });
    const a = await settled(nb, first.json.id);
    const b = await settled(nb, second.json.id);
    assert.equal(a.state, 'failed', 'the first was superseded');
    assert.match(a.error ?? '', /supersed/i);
    assert.equal(b.state, 'ready');
    const stored = await api(nb, 'GET', '/api/tenants/plain/packages');
    assert.deepEqual([stored.json.apt, stored.json.npm], [[], ['is-number']]);
  });
});
