// `npm run bench`: cold start and warm requests through napbox, each as a
// ratio against a baseline measured in the same run (the engine alone, the
// container directly), since the machine is shared and noisy. Prints a table,
// writes bench/out/results.json, and exits 0 whether or not targets are met;
// it exits 1 only when the bench itself failed. Every container and network
// it made is removed at the end, also on failure or Ctrl-C.
//
// The cold start is measured against the same app in a plain container (the
// built-in page and a custom app; bench/cold-start.ts), and on the Swarm
// driver too (a second napbox with NAPBOX_DRIVER=swarm, on this engine made a
// single-node swarm if it is in none), against swarm alone. The cold stage
// alone: `node --import tsx bench/cold.ts`. Waking a paused tenant is timed
// against the engine's own unpause (bench/paused-stage.ts; a third napbox with
// a short NAPBOX_PAUSE_AFTER).
//
// Settings: BENCH_COLD_N (cold tries per side, default 15),
// BENCH_SWARM_COLD_N (the same on the Swarm driver, default 10; 0 skips it),
// BENCH_WARM_SECONDS (seconds per warm run, default 8), BENCH_MESSAGES_N
// (sequential message round trips per side, default 200), BENCH_SWEEP_TENANTS
// and BENCH_SWEEP_RUNNING (the sweep stage's registered and running tenants,
// default 10,000 and 100), BENCH_MANY_N (tenants woken one after another in
// the "many tenants" stage, default 1,000; 0 skips it), BENCH_PAUSED_N (wakes
// from paused per side, default 21; 0 skips them).

import Docker from 'dockerode';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { aptInstall, canInstallHere } from '../setup/docker-engine.js';
import { onPath } from '../setup/run-command.js';
import { closeBenchTenant, openBenchTenant, type BenchTenant } from './bench-tenant.js';
import { removeBaselines } from './cold-baseline.js';
import { measureColdStarts, measureSameContainerColdStarts } from './cold-start.js';
import { measureWarm, type LoadSettings } from './warm.js';
import { buildResults, renderTable, swarmColdResults, writeHtmlReport, writeResults, type RunInfo, type SwarmColdResults } from './report.js';
import { measureMessages } from './messages.js';
import { measureSweep } from './sweep.js';
import { measureImages } from './images.js';
import { measureMany, renderMany } from './many-tenants.js';
import { closeOnSignal, intFromEnv, runScript } from './script.js';
import { measurePaused, openPausedTenant, pausedLines, type PausedResults } from './paused-stage.js';

const OUT_FILE = path.join(path.dirname(new URL(import.meta.url).pathname), 'out', 'results.json');
const HTML_FILE = path.join(path.dirname(OUT_FILE), 'report.html');

/** wrk, installed from Debian's packages when missing and this machine allows it. */
async function loadToolName(): Promise<string> {
  if (!onPath('wrk')) {
    const refusal = canInstallHere();
    if (refusal) throw new Error(`the bench needs wrk (a C HTTP load generator): install it (e.g. apt-get install wrk); ${refusal}`);
    progress('installing wrk from Debian');
    await aptInstall(['wrk']);
  }
  const out = spawnSync('wrk', ['-v'], { encoding: 'utf8' });
  const version = `${out.stdout}${out.stderr}`.split('\n')[0]?.trim() ?? 'wrk';
  return version.split(' [')[0] ?? 'wrk';
}

const progress = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};

/** Cold starts of a tenant of a second napbox on the Swarm driver (BENCH_SWARM_COLD_N tries per side; 0 skips them). */
async function swarmColdStarts(openSwarm: () => Promise<BenchTenant>, coldTries: number): Promise<SwarmColdResults | undefined> {
  const tries = intFromEnv('BENCH_SWARM_COLD_N', Math.min(coldTries, 10), 0, 200);
  if (tries === 0) return undefined;
  const tenant = await openSwarm();
  progress(`Swarm driver: napbox on port ${tenant.nb.port}, install ${tenant.nb.installId}; ${tries} cold tries per side`);
  return swarmColdResults(await measureSameContainerColdStarts(tenant, tries, progress));
}

/** Wakes from paused on a napbox of their own (BENCH_PAUSED_N tries per side; 0 skips them). */
async function pausedWakes(openPaused: () => Promise<BenchTenant>): Promise<PausedResults | undefined> {
  const tries = intFromEnv('BENCH_PAUSED_N', 21, 0, 500);
  if (tries === 0) return undefined;
  const tenant = await openPaused();
  progress(`paused tier: napbox on port ${tenant.nb.port}, install ${tenant.nb.installId}; ${tries} wakes from paused per side`);
  return measurePaused(tenant, tries, progress);
}

async function bench(
  tenant: BenchTenant,
  coldTries: number,
  warm: LoadSettings,
  started: Date,
  openSwarm: () => Promise<BenchTenant>,
  openPaused: () => Promise<BenchTenant>,
): Promise<void> {
  progress(`napbox on port ${tenant.nb.port}, install ${tenant.nb.installId}; ${coldTries} cold tries per side`);
  const loadTool = await loadToolName();
  const cold = await measureColdStarts(tenant, coldTries, progress);
  const paused = await pausedWakes(openPaused);
  const runs = await measureWarm(tenant, warm, progress);
  const messages = await measureMessages(tenant, { sequential: intFromEnv('BENCH_MESSAGES_N', 200, 10, 5000), sessions: 10, perSession: 30 }, progress);
  const images = await measureImages(tenant, progress);
  const sweep = await measureSweep(
    tenant,
    { tenants: intFromEnv('BENCH_SWEEP_TENANTS', 10_000, 10, 100_000), running: intFromEnv('BENCH_SWEEP_RUNNING', 100, 1, 1000), ticks: 15 },
    progress,
  );
  const coldSwarm = await swarmColdStarts(openSwarm, coldTries);
  const manyN = intFromEnv('BENCH_MANY_N', 1000, 0, 10_000);
  const many = manyN > 0 ? await measureMany(manyN, intFromEnv('BENCH_SWEEP_RUNNING', 100, 1, 1000), progress) : undefined;
  const run: RunInfo = {
    startedAt: started.toISOString(),
    seconds: (Date.now() - started.getTime()) / 1000,
    cpus: os.cpus().length,
    node: process.version,
    loadAverage: os.loadavg(),
    loadTool,
  };
  const results = {
    ...buildResults(run, cold, warm, runs, messages, sweep, images),
    ...(coldSwarm ? { coldSwarm } : {}),
    ...(many ? { many } : {}),
    ...(paused ? { paused } : {}),
  };
  process.stdout.write(renderTable(results));
  if (paused) process.stdout.write(`${pausedLines(paused).join('\n')}\n`);
  if (many) process.stdout.write(`${renderMany(many)}\n`);
  writeResults(results, OUT_FILE);
  writeHtmlReport(results, HTML_FILE);
  progress(`results written to ${path.relative(process.cwd(), OUT_FILE)}, plots to ${path.relative(process.cwd(), HTML_FILE)}`);
}

async function main(): Promise<void> {
  const started = new Date();
  const coldTries = intFromEnv('BENCH_COLD_N', 15, 1, 200);
  const warm: LoadSettings = { connections: 10, seconds: intFromEnv('BENCH_WARM_SECONDS', 8, 1, 120), warmupSeconds: 2, rounds: 2 };
  const tenant = await openBenchTenant();
  const tenants = [tenant];
  const openSwarm = async (): Promise<BenchTenant> => {
    const swarm = await openBenchTenant('swarm');
    tenants.push(swarm);
    return swarm;
  };
  const openPaused = async (): Promise<BenchTenant> => {
    const paused = await openPausedTenant();
    tenants.push(paused);
    return paused;
  };
  let closing: Promise<void> | undefined;
  // The cold stage's plain containers sit on napbox's network: removed first, also after Ctrl-C.
  const close = (): Promise<void> =>
    (closing ??= Promise.all(tenants.map((t) => removeBaselines(new Docker(), t.nb.installId).then(() => closeBenchTenant(t)))).then(() => undefined));
  closeOnSignal(close, (signal) => progress(`${signal}: removing the bench's containers`));
  try {
    await bench(tenant, coldTries, warm, started, openSwarm, openPaused);
  } finally {
    await close();
  }
}

runScript(main);
