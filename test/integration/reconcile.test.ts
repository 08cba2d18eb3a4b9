// The reconcile against the real engine: containers that only inherit the
// install label from their image (a build step's, as the engine's classic
// builder makes them from an image napbox labelled) are never touched, while
// an orphaned tenant container, of this version or an older one, is removed.

import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../src/db/database.js';
import { NODE_BASE_TAG } from '../../src/images/agent-image.js';
import { createLogger } from '../../src/log.js';
import { buildContainerSpec, LABEL_CONTAINER } from '../../src/runtime/container-spec.js';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { reconcile } from '../../src/tenants/reconcile.js';
import { TenantStore } from '../../src/tenants/tenant-store.js';
import { removeInstall } from '../helpers/napbox-process.js';

const run = promisify(execFile);
const driver = new DockerDriver();

/** `docker build` of `dockerfile` (classic builder, so each step runs in a container), resolved with its exit code and output. */
function dockerBuild(tag: string, dockerfile: string, labels: Record<string, string>): Promise<{ code: number | null; output: string }> {
  const args = ['build', '--rm', '-t', tag, ...Object.entries(labels).flatMap(([k, v]) => ['--label', `${k}=${v}`]), '-'];
  const proc = spawn('docker', args, { env: { ...process.env, DOCKER_BUILDKIT: '0' }, stdio: ['pipe', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d: Buffer) => (output += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (output += d.toString()));
  proc.stdin.end(dockerfile);
  return new Promise((resolve) => proc.once('close', (code) => resolve({ code, output })));
}

describe('reconcile with the engine', () => {
  const installId = `rc${crypto.randomBytes(5).toString('hex')}`;
  const base = `napbox-test-reconcile-${installId}:base`;
  const built = `napbox-test-reconcile-${installId}:built`;
  let dataDir: string;
  let store: TenantStore;
  let close: () => void;
  const logger = createLogger('silent');

  before(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-reconcile-'));
    const db = openDatabase(dataDir);
    store = new TenantStore(db);
    close = () => db.close();
    // An image of this install, as napbox labels the images it builds (a tenant's build starts from one).
    const made = await dockerBuild(base, `FROM ${NODE_BASE_TAG}\n`, { 'napbox.install': installId });
    assert.equal(made.code, 0, made.output);
  });
  after(async () => {
    close?.();
    await removeInstall(installId);
    for (const image of [built, base]) await run('docker', ['rmi', '-f', image]).catch(() => undefined);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  const sweep = () => reconcile({ store, driver, installId, logger, now: Date.now(), busy: () => false });

  it("leaves a build step's container alone while the build runs: the build succeeds", async () => {
    const building = dockerBuild(built, `FROM ${base}\nRUN sleep 4 && echo step-done\n`, {});
    let done = false;
    void building.then(() => (done = true));
    const removed: string[] = [];
    let sawStep = false;
    while (!done) {
      const labelled = await driver.findByLabels({ 'napbox.install': installId });
      if (labelled.some((c) => c.status === 'running')) sawStep = true;
      removed.push(...(await sweep()).removed);
      await new Promise((r) => setTimeout(r, 200));
    }
    const result = await building;
    assert.deepEqual(removed, [], 'reconcile removed containers napbox did not create');
    assert.equal(result.code, 0, result.output);
    assert.doesNotMatch(result.output, /Error removing intermediate container/);
    assert.ok(sawStep, 'the build step ran in a container carrying the install label');
  });

  it('removes an orphaned tenant container, and one an older version made (no napbox.container label)', async () => {
    const spec = (slug: string) => ({
      ...buildContainerSpec({ installId, slug, config: {}, image: base, publish: false, channelKey: 'x'.repeat(43), heartbeatMs: 5000 }),
      network: undefined,
    });
    const orphan = await driver.create(spec('ghost'));
    const older = spec('elder');
    const { [LABEL_CONTAINER]: _, ...olderLabels } = older.labels;
    const legacy = await driver.create({ ...older, labels: olderLabels });
    // A container created by hand from the image: install label, no tenant name: not napbox's.
    const { stdout } = await run('docker', ['create', base, 'true']);
    const stranger = stdout.trim();
    try {
      const report = await sweep();
      assert.deepEqual(report.removed.sort(), [`napbox-${installId}-elder`, `napbox-${installId}-ghost`]);
      assert.equal(await driver.inspect(orphan.id), undefined);
      assert.equal(await driver.inspect(legacy.id), undefined);
      assert.notEqual(await driver.inspect(stranger), undefined, 'a container napbox did not create is left alone');
    } finally {
      await run('docker', ['rm', '-f', stranger]).catch(() => undefined);
    }
  });
});
