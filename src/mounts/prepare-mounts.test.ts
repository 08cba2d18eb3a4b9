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
  before(async () => {
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
    await preparer.start();
  });
  after(async () => {
    await preparer.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('mounts volumes only, and copies the composed files and groups/global as files (never tenant.json)', () => {
    const { mounts, files } = preparer.prepare('acme', { instructions: 'You are acme.' });
    assert.deepEqual(
      mounts.map((m) => [m.type, m.source, m.target, m.fresh ?? false]),
      [
        ['volume', 'napbox-i1-acme-group', '/group', false],
        ['volume', 'napbox-i1-acme-napbox', '/group/.napbox', true],
        ['volume', 'napbox-i1-acme-global', '/global', true],
      ],
    );
    const byPath = Object.fromEntries(files.map((f) => [f.path, Buffer.from(f.content).toString()]));
    assert.deepEqual(Object.keys(byPath).sort(), [
      '/global/docs/a.txt',
      '/global/instructions.md',
      '/group/.napbox/config.json',
      '/group/.napbox/instructions.md',
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

describe('MountPreparer in bind mode: nothing mounted through a link', () => {
  let root: string;
  let groups: string;
  let preparer: MountPreparer;
  before(async () => {
    root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-prepare-bind-')));
    groups = path.join(root, 'groups');
    fs.mkdirSync(path.join(groups, 'global'), { recursive: true });
    fs.writeFileSync(path.join(root, 'secret'), 'host secret\n');
    preparer = new MountPreparer({
      dataDir: path.join(root, 'data'),
      groupsDir: groups,
      allowlistFile: path.join(root, 'allowlist.json'),
      logger: createLogger('silent'),
      isRoot: false,
    });
    await preparer.start();
  });
  after(async () => {
    await preparer.close();
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('mounts groups/<slug>/files at /group, never groups/<slug>/ or its tenant.json', () => {
    fs.mkdirSync(path.join(groups, 'acme'));
    fs.writeFileSync(path.join(groups, 'acme', 'tenant.json'), '{}\n');
    const { mounts } = preparer.prepare('acme', {});
    const group = mounts.find((m) => m.target === '/group');
    assert.equal(group?.source, path.join(groups, 'acme', 'files'));
    assert.ok(!mounts.some((m) => m.source === path.join(groups, 'acme') || m.source.endsWith('tenant.json')));
    assert.ok(fs.lstatSync(path.join(groups, 'acme', 'files', '.napbox')).isDirectory());
  });

  it('refuses a files folder that is a link (planted before this layout), and a link on the way to it', () => {
    fs.mkdirSync(path.join(groups, 'linked'));
    fs.symlinkSync(root, path.join(groups, 'linked', 'files'));
    assert.throws(() => preparer.prepare('linked', {}), /not a symbolic link or reached through one/);
    fs.symlinkSync(path.join(root, 'elsewhere'), path.join(groups, 'via'));
    fs.mkdirSync(path.join(root, 'elsewhere', 'files'), { recursive: true });
    assert.throws(() => preparer.prepare('via', {}), /not a symbolic link or reached through one/);
  });

  it('replaces a link planted where napbox mounts its own files, without following it', () => {
    fs.mkdirSync(path.join(groups, 'planted', 'files'), { recursive: true });
    fs.symlinkSync(path.join(root, 'secret'), path.join(groups, 'planted', 'files', '.napbox'));
    preparer.prepare('planted', {});
    assert.ok(fs.lstatSync(path.join(groups, 'planted', 'files', '.napbox')).isDirectory());
    assert.equal(fs.readFileSync(path.join(root, 'secret'), 'utf8'), 'host secret\n');
  });

  it("moves an older install's tenant files into files/ once, leaving tenant.json where it is", () => {
    fs.mkdirSync(path.join(groups, 'old'));
    fs.writeFileSync(path.join(groups, 'old', 'tenant.json'), '{}\n');
    fs.writeFileSync(path.join(groups, 'old', 'notes.txt'), 'mine\n');
    fs.symlinkSync(path.join(root, 'secret'), path.join(groups, 'old', 'link'));
    preparer.prepare('old', {});
    assert.deepEqual(fs.readdirSync(path.join(groups, 'old')).sort(), ['files', 'tenant.json']);
    assert.equal(fs.readFileSync(path.join(groups, 'old', 'files', 'notes.txt'), 'utf8'), 'mine\n');
    assert.ok(fs.lstatSync(path.join(groups, 'old', 'files', 'link')).isSymbolicLink(), 'a link is moved, not followed');
  });
});
