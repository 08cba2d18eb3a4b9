// How fast the shipped JavaScript answers (issue 15), against `node -e 0` in the
// same run: `napbox --help` and `napbox tenants list` (targets p50 < 300 ms),
// napbox from process start to listening (target < 1 s, set-up done), and its
// resident memory at rest. Run after `npm run build`:
//   node --import tsx bench/cli.ts [tries=15]

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { removeInstall, ROOT, tempDataDir } from '../test/helpers/napbox-process.js';
import { readServerFiles } from '../src/server-file.js';
import { summarize } from './stats.js';

const tries = Number(process.argv[2] ?? 15);
const bin = path.join(ROOT, 'bin/napbox.js');

function timed(args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  execFileSync(process.execPath, args, { env, stdio: 'ignore' });
  return performance.now() - t0;
}

async function startServer(dataDir: string): Promise<{ ms: number; pid: number; stop: () => Promise<void> }> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, [path.join(ROOT, 'dist/src/index.js')], {
    env: { ...process.env, NAPBOX_PORT: '0', NAPBOX_DATA_DIR: dataDir, NAPBOX_GROUPS_DIR: `${dataDir}-groups`, NAPBOX_LOG_LEVEL: 'warn' },
    stdio: 'ignore',
  });
  const listening = (): boolean => readServerFiles(dataDir).some((f) => f.pid === proc.pid);
  while (!listening()) {
    if (proc.exitCode !== null) throw new Error('napbox exited');
    await new Promise((r) => setTimeout(r, 2));
  }
  const ms = performance.now() - t0;
  const exited = new Promise((r) => proc.once('exit', r));
  const stop = async (): Promise<void> => {
    proc.kill('SIGTERM');
    await exited;
  };
  return { ms, pid: proc.pid!, stop };
}

const dataDir = tempDataDir();
const env = { ...process.env, NAPBOX_DATA_DIR: dataDir };
const rows: Array<[string, number[]]> = [
  ['node -e 0', []],
  ['napbox --help', []],
  ['napbox tenants list', []],
];
const starts: number[] = [];
let rssMiB = 0;
let installId = '';
try {
  const first = await startServer(dataDir); // makes the data dir, the install, the demo-free database
  await first.stop();
  for (let i = 0; i < 3; i++) {
    const s = await startServer(dataDir);
    starts.push(s.ms);
    if (i < 2) await s.stop();
    else {
      await new Promise((r) => setTimeout(r, 2000));
      rssMiB = Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${s.pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
      installId = fs.readFileSync(path.join(dataDir, 'install-id'), 'utf8').trim();
      for (let t = 0; t < tries; t++) {
        rows[0]![1].push(timed(['-e', '0'], env));
        rows[1]![1].push(timed([bin, '--help'], env));
        rows[2]![1].push(timed([bin, 'tenants', 'list'], env));
      }
      await s.stop();
    }
  }
} finally {
  if (installId) await removeInstall(installId);
  fs.rmSync(dataDir, { recursive: true, force: true });
  fs.rmSync(`${dataDir}-groups`, { recursive: true, force: true });
}
const base = summarize(rows[0]![1]).p50;
for (const [name, samples] of rows) {
  const s = summarize(samples);
  console.log(
    `${name.padEnd(22)} p50 ${s.p50.toFixed(0).padStart(4)} ms  p90 ${s.p90.toFixed(0).padStart(4)} ms  ${(s.p50 / base).toFixed(2)}x node -e 0${name.startsWith('napbox') ? `  target p50 < 300 ms: ${s.p50 < 300 ? 'met' : 'NOT met'}` : ''}`,
  );
}
const st = summarize(starts);
console.log(
  `napbox start to listening  p50 ${st.p50.toFixed(0)} ms of ${starts.length} (target < 1000 ms: ${st.p50 < 1000 ? 'met' : 'NOT met'}); resident memory at rest ${rssMiB.toFixed(1)} MiB`,
);
