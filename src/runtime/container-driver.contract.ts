// The contract every ContainerDriver keeps, as one suite run against each
// driver: the Docker driver (test/integration/docker-driver.test.ts) and the
// fake used by unit tests (fake-driver.test.ts). A behaviour the rest of
// napbox relies on belongs here, so no driver can quietly differ.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { after, describe, it } from 'node:test';
import type { ContainerDriver, ContainerSpec } from './container-driver.js';
import { endpointFor } from './container-driver.js';
import { probeOnce } from './readiness.js';
import { DEFAULT_LIMITS } from './container-spec.js';

export interface ContractOptions {
  readonly image: string;
  readonly mode: 'bridge' | 'published';
}

export function runDriverContract(name: string, makeDriver: () => ContainerDriver, options: ContractOptions): void {
  describe(`ContainerDriver contract: ${name}`, () => {
    const driver = makeDriver();
    const install = `contract${crypto.randomBytes(4).toString('hex')}`;
    const labels = { 'napbox.install': install };
    const network = `napbox-${install}`;

    const spec = (slug: string, env: Record<string, string> = {}): ContainerSpec => ({
      name: `napbox-${install}-${slug}`,
      image: options.image,
      labels: { ...labels, 'napbox.tenant': slug },
      env: { NAPBOX_TENANT: slug, ...env },
      user: '10001:10001',
      limits: DEFAULT_LIMITS,
      readOnlyRootfs: false,
      tmpfs: {},
      mounts: [{ type: 'volume', source: `napbox-${install}-${slug}-ws`, target: '/workspace', readOnly: false }],
      network,
      ports: [8080, 8081],
      publish: options.mode === 'published',
      stopGraceSeconds: 5,
    });

    after(async () => {
      for (const c of await driver.findByLabels(labels)) await driver.remove(c.id, { force: true });
      await driver.removeNetwork(network);
      for (const volume of await driver.findVolumesByLabels(labels)) await driver.removeVolume(volume);
    });

    it('answers ping', async () => {
      await driver.ping();
    });

    it('creates a network once, finds it by label, and removes it idempotently', async () => {
      await driver.ensureNetwork({ name: network, labels, internal: false });
      await driver.ensureNetwork({ name: network, labels, internal: false });
      assert.deepEqual(await driver.findNetworksByLabels(labels), [network]);
    });

    it('creates a labelled container that is not running, found by its labels', async () => {
      const created = await driver.create(spec('one'));
      assert.equal(created.running, false);
      assert.equal(created.labels['napbox.tenant'], 'one');
      const found = await driver.findByLabels({ ...labels, 'napbox.tenant': 'one' });
      assert.deepEqual(
        found.map((c) => c.id),
        [created.id],
      );
      assert.equal(found[0]?.status, 'created');
    });

    it('creates the volumes a container mounts, labelled like the container', async () => {
      assert.deepEqual(await driver.findVolumesByLabels({ ...labels, 'napbox.tenant': 'one' }), [`napbox-${install}-one-ws`]);
    });

    it('refuses a second container with the same name, creating nothing', async () => {
      await assert.rejects(driver.create(spec('one')), (err: { code?: string }) => err.code === 'conflict');
      assert.equal((await driver.findByLabels({ ...labels, 'napbox.tenant': 'one' })).length, 1);
    });

    it('starts a container whose readiness endpoint then answers, and whose logs say so', async () => {
      const [c] = await driver.findByLabels({ ...labels, 'napbox.tenant': 'one' });
      assert.ok(c);
      await driver.start(c.id);
      await driver.start(c.id); // starting a running container is not an error
      const info = await driver.inspect(c.id);
      assert.equal(info?.running, true);
      const control = info && endpointFor(info, 8081, options.mode);
      assert.ok(control, 'a running container has an address for its control port');
      let error: string | undefined = 'not probed';
      for (let i = 0; i < 200 && error !== undefined; i += 1) {
        error = await probeOnce(control, '/ready', 250);
        if (error !== undefined) await new Promise((r) => setTimeout(r, 25));
      }
      assert.equal(error, undefined, 'GET /ready answered 200');
      assert.match(await driver.logs(c.id, { tail: 50 }), /runner ready/);
      const abort = new AbortController();
      const followed = await driver.followLogs(c.id, { tail: 50, signal: abort.signal });
      let text = '';
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 3000);
        followed.on('data', (chunk: Buffer | string) => {
          text += chunk.toString();
          if (/runner ready/.test(text)) {
            clearTimeout(timer);
            resolve();
          }
        });
        followed.on('end', () => {
          clearTimeout(timer);
          resolve();
        });
      });
      abort.abort();
      assert.match(text, /runner ready/, 'followed logs begin with the last lines');
    });

    it('stops a container (and stopping it again is not an error)', async () => {
      const [c] = await driver.findByLabels({ ...labels, 'napbox.tenant': 'one' });
      assert.ok(c);
      await driver.stop(c.id, 5);
      await driver.stop(c.id, 5);
      const info = await driver.inspect(c.id);
      assert.equal(info?.running, false);
      assert.equal(typeof info?.exitCode, 'number');
    });

    it('reports the exit code of a container that exits on its own', async () => {
      const c = await driver.create(spec('exits', { NAPBOX_APP_COMMAND: JSON.stringify(['sh', '-c', 'exit 3']) }));
      await driver.start(c.id).catch(() => undefined);
      let info = await driver.inspect(c.id);
      for (let i = 0; i < 100 && info?.running; i += 1) {
        await new Promise((r) => setTimeout(r, 50));
        info = await driver.inspect(c.id);
      }
      assert.equal(info?.running, false);
      assert.equal(info?.exitCode, 3);
    });

    it("puts a spec's files in before the first start: root-owned, with their mode; a fresh volume holds only this creation's files", async () => {
      const base = spec('files');
      const napboxFiles = { type: 'volume' as const, source: `napbox-${install}-files-napbox`, target: '/group/.napbox', readOnly: false, fresh: true };
      const first = await driver.create({
        ...base,
        mounts: [...base.mounts, napboxFiles],
        files: [
          { path: '/group/.napbox/config.json', content: '{"tenant":"files"}\n' },
          { path: '/group/.napbox/deep/notes.md', content: Buffer.from('private'), mode: 0o400 },
          { path: '/workspace/seed.txt', content: 'kept' },
          { path: '/etc/napbox-own.txt', content: 'its own filesystem' },
        ],
      });
      const config = await driver.readFile(first.id, '/group/.napbox/config.json');
      assert.deepEqual(config && { text: config.content.toString(), mode: config.mode, uid: config.uid, gid: config.gid }, {
        text: '{"tenant":"files"}\n',
        mode: 0o444,
        uid: 0,
        gid: 0,
      });
      const notes = await driver.readFile(first.id, '/group/.napbox/deep/notes.md');
      assert.deepEqual(notes && { text: notes.content.toString(), mode: notes.mode, uid: notes.uid }, { text: 'private', mode: 0o400, uid: 0 });
      assert.equal((await driver.readFile(first.id, '/etc/napbox-own.txt'))?.content.toString(), 'its own filesystem');
      assert.equal(await driver.readFile(first.id, '/group/.napbox/missing.txt'), undefined);
      assert.equal(await driver.readFile('0'.repeat(64), '/group/.napbox/config.json'), undefined);
      await driver.start(first.id);
      assert.equal((await driver.inspect(first.id))?.running, true, 'a container with files starts');
      await driver.remove(first.id, { force: true });

      const second = await driver.create({
        ...base,
        mounts: [...base.mounts, napboxFiles],
        files: [{ path: '/group/.napbox/instructions.md', content: 'new' }],
      });
      assert.equal(await driver.readFile(second.id, '/group/.napbox/config.json'), undefined, 'the fresh volume lost the file it was not given again');
      assert.equal((await driver.readFile(second.id, '/group/.napbox/instructions.md'))?.content.toString(), 'new');
      assert.equal((await driver.readFile(second.id, '/workspace/seed.txt'))?.content.toString(), 'kept', 'a volume that is not fresh keeps its content');
      await driver.remove(second.id, { force: true });
    });

    it('removes containers idempotently, after which inspect finds nothing', async () => {
      for (const c of await driver.findByLabels(labels)) {
        await driver.remove(c.id, { force: true });
        await driver.remove(c.id, { force: true });
        assert.equal(await driver.inspect(c.id), undefined);
      }
      assert.deepEqual(await driver.findByLabels(labels), []);
      await driver.removeNetwork(network);
      await driver.removeNetwork(network);
      assert.deepEqual(await driver.findNetworksByLabels(labels), []);
      for (const volume of await driver.findVolumesByLabels(labels)) {
        await driver.removeVolume(volume);
        await driver.removeVolume(volume);
      }
      assert.deepEqual(await driver.findVolumesByLabels(labels), []);
    });

    it('answers undefined for an unknown container or image', async () => {
      assert.equal(await driver.inspect('0'.repeat(64)), undefined);
      assert.equal(await driver.inspectImage(`napbox-missing-${install}:none`), undefined);
    });
  });
}
