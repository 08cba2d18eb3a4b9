// Set-up's Node.js base image (issue 17): Node.js 24 under its own tag, with a
// label naming its recipe. An older base (Node 18/20 under `:bookworm`, or an
// image under the tag made from another recipe) is not taken for it: set-up
// makes it again, so the agent image, tagged by the base's id, is rebuilt too.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ensureNodeBase } from '../setup/node-base.js';
import { NODE_BASE_TAG } from '../src/images/agent-image.js';
import { FakeDriver } from '../src/runtime/fake-driver.js';

/** An engine where a registry answers, so the base is the registry's image with napbox's labels (no download here). */
class RegistryDriver extends FakeDriver {
  pulls = 0;
  override async pullImage(): Promise<boolean> {
    this.pulls += 1;
    return true;
  }
}

const RECIPE = 'napbox.node-base.recipe';

describe('set-up: the Node.js base image', () => {
  it('is made anew when only an older napbox base exists, and labelled with its recipe', async () => {
    const driver = new RegistryDriver(['napbox-node-base:bookworm']);
    const lines: string[] = [];
    await ensureNodeBase(driver, { 'napbox.install': 'i1' }, (line) => lines.push(line));
    const made = await driver.inspectImage(NODE_BASE_TAG);
    assert.ok(made, `${NODE_BASE_TAG} exists`);
    assert.notEqual(made.id, (await driver.inspectImage('napbox-node-base:bookworm'))?.id, 'not the old base');
    assert.match(made.labels[RECIPE] ?? '', /^[0-9a-f]{16}$/);
    assert.equal(driver.pulls, 1);
  });

  it('is rebuilt when the image under its tag comes from another recipe, and then left alone', async () => {
    const driver = new RegistryDriver([NODE_BASE_TAG]);
    const old = await driver.inspectImage(NODE_BASE_TAG);
    const lines: string[] = [];
    await ensureNodeBase(driver, {}, (line) => lines.push(line));
    const rebuilt = await driver.inspectImage(NODE_BASE_TAG);
    assert.notEqual(rebuilt?.id, old?.id, 'a new image, so the agent image hash changes');
    assert.match(lines.join('\n'), /another recipe \(none, not [0-9a-f]{16}\)/);
    assert.match(await ensureNodeBase(driver, {}, () => {}), /present/);
    assert.equal((await driver.inspectImage(NODE_BASE_TAG))?.id, rebuilt?.id, 'an up-to-date base is not rebuilt');
    assert.equal(driver.pulls, 1);
  });
});
