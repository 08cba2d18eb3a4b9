// Per-tenant images: the time of a PUT of unchanged package lists (no build,
// the cached path) next to a plain admin read in the same run, and napbox's
// event-loop delay (its own prom-client metric, 1 ms resolution) while an
// image build runs, next to the same figure with no build.

import { api, request } from '../test/helpers/napbox-process.js';
import { SLUG, type BenchTenant } from './bench-tenant.js';
import { summarize, sleep, type Summary } from './stats.js';

export interface ImageResults {
  readonly cachedPutMs: Summary;
  readonly plainGetMs: Summary;
  readonly loopP99IdleMs: number;
  readonly loopP99BuildingMs: number;
  readonly buildSeconds: number;
}

const LISTS = { apt: ['jq'], npm: ['is-number'] };

/** napbox's event-loop delay p99 since the previous scrape (prom-client resets it on each), ms. */
async function loopP99(tenant: BenchTenant): Promise<number> {
  const res = await request(tenant.nb.port, { path: '/metrics' });
  const match = /^nodejs_eventloop_lag_p99_seconds (\S+)$/m.exec(res.body);
  if (!match) throw new Error('no nodejs_eventloop_lag_p99_seconds in /metrics');
  return Number(match[1]) * 1000;
}

async function timedCalls(n: number, call: () => Promise<unknown>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const t0 = performance.now();
    await call();
    out.push(performance.now() - t0);
  }
  return out;
}

export async function measureImages(tenant: BenchTenant, progress: (line: string) => void): Promise<ImageResults> {
  await loopP99(tenant);
  await sleep(4000);
  const loopP99IdleMs = await loopP99(tenant);

  const started = performance.now();
  const put = await api(tenant.nb, 'PUT', `/api/tenants/${SLUG}/packages`, LISTS);
  if (put.status !== 202 && put.status !== 200) throw new Error(`PUT packages: ${put.status} ${JSON.stringify(put.json)}`);
  const windows: number[] = [];
  for (;;) {
    await sleep(1000);
    windows.push(await loopP99(tenant));
    const build = (await api(tenant.nb, 'GET', `/api/builds/${put.json.id}`)).json;
    if (build.state === 'ready' || build.state === 'failed') {
      if (build.state === 'failed') throw new Error(`the bench build failed: ${build.error}`);
      break;
    }
    if (performance.now() - started > 300_000) throw new Error('the bench build took over 5 minutes');
  }
  const buildSeconds = (performance.now() - started) / 1000;
  progress(`image build took ${buildSeconds.toFixed(1)} s; event-loop p99 per 1 s window: ${windows.map((w) => w.toFixed(1)).join(', ')} ms`);

  const cachedPutMs = await timedCalls(30, async () => {
    const res = await api(tenant.nb, 'PUT', `/api/tenants/${SLUG}/packages`, LISTS);
    if (res.json.state !== 'ready') throw new Error(`an unchanged PUT was not served from cache: ${JSON.stringify(res.json)}`);
  });
  const plainGetMs = await timedCalls(30, () => api(tenant.nb, 'GET', `/api/tenants/${SLUG}`));
  return { cachedPutMs: summarize(cachedPutMs), plainGetMs: summarize(plainGetMs), loopP99IdleMs, loopP99BuildingMs: Math.max(...windows), buildSeconds };
}
