// The sweep at scale: one tick with 10,000 tenants registered and 100 of them
// running (BENCH_SWEEP_TENANTS, BENCH_SWEEP_RUNNING), timed by napbox itself (POST /api/sweep returns the tick's ms),
// next to the floor of any tick, one engine listing of the install's
// containers, timed here in the same run. Also napbox's resident memory
// before and after the 1,000 tenants are registered.

import fs from 'node:fs';
import { api } from '../test/helpers/napbox-process.js';
import type { BenchTenant } from './bench-tenant.js';
import { summarize, type Summary } from './stats.js';

export interface SweepSettings {
  readonly tenants: number;
  readonly running: number;
  readonly ticks: number;
}

export interface SweepResults {
  readonly settings: SweepSettings;
  readonly tickMs: Summary;
  readonly engineListMs: Summary;
  readonly rssBeforeMiB: number;
  readonly rssAfterMiB: number;
}

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? NaN);
  return kb / 1024;
}

async function call(tenant: BenchTenant, method: string, path: string, body?: unknown): Promise<any> {
  const res = await api(tenant.nb, method, path, body);
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(res.json)}`);
  return res.json;
}

export async function measureSweep(tenant: BenchTenant, settings: SweepSettings, progress: (line: string) => void): Promise<SweepResults> {
  const pid = tenant.nb.proc.pid!;
  const rssBeforeMiB = rssMiB(pid);
  const existing = (await call(tenant, 'GET', '/api/tenants')).tenants.length as number;
  for (let i = existing; i < settings.tenants; i += 1) await call(tenant, 'POST', '/api/tenants', { slug: `t${String(i).padStart(4, '0')}` });
  const rssAfterMiB = rssMiB(pid);
  progress(`registered ${settings.tenants} tenants; waking ${settings.running}`);
  const slugs = (await call(tenant, 'GET', '/api/tenants')).tenants.map((t: { slug: string }) => t.slug) as string[];
  const toWake = slugs.filter((s) => s !== 'bench').slice(0, settings.running - 1);
  for (let i = 0; i < toWake.length; i += 4) await Promise.all(toWake.slice(i, i + 4).map((s) => call(tenant, 'POST', `/api/tenants/${s}/wake`)));
  const ticks: number[] = [];
  const lists: number[] = [];
  for (let i = 0; i < settings.ticks; i += 1) {
    const t0 = performance.now();
    await tenant.driver.findByLabels({ 'napbox.install': tenant.nb.installId });
    lists.push(performance.now() - t0);
    const report = (await call(tenant, 'POST', '/api/sweep')) as { ms: number; decisions: Record<string, unknown> };
    if (Object.keys(report.decisions).length < settings.running)
      throw new Error(`the tick judged ${Object.keys(report.decisions).length} tenants, not ${settings.running}`);
    ticks.push(report.ms);
  }
  return { settings, tickMs: summarize(ticks), engineListMs: summarize(lists), rssBeforeMiB, rssAfterMiB };
}
