import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { firstTarEntry, packTar } from './tar.js';

describe('tar', () => {
  it('packs files that read back with their name, owner, mode and bytes', () => {
    const content = Buffer.from([0, 1, 2, 255]);
    const archive = packTar([
      { name: 'a/b.bin', content, mode: 0o444, uid: 0, gid: 0 },
      { name: 'c.txt', content: Buffer.from('x'), mode: 0o400, uid: 0, gid: 0 },
    ]);
    assert.equal(archive.length % 512, 0);
    assert.deepEqual(firstTarEntry(archive), { name: 'a/b.bin', type: 'file', mode: 0o444, uid: 0, gid: 0, content });
  });

  it('keeps long paths in the ustar prefix', () => {
    const name = `${'folder/'.repeat(20)}file.txt`;
    assert.equal(firstTarEntry(packTar([{ name, content: Buffer.from('deep'), mode: 0o444, uid: 0, gid: 0 }]))?.name, name);
  });

  it('is the same archive for the same files', () => {
    const files = [{ name: 'x', content: Buffer.from('1'), mode: 0o444, uid: 0, gid: 0 }];
    assert.deepEqual(packTar(files), packTar(files));
  });

  it('refuses absolute paths and . or .. parts', () => {
    for (const name of ['/etc/passwd', '../up', 'a/./b', 'a//b', '']) {
      assert.throws(() => packTar([{ name, content: Buffer.alloc(0), mode: 0o444, uid: 0, gid: 0 }]), /tar:/, name);
    }
  });

  it('reads nothing from an empty archive', () => {
    assert.equal(firstTarEntry(packTar([])), undefined);
  });
});
