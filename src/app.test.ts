// The composition root on the fake engine: start-up builds everything before
// it starts anything, and whatever it opened is closed, on close() and when
// start-up fails half-way.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { startNapbox } from './app.js';
import { loadConfig } from './config/config.js';
import { openDatabase } from './db/database.js';
import { NODE_BASE_TAG, resolveAgentImage } from './images/agent-image.js';
import { createLogger } from './log.js';
import { projectRoot } from './project-root.js';
import { FakeDriver } from './runtime/fake-driver.js';
import { ApiClient } from './cli/client.js';
import { findLiveServer, readServerFiles, SERVERS_DIR } from './server-file.js';

let root: string;

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-app-'));
});
after(() => fs.rmSync(root, { recursive: true, force: true }));

/** A fake engine holding the base and agent images napbox asks for at start. */
async function fakeEngine(): Promise<FakeDriver> {
  const driver = new FakeDriver([NODE_BASE_TAG]);
  const { tag } = await resolveAgentImage({ driver, containerDir: path.join(projectRoot(import.meta.url), 'container'), caBundle: undefined });
  driver.images.set(tag, { id: `sha256:${'a'.repeat(64)}`, tags: [tag], labels: {} });
  return driver;
}

function config(name: string, port: number) {
  const dir = path.join(root, name);
  return loadConfig(
    { NAPBOX_DATA_DIR: path.join(dir, 'data'), NAPBOX_GROUPS_DIR: path.join(dir, 'groups'), NAPBOX_PORT: String(port), NAPBOX_LISTEN: '127.0.0.1' },
    dir,
  );
}

/** What keeps the event loop busy, by kind (timers, watchers, sockets), ignoring the test runner's own. */
function resources(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const kind of process.getActiveResourcesInfo()) counts[kind] = (counts[kind] ?? 0) + 1;
  return counts;
}

async function settled(): Promise<Record<string, number>> {
  await new Promise((resolve) => setTimeout(resolve, 100)); // closed handles leave the list on the next turns
  return resources();
}

it('closes everything it opened when start-up fails half-way (the port is taken)', async () => {
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const port = (taken.address() as net.AddressInfo).port;
  try {
    const cfg = config('half-way', port);
    const driver = await fakeEngine();
    const before = await settled();
    await assert.rejects(startNapbox(cfg, { driver, logger: createLogger('silent') }), /EADDRINUSE/);
    assert.deepEqual(await settled(), before, 'no timer, watcher or socket left open');
    assert.deepEqual(readServerFiles(cfg.dataDir), []);
    // Its heartbeat row is gone: other napbox processes on the data dir do not wait for a process that never started.
    const db = openDatabase(cfg.dataDir);
    try {
      assert.deepEqual(db.prepare('SELECT id FROM processes').all(), []);
    } finally {
      db.close();
    }
    // The database is closed: the next start on the same data dir works, and closes as cleanly.
    const again = await startNapbox({ ...cfg, port: 0 }, { driver, logger: createLogger('silent') });
    await again.close();
    assert.deepEqual(await settled(), before);
  } finally {
    taken.close();
  }
});

it('close() closes everything a started napbox opened, and removes its server file', async () => {
  const cfg = config('whole', 0);
  const driver = await fakeEngine();
  const before = await settled();
  const napbox = await startNapbox(cfg, { driver, logger: createLogger('silent') });
  assert.equal(readServerFiles(cfg.dataDir).length, 1);
  const answer = await fetch(`${napbox.url}/healthz`, { headers: { host: 'localhost' } });
  assert.equal(answer.status, 200);
  await napbox.close();
  assert.deepEqual(readServerFiles(cfg.dataDir), []);
  assert.deepEqual(await settled(), before);
});

it('two napbox on one data dir keep a server file each: when the second stops, the CLI still reaches the first', async () => {
  const cfg = config('two', 0);
  const first = await startNapbox(cfg, { driver: await fakeEngine(), logger: createLogger('silent') });
  try {
    const second = await startNapbox(cfg, { driver: await fakeEngine(), logger: createLogger('silent') });
    assert.equal(readServerFiles(cfg.dataDir).length, 2);
    await second.close();
    // A file left by a process that died (its pid gone, nothing listens at its url) is passed over.
    fs.writeFileSync(
      path.join(cfg.dataDir, SERVERS_DIR, 'p_dead.json'),
      JSON.stringify({ url: 'http://127.0.0.1:1', pid: 2 ** 22 + 1, installId: first.installId, baseDomain: 'localhost', port: 1 }),
    );
    assert.equal((await findLiveServer(cfg.dataDir)).url, first.url);
    const client = await ApiClient.connect(cfg.dataDir);
    const tenants = await client.json('GET', '/api/tenants', (A) => A.TenantListSchema);
    assert.deepEqual(tenants.tenants, []);
  } finally {
    await first.close();
  }
  await assert.rejects(findLiveServer(cfg.dataDir), /napbox is not running for .*: start it with `npm start`/);
});
