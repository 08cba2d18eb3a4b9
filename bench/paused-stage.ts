// The bench's paused stage (in `npm run bench`, or alone: `node --import tsx
// bench/paused.ts`): waking a paused tenant, napbox against the engine alone. napbox: the
// tenant `bench` (the built-in page) is paused by the sweep after
// NAPBOX_PAUSE_AFTER; a try times GET / through napbox to its first byte.
// The engine alone: a plain container serving the same page bytes, paused
// with `docker pause`; a try times `unpause` to its first 200 on its bridge
// address, probed as napbox's readiness loop would. Interleaved, in one run.
// Target: napbox p50 < 40 ms and p90 < 60 ms. The napbox it measures is its
// own (NAPBOX_PAUSE_AFTER short), opened with `openPausedTenant`.

import Docker from 'dockerode';
import { performance } from 'node:perf_hooks';
import { api } from '../test/helpers/napbox-process.js';
import { APP_PORT, tenantLabels } from '../src/runtime/container-spec.js';
import { waitReady } from '../src/runtime/readiness.js';
import { NODE_BASE_TAG } from '../src/images/agent-image.js';
import { openBenchTenant, SLUG, type BenchTenant } from './bench-tenant.js';
import { BASELINE_PROBE, createBaseline, type BaselineContainer } from './cold-baseline.js';
import { builtInPage, pageCommand, timeToFirstByte } from './cold-start.js';
import { sleep, summarize, type Summary } from './stats.js';

const PAUSE_AFTER_MS = 300;
/** After the pause, before the try: the freezer and the engine settled, as after any idle pause. */
const SETTLE_MS = 300;
const TARGET = Object.freeze({ p50Ms: 40, p90Ms: 60 });

/** Waits until napbox says the tenant is paused. */
async function pausedByNapbox(tenant: BenchTenant): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const res = await api(tenant.nb, 'GET', `/api/tenants/${SLUG}`);
    if (res.json.state === 'paused') return;
    if (Date.now() > deadline) throw new Error(`the tenant was not paused within 20 s (state ${res.json.state}: ${res.json.reason})`);
    await sleep(50);
  }
}

async function napboxTry(tenant: BenchTenant): Promise<number> {
  await pausedByNapbox(tenant);
  await sleep(SETTLE_MS);
  const { ms, status } = await timeToFirstByte(tenant.nb.port, tenant.host, 10_000);
  if (status !== 200) throw new Error(`napbox answered the paused tenant's request with ${status}`);
  return ms;
}

async function baselineTry(docker: Docker, baseline: BaselineContainer, host: string): Promise<number> {
  const container = docker.getContainer(baseline.id);
  await container.pause();
  await sleep(SETTLE_MS);
  const started = performance.now();
  await container.unpause();
  const outcome = await waitReady({
    endpoint: { host, port: APP_PORT },
    path: '/',
    deadline: Date.now() + 10_000,
    stillRunning: async () => true,
    ...BASELINE_PROBE,
  });
  if (outcome.kind !== 'ready') throw new Error(`the plain container did not answer after its unpause: ${JSON.stringify(outcome)}`);
  return performance.now() - started;
}

function line(name: string, s: Summary): string {
  const f = (ms: number): string => `${ms.toFixed(1)} ms`.padStart(10);
  return `  ${name.padEnd(52)}${f(s.p50)}${f(s.p90)}${f(s.min)}${f(s.max)}`;
}

export interface PausedResults {
  readonly tries: number;
  readonly pauseAfterMs: number;
  readonly napbox: Summary;
  readonly plain: Summary;
  readonly met: boolean;
  readonly samples: { readonly napbox: readonly number[]; readonly plain: readonly number[] };
}

/** A napbox of its own whose tenant is paused after PAUSE_AFTER_MS. */
export function openPausedTenant(): Promise<BenchTenant> {
  return openBenchTenant('docker', { NAPBOX_PAUSE_AFTER: `${PAUSE_AFTER_MS}ms`, NAPBOX_SWEEP_INTERVAL: '100ms' });
}

/** `tries` interleaved wakes from paused, napbox's and the plain container's (plus an untimed round). */
export async function measurePaused(tenant: BenchTenant, tries: number, progress: (line: string) => void): Promise<PausedResults> {
  const docker = new Docker();
  const found = await tenant.driver.findByLabels(tenantLabels(tenant.nb.installId, SLUG));
  const info = await docker.getContainer(found[0]!.id).inspect();
  const network = Object.keys(info.NetworkSettings.Networks)[0]!;
  const baseline = await createBaseline(docker, {
    name: `napbox-bench-${tenant.nb.installId}-paused-page`,
    installId: tenant.nb.installId,
    image: NODE_BASE_TAG,
    network,
    argv: pageCommand(await builtInPage(SLUG)),
    env: { NAPBOX_TENANT: SLUG },
  });
  await docker.getContainer(baseline.id).start();
  const host = (await docker.getContainer(baseline.id).inspect()).NetworkSettings.Networks[network]?.IPAddress;
  if (!host) throw new Error('the plain container has no bridge address');
  const napbox: number[] = [];
  const plain: number[] = [];
  for (let i = 0; i <= tries; i += 1) {
    const a = await napboxTry(tenant);
    const b = await baselineTry(docker, baseline, host);
    if (i === 0) continue; // the untimed round
    napbox.push(a);
    plain.push(b);
    progress(`paused ${i}/${tries}: napbox ${a.toFixed(1)} ms, plain unpause ${b.toFixed(1)} ms`);
  }
  const [s, p] = [summarize(napbox), summarize(plain)];
  return { tries, pauseAfterMs: PAUSE_AFTER_MS, napbox: s, plain: p, met: s.p50 < TARGET.p50Ms && s.p90 < TARGET.p90Ms, samples: { napbox, plain } };
}

/** The stage's table. */
export function pausedLines(r: PausedResults): string[] {
  return [
    `Wake from paused: ${r.tries} tries each, interleaved; napbox paused the tenant itself (NAPBOX_PAUSE_AFTER=${r.pauseAfterMs}ms), the plain container was paused with docker pause`,
    `${' '.repeat(54)}p50       p90       min       max`,
    line('napbox, paused tenant: GET / to first byte', r.napbox),
    line('plain container: unpause to its first 200', r.plain),
    `  napbox / plain: p50 ${(r.napbox.p50 / r.plain.p50).toFixed(2)}x, p90 ${(r.napbox.p90 / r.plain.p90).toFixed(2)}x   target napbox p50 < ${TARGET.p50Ms} ms, p90 < ${TARGET.p90Ms} ms   ${r.met ? 'ok' : 'MISSED'}`,
  ];
}
