// The workloads part of the driver contract (WorkloadDriver): containers
// created, started, stopped, read and removed as napbox relies on. Each test
// makes what it needs on a network of its own (driver-contract-fixture.ts).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NetworkVolumeDriver, WorkloadDriver } from './container-driver.js';
import { endpointFor } from './container-driver.js';
import { type ContractOptions, freshWorkloads } from './driver-contract-fixture.js';
import { probeOnce } from './readiness.js';

export function runWorkloadContract(name: string, makeDriver: () => WorkloadDriver & NetworkVolumeDriver, options: ContractOptions): void {
  describe(`WorkloadDriver contract: ${name}`, () => {
    /** A fresh driver and names, with the test's network made. */
    const fresh = async (t: Parameters<typeof freshWorkloads>[0]) => {
      const made = freshWorkloads(t, makeDriver, options);
      await made.driver.ensureNetwork({ name: made.names.network, labels: made.names.labels, internal: false });
      return made;
    };

    it('answers ping', async () => {
      await makeDriver().ping();
    });

    it('creates a labelled container that is not running, found by its labels', async (t) => {
      const { driver, names } = await fresh(t);
      const created = await driver.create(names.spec('one'));
      assert.equal(created.running, false);
      assert.equal(created.name, `napbox-${names.install}-one`);
      assert.equal(created.labels['napbox.tenant'], 'one');
      const found = await driver.findByLabels({ ...names.labels, 'napbox.tenant': 'one' });
      assert.deepEqual(
        found.map((c) => c.id),
        [created.id],
      );
      assert.equal(found[0]?.status, 'created');
      assert.equal((await driver.inspect(created.id))?.status, 'created');
    });

    it('refuses a second container with the same name, creating nothing', async (t) => {
      const { driver, names } = await fresh(t);
      await driver.create(names.spec('one'));
      await assert.rejects(driver.create(names.spec('one')), (err: { code?: string }) => err.code === 'conflict');
      assert.equal((await driver.findByLabels({ ...names.labels, 'napbox.tenant': 'one' })).length, 1);
    });

    it('starts a container whose readiness endpoint then answers, and whose logs say so', async (t) => {
      const { driver, names } = await fresh(t);
      const c = await driver.create(names.spec('one'));
      await driver.start(c.id);
      await driver.start(c.id); // starting a running container is not an error
      const info = await driver.inspect(c.id);
      assert.equal(info?.running, true);
      const control = info && endpointFor(info, 8081, options.mode);
      assert.ok(control, 'a running container has an address for its control port');
      let error: string | undefined = 'not probed';
      for (let i = 0; i < 200 && error !== undefined; i += 1) {
        error = await probeOnce(control, '/ready', 250);
        if (error !== undefined) await sleep(25);
      }
      assert.equal(error, undefined, 'GET /ready answered 200');
      // The runner logs "runner ready" once its start is complete, a few ms after /ready first answers.
      let logs = '';
      for (let i = 0; i < 100 && !/runner ready/.test(logs); i += 1) {
        logs = await driver.logs(c.id, { tail: 50 });
        if (!/runner ready/.test(logs)) await sleep(50);
      }
      assert.match(logs, /runner ready/);
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

    it('follows a started-again container from a moment: only what it wrote since (logs -f across a sleep)', async (t) => {
      const { driver, names } = await fresh(t);
      const c = await driver.create(names.spec('twice'));
      await driver.start(c.id);
      for (let i = 0; i < 100 && !/runner ready/.test(await driver.logs(c.id, { tail: 50 })); i += 1) await sleep(50);
      assert.match(await driver.logs(c.id, { tail: 50 }), /runner ready/);
      await driver.stop(c.id, 5);
      await sleep(20);
      const since = Date.now();
      await sleep(20);
      await driver.start(c.id);
      let text = '';
      const ready = (): number => text.split('\n').filter((l) => /runner ready/.test(l)).length;
      // The followed stream of a running container stays open (the fake's ends at once): follow again until the second start's line came.
      for (let i = 0; i < 40; i += 1) {
        const abort = new AbortController();
        let seen = '';
        const followed = await driver.followLogs(c.id, { tail: 1000, since, signal: abort.signal });
        followed.on('data', (chunk: Buffer | string) => (seen += chunk.toString()));
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 250);
          followed.on('end', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        if (/runner ready/.test(seen)) await sleep(200); // anything more it would send
        abort.abort();
        text = seen;
        if (ready() > 0) break;
      }
      assert.equal(ready(), 1, `the second start's line only:\n${text}`);
    });

    it('stops a running container (and stopping it again is not an error)', async (t) => {
      const { driver, names } = await fresh(t);
      const c = await driver.create(names.spec('one'));
      await driver.start(c.id);
      assert.equal((await driver.inspect(c.id))?.running, true);
      await driver.stop(c.id, 5);
      await driver.stop(c.id, 5);
      const info = await driver.inspect(c.id);
      assert.equal(info?.running, false);
      assert.equal(typeof info?.exitCode, 'number');
    });

    it('pauses a running container, which then answers nothing until it is thawed, keeping its memory (or refuses where it cannot)', async (t) => {
      const { driver, names } = await fresh(t);
      const c = await driver.create(names.spec('frozen'));
      if (!driver.canPause) {
        await driver.start(c.id);
        await assert.rejects(driver.pause(c.id), (err: { code?: string }) => err.code === 'conflict');
        return;
      }
      await assert.rejects(driver.pause(c.id), (err: { code?: string }) => err.code === 'conflict', 'a container that does not run is not paused');
      await driver.start(c.id);
      const info = await driver.inspect(c.id);
      const control = info && endpointFor(info, 8081, options.mode);
      assert.ok(control);
      let error: string | undefined = 'not probed';
      for (let i = 0; i < 200 && error !== undefined; i += 1) {
        error = await probeOnce(control, '/ready', 250);
        if (error !== undefined) await sleep(25);
      }
      assert.equal(error, undefined, 'ready before the pause');
      await driver.pause(c.id);
      await driver.pause(c.id); // pausing a paused container is not an error
      const paused = await driver.inspect(c.id);
      assert.equal(paused?.status, 'paused');
      assert.equal(paused?.running, true, 'a frozen container still runs, as the engine says');
      assert.equal((await driver.findByLabels({ ...names.labels, 'napbox.tenant': 'frozen' }))[0]?.status, 'paused');
      assert.ok(((await driver.memoryUsage(c.id)) ?? 0) > 0, 'a paused container keeps its memory');
      assert.notEqual(await probeOnce(control, '/ready', 300), undefined, 'a frozen runner answers nothing');
      await driver.unpause(c.id);
      await driver.unpause(c.id); // thawing a running container is not an error
      assert.equal((await driver.inspect(c.id))?.status, 'running');
      assert.equal(await probeOnce(control, '/ready', 1000), undefined, 'it answers again once thawed');
      await driver.pause(c.id);
      await driver.stop(c.id, 5); // a paused container stops
      assert.equal((await driver.inspect(c.id))?.running, false);
    });

    it('reports the exit code of a container that exits on its own', async (t) => {
      const { driver, names } = await fresh(t);
      const c = await driver.create(names.spec('exits', { NAPBOX_APP_COMMAND: JSON.stringify(['sh', '-c', 'exit 3']) }));
      await driver.start(c.id).catch(() => undefined);
      let info = await driver.inspect(c.id);
      for (let i = 0; i < 100 && info?.running; i += 1) {
        await sleep(50);
        info = await driver.inspect(c.id);
      }
      assert.equal(info?.running, false);
      assert.equal(info?.exitCode, 3);
    });

    it("puts a spec's files in before the first start: root-owned, with their mode; a fresh volume holds only this creation's files", async (t) => {
      const { driver, names } = await fresh(t);
      const base = names.spec('files');
      const napboxFiles = { type: 'volume' as const, source: `napbox-${names.install}-files-napbox`, target: '/group/.napbox', readOnly: false, fresh: true };
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
    });

    it('removes a container, running or not, idempotently, after which nothing finds it', async (t) => {
      const { driver, names } = await fresh(t);
      const idle = await driver.create(names.spec('idle'));
      const running = await driver.create(names.spec('running'));
      await driver.start(running.id);
      for (const c of [idle, running]) {
        await driver.remove(c.id, { force: true });
        await driver.remove(c.id, { force: true });
        assert.equal(await driver.inspect(c.id), undefined);
      }
      assert.deepEqual(await driver.findByLabels(names.labels), []);
    });

    it('answers a container that does not exist with nothing: no info, no logs, no file', async () => {
      const driver = makeDriver();
      const missing = '0'.repeat(64);
      assert.equal(await driver.inspect(missing), undefined);
      assert.equal(await driver.logs(missing, { tail: 10 }), '');
      assert.equal(await driver.readFile(missing, '/etc/hostname'), undefined);
    });
  });
}
