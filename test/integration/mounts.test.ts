// What a tenant's container sees: its own folders writable, napbox's and the
// shared ones read-only, nothing of other tenants; extra mounts only through
// the allowlist; and tenants made by dropping a folder into groups/.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, removeInstall, request, startNapbox, tempDataDir, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { until } from '../helpers/wait.js';

// Reports which of its paths it can write, what it can see, and what a previous run left.
const PROBE = [
  'sh',
  '-c',
  [
    'cat >/dev/null',
    'for p in /workspace /group /group/.napbox /global /extra/shared; do (touch $p/w 2>/dev/null && echo "$p rw") || echo "$p ro"; done',
    'cat /group/.napbox/instructions.md',
    'ls /group',
    'cat /group/kept 2>/dev/null || echo no-kept; echo kept > /group/kept',
  ].join('; '),
];

async function ask(nb: NapboxProcess, slug: string): Promise<string[]> {
  const sent = await api(nb, 'POST', `/api/tenants/${slug}/messages`, { text: 'x', session: 'm' });
  assert.equal(sent.status, 202, JSON.stringify(sent.json));
  const done = await api(nb, 'GET', `/api/tenants/${slug}/messages/${sent.json.id}?wait=60s`);
  assert.equal(done.json.state, 'done', JSON.stringify(done.json));
  return done.json.reply.trim().split('\n');
}

describe('mounts and groups/', () => {
  let nb: NapboxProcess;
  let dataDir: string;
  let groups: string;
  let shared: string;
  let secrets: string;
  before(async () => {
    dataDir = tempDataDir();
    groups = `${dataDir}-groups`;
    const hostRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-host-'));
    shared = path.join(hostRoot, 'shared');
    secrets = path.join(hostRoot, '.ssh');
    fs.mkdirSync(shared);
    fs.mkdirSync(secrets);
    fs.writeFileSync(path.join(shared, 'readme.txt'), 'shared data\n');
    fs.symlinkSync(secrets, path.join(shared, 'keys'));
    fs.writeFileSync(`${dataDir}-allowlist.json`, JSON.stringify({ roots: [{ path: hostRoot, allowWrite: false }] }));
    fs.mkdirSync(path.join(groups, 'global'), { recursive: true });
    fs.writeFileSync(path.join(groups, 'global', 'instructions.md'), 'Be kind.\n');
    nb = await startNapbox({ dataDir });
    for (const slug of ['left', 'right']) {
      const body = {
        slug,
        instructions: `You are ${slug}.`,
        provider: { kind: 'command', command: PROBE },
        mounts: [{ hostPath: shared, containerPath: 'shared' }],
      };
      assert.equal((await api(nb, 'POST', '/api/tenants', body)).status, 201);
    }
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('gives writable own folders, read-only napbox and shared ones, and keeps what it wrote across a stop and a wake', async () => {
    const first = await ask(nb, 'left');
    assert.deepEqual(first.slice(0, 5), ['/workspace rw', '/group rw', '/group/.napbox ro', '/global ro', '/extra/shared ro']);
    assert.ok(first.includes('Be kind.') && first.includes('You are left.'), 'instructions composed: global, then its own');
    assert.equal(first.at(-1), 'no-kept');
    assert.ok(fs.existsSync(path.join(groups, 'left', 'files', 'kept')), 'the group folder is the host folder groups/<slug>/files');
    await api(nb, 'POST', '/api/tenants/left/stop');
    const second = await ask(nb, 'left');
    assert.equal(second.at(-1), 'kept');
  });

  it("shows a tenant only its own group folder, never another tenant's", async () => {
    fs.mkdirSync(path.join(groups, 'right', 'files'), { recursive: true });
    fs.writeFileSync(path.join(groups, 'right', 'files', 'private.txt'), 'right only\n');
    const seen = await ask(nb, 'left');
    assert.ok(!seen.includes('private.txt'), seen.join(','));
    assert.ok((await ask(nb, 'right')).includes('private.txt'));
  });

  it('refuses extra mounts through a symlink to a credential folder, with .., or outside the allowlist, and changes nothing', async () => {
    const cases = [
      { hostPath: path.join(shared, 'keys'), containerPath: 'keys' },
      { hostPath: shared, containerPath: '../escape' },
      { hostPath: os.tmpdir(), containerPath: 'tmp' },
    ];
    for (const mount of cases) {
      const res = await api(nb, 'PATCH', '/api/tenants/right', { mounts: [mount] });
      assert.equal(res.status, 400, `${JSON.stringify(mount)} -> ${res.status}`);
      assert.ok(res.json.message.length > 20, res.json.message);
    }
    const right = await api(nb, 'GET', '/api/tenants/right');
    assert.deepEqual(right.json.config.mounts, [{ hostPath: shared, containerPath: 'shared' }]);
  });

  it('makes a tenant from a folder dropped into groups/, and ignores a broken one', async () => {
    fs.mkdirSync(path.join(groups, 'dropped'));
    fs.writeFileSync(path.join(groups, 'dropped', 'tenant.json'), JSON.stringify({ instructions: 'From a folder.' }));
    fs.mkdirSync(path.join(groups, 'broken'));
    fs.writeFileSync(path.join(groups, 'broken', 'tenant.json'), '{ "visibility": "sideways" ');
    await until(async () => (await api(nb, 'GET', '/api/tenants/dropped')).status === 200, 10_000, 'the dropped tenant');
    const page = await request(nb.port, { host: tenantHost(nb, 'dropped') });
    assert.equal(page.status, 200);
    assert.match(page.body, /Tenant <span id="tenant">dropped<\/span>/);
    fs.writeFileSync(path.join(groups, 'dropped', 'tenant.json'), JSON.stringify({ instructions: 'Edited live.' }));
    const instructions = path.join(dataDir, 'tenants', 'dropped', 'materialized', 'instructions.md');
    await until(async () => fs.readFileSync(instructions, 'utf8').includes('Edited live.'), 10_000, 'the edit re-materialized');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await api(nb, 'GET', '/api/tenants/broken')).status, 404);
    assert.match(nb.output(), /tenant\.json refused/);
    fs.rmSync(path.join(groups, 'dropped'), { recursive: true });
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await api(nb, 'GET', '/api/tenants/dropped')).status, 200, 'removing the folder deletes nothing');
  });
});
