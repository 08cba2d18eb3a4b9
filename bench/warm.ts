// Warm requests: the tenant running, autocannon loads `GET /` on napbox
// (127.0.0.1, the tenant's Host header) and on the container directly (its
// bridge address, app port), with the same settings and keep-alive on both.
// A warm-up of each comes first, then rounds alternate direct, napbox. Req/s
// is autocannon's; latency percentiles come from every 2xx response's own
// time (autocannon's histogram keeps whole milliseconds only, too coarse for
// sub-millisecond differences), and autocannon's are kept alongside.

import autocannon from 'autocannon';
import { appEndpoint, stopEverywhere, wakeViaApi, type BenchTenant } from './bench-tenant.js';
import { summarize, type Summary } from './stats.js';

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
  /** autocannon's mean of its per-second request counts. */
  readonly requestsPerSec: number;
  readonly totalRequests: number;
  /** From every 2xx response's time, ms. */
  readonly latencyMs: Summary;
  /** autocannon's own histogram (whole ms). */
  readonly autocannonLatencyMs: { readonly p50: number; readonly p99: number };
  readonly non2xx: number;
  readonly errors: number;
  readonly timeouts: number;
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
    napbox: { url: `http://127.0.0.1:${tenant.nb.port}/`, headers: { host: tenant.host } },
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

interface Loaded {
  readonly result: autocannon.Result;
  readonly latencies: number[];
}

/** One autocannon run; collects the time of every 2xx response as it comes. */
function load(target: LoadTarget, connections: number, seconds: number): Promise<Loaded> {
  const latencies: number[] = [];
  return new Promise((resolve, reject) => {
    const instance = autocannon({ url: target.url, headers: target.headers, connections, duration: seconds, pipelining: 1 }, (err, result) => {
      if (err) reject(err instanceof Error ? err : new Error(String(err)));
      else resolve({ result, latencies });
    });
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
    });
  });
}

function toRun(target: WarmTarget, round: number, url: string, loaded: Loaded): LoadRun {
  const { result, latencies } = loaded;
  return {
    target,
    round,
    url,
    requestsPerSec: result.requests.average,
    totalRequests: result.requests.total,
    latencyMs: summarize(latencies),
    autocannonLatencyMs: { p50: result.latency.p50, p99: result.latency.p99 },
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
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
