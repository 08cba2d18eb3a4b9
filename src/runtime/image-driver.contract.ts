// The images part of the driver contract (ImageDriver): build, import, tag,
// inspect, list by label, the image tree, remove, and a pull that finds no registry. What the
// image code relies on (tenant-image builds, prune, setup's node base). Each
// test labels its images with an install id of its own and they are removed
// after it (driver-contract-fixture.ts).

import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import type { ImageDriver, ImageInfo } from './container-driver.js';
import { type ContractOptions, type FreshNames, freshImages } from './driver-contract-fixture.js';
import { packTar } from './tar.js';

export function runImageContract(name: string, makeDriver: () => ImageDriver, options: ContractOptions): void {
  describe(`ImageDriver contract: ${name}`, () => {
    /** Builds a one-line image on top of the contract's image (nothing to run, so it takes a moment). */
    const build = async (t: TestContext, driver: ImageDriver, names: FreshNames, lines: string[] = []): Promise<ImageInfo> => {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-contract-'));
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      fs.writeFileSync(path.join(dir, 'Dockerfile'), `FROM ${options.image}\nARG NOTE\nLABEL napbox.contract.note=$NOTE\n`);
      return driver.buildImage({
        contextDir: dir,
        dockerfile: 'Dockerfile',
        tag: `napbox-${names.install}:built`,
        labels: { ...names.labels, 'napbox.role': 'contract' },
        buildArgs: { NOTE: 'from-a-build-arg' },
        onLog: (line) => lines.push(line),
      });
    };

    it('builds an image with its tag and labels, streaming its log, found by tag, id and labels', async (t) => {
      const { driver, names } = freshImages(t, makeDriver, options);
      const lines: string[] = [];
      const built = await build(t, driver, names, lines);
      assert.match(built.id, /^sha256:[0-9a-f]{64}$/);
      assert.ok(built.tags.includes(`napbox-${names.install}:built`));
      assert.equal(built.labels['napbox.install'], names.install);
      assert.equal(built.labels['napbox.role'], 'contract');
      assert.ok(lines.length > 0, 'the build log reached onLog');
      assert.equal((await driver.inspectImage(`napbox-${names.install}:built`))?.id, built.id);
      assert.equal((await driver.inspectImage(built.id))?.id, built.id);
      assert.deepEqual(
        (await driver.findImagesByLabels(names.labels)).map((i) => i.id),
        [built.id],
      );
      assert.deepEqual(await driver.findImagesByLabels({ ...names.labels, 'napbox.role': 'other' }), []);
    });

    it('lists the whole image tree: a built image once, with its tags and labels, built on its FROM image up its parent chain', async (t) => {
      const { driver, names } = freshImages(t, makeDriver, options);
      const built = await build(t, driver, names);
      const base = await driver.inspectImage(options.image);
      assert.ok(base);
      const tree = await driver.listImageTree();
      const mine = tree.filter((i) => i.id === built.id);
      assert.equal(mine.length, 1);
      assert.ok(mine[0]?.tags.includes(`napbox-${names.install}:built`));
      assert.equal(mine[0]?.labels['napbox.install'], names.install);
      const parentOf = new Map(tree.map((i) => [i.id, i.parent]));
      const chain: string[] = [];
      for (let up = mine[0]?.parent ?? null; up !== null && !chain.includes(up); up = parentOf.get(up) ?? null) chain.push(up);
      assert.ok(chain.includes(base.id), `${options.image} is up the parent chain of the built image`);
    });

    it('tags an image; removing one tag keeps the image under the other; removing by id removes it; removing again is not an error', async (t) => {
      const { driver, names } = freshImages(t, makeDriver, options);
      const built = await build(t, driver, names);
      const second = `napbox-${names.install}:second`;
      await driver.tagImage(`napbox-${names.install}:built`, second);
      const tagged = await driver.inspectImage(second);
      assert.equal(tagged?.id, built.id);
      assert.ok(tagged?.tags.includes(second));
      assert.equal((await driver.findImagesByLabels(names.labels)).length, 1, 'one image, two tags');

      await driver.removeImage(second);
      await driver.removeImage(second);
      assert.equal(await driver.inspectImage(second), undefined);
      assert.equal((await driver.inspectImage(`napbox-${names.install}:built`))?.id, built.id, 'the other tag still names it');

      await driver.removeImage(built.id);
      await driver.removeImage(built.id);
      assert.equal(await driver.inspectImage(built.id), undefined);
      assert.equal(await driver.inspectImage(`napbox-${names.install}:built`), undefined);
      assert.deepEqual(await driver.findImagesByLabels(names.labels), []);
    });

    it('imports an image from a root filesystem tarball, with its tag and labels', async (t) => {
      const { driver, names } = freshImages(t, makeDriver, options);
      const tarball = packTar([{ name: 'etc/napbox-contract.txt', content: Buffer.from('imported\n'), mode: 0o444, uid: 0, gid: 0 }]);
      const tag = `napbox-${names.install}:imported`;
      const imported = await driver.importImage(Readable.from([tarball]), tag, { ...names.labels, 'napbox.role': 'rootfs' });
      assert.ok(imported.tags.includes(tag));
      assert.equal(imported.labels['napbox.role'], 'rootfs');
      assert.equal((await driver.inspectImage(tag))?.id, imported.id);
      assert.deepEqual(
        (await driver.findImagesByLabels({ ...names.labels, 'napbox.role': 'rootfs' })).map((i) => i.id),
        [imported.id],
      );
    });

    it('answers a pull from a registry that does not answer with false, not an error', async () => {
      assert.equal(await makeDriver().pullImage('127.0.0.1:9/napbox-contract-missing:none'), false);
    });

    it('answers an image that does not exist with nothing, and removes it without an error', async (t) => {
      const { driver, names } = freshImages(t, makeDriver, options);
      assert.equal(await driver.inspectImage(`napbox-${names.install}:none`), undefined);
      await driver.removeImage(`napbox-${names.install}:none`);
      assert.deepEqual(await driver.findImagesByLabels(names.labels), []);
    });
  });
}
