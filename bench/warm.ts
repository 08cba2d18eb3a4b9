// Warm requests: the tenant running, wrk loads `GET /` on napbox (127.0.0.1,
// the tenant's Host header) and on the container directly (its bridge
// address, app port), with the same settings and keep-alive on both. A
// warm-up of each comes first, then rounds alternate direct, napbox. wrk is a
// C load generator (Debian's package): it takes far less of the 2 shared cores
// than a Node one would, so the ratio measures napbox, not the load tool.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { appEndpoint, stopEverywhere, wakeViaApi, type BenchTenant } from './bench-tenant.js';

const run = promisify(execFile);
export type WarmTarget = 'direct' | 'napbox';

export interface LoadSettings {
  readonly connections: number;
  readonly seconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
}

export interface LoadRun {
  readonly target: WarmTarget;
  readonly round: number;
  readonly url: string;
  readonly requestsPerSec: number;
  readonly totalRequests: number;
  /** wrk's latency distribution, ms. */
  readonly latencyMs: { readonly p50: number; readonly p90: number; readonly p99: number };
  readonly non2xx: number;
  readonly errors: number;
}

interface LoadTarget {
  readonly url: string;
  readonly headers: Record<string, string>;
}

export async function measureWarm(tenant: BenchTenant, settings: LoadSettings, progress: (line: string) => void): Promise<LoadRun[]> {
  await stopEverywhere(tenant); // napbox must learn through its own wake where the container is
  await wakeViaApi(tenant);
  const app = await appEndpoint(tenant);
  const targets: Record<WarmTarget, LoadTarget> = {
    direct: { url: `http://${app.host}:${app.port}/`, headers: {} },
    napbox: { url: `http://127.0.0.1:${tenant.nb.port}/`, headers: { Host: tenant.host } }, // wrk only replaces its own Host when spelled so
  };
  const order: WarmTarget[] = ['direct', 'napbox'];
  for (const target of order) await load(targets[target], settings.connections, settings.warmupSeconds);
  const runs: LoadRun[] = [];
  for (let round = 1; round <= settings.rounds; round += 1) {
    for (const target of order) {
      const run = toRun(target, round, targets[target].url, await load(targets[target], settings.connections, settings.seconds));
      runs.push(run);
      progress(
        `warm ${target} round ${round}: ${run.requestsPerSec.toFixed(0)} req/s, p50 ${run.latencyMs.p50.toFixed(2)} ms, p99 ${run.latencyMs.p99.toFixed(2)} ms`,
      );
    }
  }
  return runs;
}

const UNIT_MS: Record<string, number> = { us: 0.001, ms: 1, s: 1000 };

function latency(text: string, percent: number): number {
  const match = new RegExp(`^\\s*${percent}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(text);
  if (!match) throw new Error(`wrk printed no ${percent}% latency:\n${text}`);
  return Number(match[1]) * (UNIT_MS[match[2]!] ?? NaN);
}

/** Parses what `wrk --latency` prints. */
export function parseWrk(text: string): Omit<LoadRun, 'target' | 'round' | 'url'> {
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(text);
  const total = /^\s*(\d+) requests in/m.exec(text);
  if (!rps || !total) throw new Error(`unexpected wrk output:\n${text}`);
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = socketErrors ? socketErrors.slice(1).reduce((sum, n) => sum + Number(n), 0) : 0;
  const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(text)?.[1] ?? 0);
  return {
    requestsPerSec: Number(rps[1]),
    totalRequests: Number(total[1]),
    latencyMs: { p50: latency(text, 50), p90: latency(text, 90), p99: latency(text, 99) },
    non2xx,
    errors,
  };
}

/** One wrk run (one thread, keep-alive); bounded by its duration plus a margin. */
async function load(target: LoadTarget, connections: number, seconds: number): Promise<Omit<LoadRun, 'target' | 'round' | 'url'>> {
  const headers = Object.entries(target.headers).flatMap(([k, v]) => ['-H', `${k}: ${v}`]);
  const { stdout } = await run('wrk', ['-t1', `-c${connections}`, `-d${seconds}s`, '--latency', ...headers, target.url], { timeout: (seconds + 30) * 1000 });
  return parseWrk(stdout);
}

function toRun(target: WarmTarget, round: number, url: string, loaded: Omit<LoadRun, 'target' | 'round' | 'url'>): LoadRun {
  return { target, round, url, ...loaded };
}

/** Of each target's runs, the one with the most req/s. */
export function bestRuns(runs: readonly LoadRun[]): Record<WarmTarget, LoadRun> {
  const best = (target: WarmTarget): LoadRun => {
    const mine = runs.filter((r) => r.target === target);
    if (mine.length === 0) throw new Error(`no warm run against ${target}`);
    return mine.reduce((a, b) => (b.requestsPerSec > a.requestsPerSec ? b : a));
  };
  return { direct: best('direct'), napbox: best('napbox') };
}
