import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger } from '../log.js';
import { COPY_MAX_BYTES, MountPreparer } from './prepare-mounts.js';

describe('MountPreparer in copy mode (a remote engine)', () => {
  let root: string;
  let preparer: MountPreparer;
  let groups: string;
  before(() => {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-prepare-')));
    groups = path.join(root, 'groups');
    fs.mkdirSync(path.join(groups, 'global', 'docs'), { recursive: true });
    fs.mkdirSync(path.join(groups, 'acme'), { recursive: true });
    fs.writeFileSync(path.join(groups, 'global', 'instructions.md'), 'Be kind.\n');
    fs.writeFileSync(path.join(groups, 'global', 'docs', 'a.txt'), 'a\n');
    fs.writeFileSync(path.join(groups, 'acme', 'tenant.json'), '{}\n');
    fs.writeFileSync(path.join(groups, 'acme', 'notes.txt'), 'the host folder is not copied\n');
    fs.writeFileSync(path.join(root, 'secret'), 'host secret\n');
    fs.symlinkSync(path.join(root, 'secret'), path.join(groups, 'global', 'link'));
    preparer = new MountPreparer({
      dataDir: path.join(root, 'data'),
      groupsDir: groups,
      allowlistFile: path.join(root, 'allowlist.json'),
      logger: createLogger('silent'),
      mode: 'copy',
      installId: 'i1',
      isRoot: false,
    });
  });
  after(async () => {
    await preparer.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('mounts volumes only, and copies tenant.json, the composed files and groups/global as files', () => {
    const { mounts, files } = preparer.prepare('acme', { instructions: 'You are acme.' });
    assert.deepEqual(mounts.map((m) => [m.type, m.source, m.target, m.fresh ?? false]), [
      ['volume', 'napbox-i1-acme-group', '/group', false],
      ['volume', 'napbox-i1-acme-napbox', '/group/.napbox', true],
      ['volume', 'napbox-i1-acme-global', '/global', true],
    ]);
    const byPath = Object.fromEntries(files.map((f) => [f.path, Buffer.from(f.content).toString()]));
    assert.deepEqual(Object.keys(byPath).sort(), [
      '/global/docs/a.txt',
      '/global/instructions.md',
      '/group/.napbox/config.json',
      '/group/.napbox/instructions.md',
      '/group/tenant.json',
    ]);
    assert.equal(byPath['/group/.napbox/instructions.md'], 'Be kind.\n\nYou are acme.\n');
    assert.ok(!Object.values(byPath).includes('host secret\n'), 'a symlink is never followed');
  });

  it('refuses extra mounts of host folders, at wake and when asked', () => {
    const mounts = [{ hostPath: root, containerPath: 'x' }];
    assert.throws(() => preparer.prepare('acme', { mounts }), /remote/);
    assert.match(preparer.refusals(mounts)[0] ?? '', /NAPBOX_MOUNTS=copy/);
  });

  it('refuses to copy more than its budget, naming groups/global', () => {
    const big = path.join(groups, 'global', 'big.bin');
    fs.writeFileSync(big, Buffer.alloc(COPY_MAX_BYTES + 1));
    try {
      assert.throws(() => preparer.prepare('acme', {}), /groups\/global/);
    } finally {
      fs.rmSync(big);
    }
  });
});
