// Two napbox processes on one data dir (supported: docs/scale-out.md) each
// keep their own server file: when one stops, or dies without cleaning up,
// the CLI still finds the other.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, describe, it } from 'node:test';
import { readServerFiles } from '../../src/server-file.js';
import { api, type NapboxProcess, ROOT, removeInstall, startNapbox } from '../helpers/napbox-process.js';

const run = promisify(execFile);

/** The real CLI (from the sources), with NAPBOX_DATA_DIR; its exit code and output. */
async function cli(dataDir: string, ...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, NAPBOX_DATA_DIR: dataDir },
    });
    return { code: 0, out: stdout + stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

describe('server files of two napbox processes on one data dir', () => {
  const started: NapboxProcess[] = [];
  after(async () => {
    await Promise.all(started.map((nb) => nb.stop()));
    if (started[0]) await removeInstall(started[0].installId);
  });

  it('the CLI reaches the first after the second stops, and after a third is killed without cleaning up', async () => {
    const first = await startNapbox();
    started.push(first);
    assert.equal((await api(first, 'POST', '/api/tenants', { slug: 'seen' })).status, 201);
    const second = await startNapbox({ shareWith: first });
    started.push(second);
    assert.deepEqual(
      readServerFiles(first.dataDir)
        .map((f) => f.pid)
        .sort(),
      [first.proc.pid, second.proc.pid].sort(),
    );

    await second.stop();
    let listed = await cli(first.dataDir, 'tenants', 'list');
    assert.equal(listed.code, 0, listed.out);
    assert.match(listed.out, /^seen\s/m);

    const third = await startNapbox({ shareWith: first });
    started.push(third);
    await third.kill(); // no clean-up: its file stays, naming a process that is gone
    assert.equal(readServerFiles(first.dataDir).length, 2);
    listed = await cli(first.dataDir, 'tenants', 'list');
    assert.equal(listed.code, 0, listed.out);
    assert.match(listed.out, /^seen\s/m);

    // The next process to start removes the dead one's file.
    const fourth = await startNapbox({ shareWith: first });
    started.push(fourth);
    assert.deepEqual(
      readServerFiles(first.dataDir)
        .map((f) => f.pid)
        .sort(),
      [first.proc.pid, fourth.proc.pid].sort(),
    );
  });
});
