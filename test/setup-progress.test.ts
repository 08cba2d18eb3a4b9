// Set-up is never silent for long: a step that takes more than a few seconds
// (npm ci building better-sqlite3, debootstrap, an image build) prints a
// progress line every 5 s, and a failed one names its log.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { withProgress } from '../setup/progress.js';
import { ROOT } from './helpers/napbox-process.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-progress-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

/** setup/progress.sh's run_step, as setup.sh runs it, with progress every `every` seconds. */
function runStep(every: number, ...argv: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn('bash', ['-c', 'set -euo pipefail; source setup/progress.sh; run_step "$@"', 'run_step', ...argv], {
    cwd: ROOT,
    env: { ...process.env, NAPBOX_SETUP_PROGRESS_SECONDS: String(every) },
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => proc.once('close', (code) => resolve({ code, stdout, stderr })));
}

describe('set-up progress', () => {
  it("says every few seconds that a long shell step still works, its output in the step's log", async () => {
    const log = path.join(dir, 'slow.log');
    const run = await runStep(1, 'dependencies', log, 'sh', '-c', 'echo compiling; sleep 3.5; echo built');
    assert.equal(run.code, 0, run.stderr);
    const lines = run.stdout.split('\n').filter((l) => /^setup: dependencies: still working \(\d+ s; output in .*slow\.log\)$/.test(l));
    assert.ok(lines.length >= 2, run.stdout);
    assert.doesNotMatch(run.stdout, /compiling|built/, "the step's own output goes to its log");
    assert.equal(fs.readFileSync(log, 'utf8'), 'compiling\nbuilt\n');
  });

  it('keeps a failed shell step’s exit code and names its log, with its last lines', async () => {
    const log = path.join(dir, 'failed.log');
    const run = await runStep(5, 'build', log, 'sh', '-c', 'echo "error TS2322: nope"; exit 3');
    assert.equal(run.code, 3);
    assert.match(run.stderr, new RegExp(`setup: build failed \\(exit 3\\); its output is in ${log.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(run.stderr, /error TS2322: nope/);
    assert.equal(run.stdout, '', 'a quick step prints no progress');
  });

  it('prints a progress line for a long set-up step in TypeScript, and stops when it ends or fails', async () => {
    const lines: string[] = [];
    const print = (line: string) => lines.push(line);
    const value = await withProgress('agent image', () => new Promise<string>((resolve) => setTimeout(() => resolve('built'), 230)), { everyMs: 50, print });
    assert.equal(value, 'built');
    assert.ok(lines.length >= 3, lines.join('\n'));
    assert.match(lines[0] ?? '', /^setup: agent image: still working \(\d+ s\)$/);
    const seen = lines.length;
    await assert.rejects(
      withProgress('node base image', () => Promise.reject(new Error('debootstrap failed; its log is /tmp/x.log')), { everyMs: 10, print }),
      /debootstrap failed/,
    );
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(lines.length, seen, 'no line after the step settled');
  });
});
