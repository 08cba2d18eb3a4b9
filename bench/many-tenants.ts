// Many tenants on one engine (issue 13): every tenant is woken once through
// its URL and stopped again, one after another, as a new install's tenants
// would be over time; the cold start of the 1st, 100th, 500th and 1,000th
// tenant ever woken (p50 of the ten around each, to damp the machine's noise)
// is compared with the first. Then `running` tenants at once, and napbox's
// resident memory with them running.
//
// `npm run bench` runs it (BENCH_MANY_N tenants, default 1000; 0 skips it);
// alone: node --import tsx bench/many-tenants.ts [tenants] [running].

import fs from 'node:fs';
import { api, removeInstall, request, startNapbox, type NapboxProcess } from '../test/helpers/napbox-process.js';
import { summarize } from './stats.js';

export interface ManyResults {
  readonly tenants: number;
  readonly running: number;
  /** At the nth tenant ever woken: p50 cold start (ms) of the ten around it, and its ratio to the first ten. */
  readonly at: readonly { readonly nth: number; readonly p50Ms: number; readonly ratio: number }[];
  readonly failures: number;
  readonly rssIdleMiB: number;
  readonly rssRunningMiB: number;
  readonly networks: number;
}

function rssMiB(pid: number): number {
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
  return Math.round((kb / 1024) * 10) / 10;
}

const slugOf = (i: number): string => `m${String(i).padStart(5, '0')}`;

export async function measureMany(tenants: number, running: number, progress: (line: string) => void): Promise<ManyResults> {
  const nb: NapboxProcess = await startNapbox({ env: { NAPBOX_SWEEP_INTERVAL: '1h' } });
  try {
    for (let i = 1; i <= tenants; i++) {
      const res = await api(nb, 'POST', '/api/tenants', { slug: slugOf(i) });
      if (res.status !== 201) throw new Error(`create ${slugOf(i)}: ${res.status}`);
    }
    const rssIdleMiB = rssMiB(nb.proc.pid!);
    const cold: number[] = [];
    let failures = 0;
    for (let i = 1; i <= tenants; i++) {
      const t0 = performance.now();
      const res = await request(nb.port, { host: `${slugOf(i)}.localhost:${nb.port}` });
      cold.push(performance.now() - t0);
      if (res.status !== 200) failures += 1;
      await api(nb, 'POST', `/api/tenants/${slugOf(i)}/stop`);
      if (i % 50 === 0)
        progress(
          `many tenants: ${i} of ${tenants} woken and stopped (${failures} failed); cold start p50 of the last 10: ${summarize(cold.slice(-10)).p50.toFixed(0)} ms`,
        );
    }
    const window = (nth: number): number => {
      const from = Math.max(0, Math.min(nth - 5, cold.length - 10));
      return summarize(cold.slice(from, from + 10)).p50;
    };
    const first = window(1);
    const at = [1, 100, 500, 1000]
      .filter((n) => n <= tenants)
      .map((nth) => ({ nth, p50Ms: Math.round(window(nth)), ratio: Math.round((window(nth) / first) * 100) / 100 }));
    const toWake = Array.from({ length: Math.min(running, tenants) }, (_, k) => slugOf(k + 1));
    for (let i = 0; i < toWake.length; i += 4) await Promise.all(toWake.slice(i, i + 4).map((s) => api(nb, 'POST', `/api/tenants/${s}/wake`)));
    await new Promise((r) => setTimeout(r, 2000));
    const rssRunningMiB = rssMiB(nb.proc.pid!);
    const { DockerDriver } = await import('../src/runtime/docker-driver.js');
    const networks = (await new DockerDriver().findNetworksByLabels({ 'napbox.install': nb.installId })).length;
    return { tenants, running: toWake.length, at, failures, rssIdleMiB, rssRunningMiB, networks };
  } finally {
    await nb.stop().catch(() => nb.kill());
    await removeInstall(nb.installId);
    fs.rmSync(nb.dataDir, { recursive: true, force: true });
  }
}

export function renderMany(r: ManyResults): string {
  const lines = [
    `many tenants: ${r.tenants} woken one after another (${r.failures} failed), ${r.running} then running at once, ${r.networks} network(s) for the install`,
  ];
  for (const a of r.at)
    lines.push(
      `  cold start of the ${String(a.nth).padStart(4)}th tenant ever woken: p50 ${String(a.p50Ms).padStart(5)} ms  ${a.ratio.toFixed(2)}x the first (target within 0.85-1.15x)`,
    );
  lines.push(
    `  napbox resident memory: ${r.rssIdleMiB} MiB with ${r.tenants} registered, ${r.rssRunningMiB} MiB with ${r.running} running (${((r.rssRunningMiB - r.rssIdleMiB) / Math.max(1, r.running)).toFixed(2)} MiB per running tenant)`,
  );
  return lines.join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const tenants = Number(process.argv[2] ?? 1000);
  const running = Number(process.argv[3] ?? 100);
  const results = await measureMany(tenants, running, (line) => process.stderr.write(`bench: ${line}\n`));
  console.log(renderMany(results));
}
