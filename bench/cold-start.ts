// Cold start through napbox against what a user would run without napbox,
// for two tenants: the built-in page (`bench`) and a tenant whose own app is
// a one-line Node HTTP server (`bench-app`, `app.command`).
// - napbox: `GET /` on napbox's port with the tenant's Host header, timed from
//   sending the request to the first byte of the response (the headers);
// - baseline: the same app in a plain container from the Node.js base image
//   the tenant's image is built on (NODE_BASE_TAG: no runner, no napbox
//   environment such as its CA bundle, no mounts), started by the engine alone
//   (cold-baseline.ts), timed from the `start` call to its first 200. For the
//   built-in page, a one-line Node server of the same page's bytes.
// Tries alternate (napbox page, plain page, napbox app, plain app, ...) so the
// shared machine's noise falls on all alike; every try starts with nothing of
// the four running, after the same pause. One untimed round goes first.
// Each try's time is also split into stages (cold-breakdown.ts).
//
// On the Swarm driver, `measureSameContainerColdStarts` compares napbox with
// swarm alone scaling napbox's own service (runner included): a comparison of
// napbox's control path only, not of what the tenant's app would cost alone.

import Docker from 'dockerode';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { NODE_BASE_TAG } from '../src/images/agent-image.js';
import { APP_PORT, tenantLabels } from '../src/runtime/container-spec.js';
import { waitReady } from '../src/runtime/readiness.js';
import { api } from '../test/helpers/napbox-process.js';
import { containerId, SLUG, stopEverywhere, type BenchTenant } from './bench-tenant.js';
import { BASELINE_PROBE, baselineTry, createBaseline, removeBaselines, stopBaseline, type BaselineContainer } from './cold-baseline.js';
import { baselineStages, engineMarks, napboxReady, napboxStages, runnerMarksFrom, type Stages } from './cold-breakdown.js';
import { sleep } from './stats.js';

/** Pause between a stop and the next try, so the engine's clean-up of the stop is not timed. */
const SETTLE_MS = 300;
/** Bound on one try: far above any healthy cold start. */
const TRY_TIMEOUT_MS = 30_000;
/** How long to wait for napbox's "tenant ready" and the runner's "runner ready" log lines once the response is in. */
const LOG_WAIT_MS = 1_000;

/** The custom app: a one-line Node HTTP server, the same argv for napbox's tenant and for the plain container. */
const APP_SLUG = 'bench-app';
const APP_COMMAND = ['node', '-e', "require('http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT)"];
/** The built-in page of `slug`, as the runner renders it (container/runner/page.mjs). */
export async function builtInPage(slug: string): Promise<string> {
  const file = new URL('../container/runner/page.mjs', import.meta.url).href; // plain JavaScript: no types to resolve
  const { page } = (await import(file)) as { page: (tenant: string) => string };
  return page(slug);
}

/** A plain Node server of the built-in page's bytes: what a user would run to serve that page without napbox. */
export const pageCommand = (html: string): string[] => [
  'node',
  '-e',
  `const b=${JSON.stringify(html)};require('http').createServer((q,s)=>{s.writeHead(200,{'content-type':'text/html; charset=utf-8'});s.end(b)}).listen(process.env.PORT)`,
];

export const COLD_SETTINGS = Object.freeze({
  settleMs: SETTLE_MS,
  tryTimeoutMs: TRY_TIMEOUT_MS,
  baselineProbe: BASELINE_PROBE,
  baselineImage: NODE_BASE_TAG,
  appCommand: APP_COMMAND,
  pageCommand: pageCommand('<the built-in page>'),
});

export type ColdCase = 'page' | 'app';

export interface ColdCaseSamples {
  /** Time to first byte through napbox, ms. */
  readonly napboxMs: number[];
  /** napbox's own wake duration (its "tenant ready" log line), ms; null when the line was not seen. */
  readonly napboxWakeMs: Array<number | null>;
  /** The plain container: start to first 200, ms. */
  readonly baselineMs: number[];
  readonly napboxStages: Stages[];
  readonly baselineStages: Stages[];
}

export type ColdStartSamples = Readonly<Record<ColdCase, ColdCaseSamples>>;

interface Side {
  readonly slug: string;
  readonly host: string;
  readonly baseline: BaselineContainer;
}

export async function measureColdStarts(tenant: BenchTenant, tries: number, progress: (line: string) => void): Promise<ColdStartSamples> {
  const docker = new Docker();
  const samples: ColdStartSamples = { page: emptySamples(), app: emptySamples() };
  try {
    const sides = await prepareSides(tenant, docker);
    const all = Object.values(sides);
    for (let i = 0; i <= tries; i += 1) {
      const line: string[] = [];
      for (const kind of ['page', 'app'] as const) {
        const side = sides[kind];
        const nap = await napboxTry(tenant, docker, side, all);
        const base = await plainTry(tenant, docker, side, all);
        if (i === 0) continue; // the untimed round
        const s = samples[kind];
        s.napboxMs.push(nap.ms);
        s.napboxWakeMs.push(nap.wakeMs);
        s.napboxStages.push(nap.stages);
        s.baselineMs.push(base.ms);
        s.baselineStages.push(base.stages);
        line.push(`${kind}: napbox ${nap.ms.toFixed(1)} ms (its wake ${nap.wakeMs ?? '?'} ms), plain ${base.ms.toFixed(1)} ms`);
      }
      if (i > 0) progress(`cold ${i}/${tries}: ${line.join('; ')}`);
    }
    await stopTenant(tenant, docker, APP_SLUG);
    return samples;
  } finally {
    await removeBaselines(docker, tenant.nb.installId);
  }
}

function emptySamples(): ColdCaseSamples {
  return { napboxMs: [], napboxWakeMs: [], baselineMs: [], napboxStages: [], baselineStages: [] };
}

/** Creates the custom-app tenant and wakes both once (so their images and containers exist), then the plain containers beside them. */
async function prepareSides(tenant: BenchTenant, docker: Docker): Promise<Record<ColdCase, Side>> {
  const created = await api(tenant.nb, 'POST', '/api/tenants', { slug: APP_SLUG, app: { command: APP_COMMAND } });
  if (created.status !== 201) throw new Error(`creating ${APP_SLUG} answered ${created.status}: ${JSON.stringify(created.json)}`);
  const woken = await api(tenant.nb, 'POST', `/api/tenants/${APP_SLUG}/wake`);
  if (woken.status !== 200) throw new Error(`waking ${APP_SLUG} answered ${woken.status}: ${JSON.stringify(woken.json)}`);
  const sides = {} as Record<ColdCase, Side>;
  for (const [kind, slug, argv] of [
    ['page', SLUG, pageCommand(await builtInPage(SLUG))],
    ['app', APP_SLUG, APP_COMMAND],
  ] as const) {
    const info = await docker.getContainer(await tenantContainer(tenant, slug)).inspect();
    const network = Object.keys(info.NetworkSettings.Networks)[0];
    if (!network) throw new Error(`the container of ${slug} is on no network`);
    const baseline = await createBaseline(docker, {
      name: `napbox-bench-${tenant.nb.installId}-plain-${kind}`,
      installId: tenant.nb.installId,
      image: NODE_BASE_TAG,
      network,
      argv,
      env: { NAPBOX_TENANT: slug },
    });
    sides[kind] = { slug, host: `${slug}.localhost:${tenant.nb.port}`, baseline };
  }
  return sides;
}

/** Nothing of the stage runs: every tenant stopped (napbox knows it), every plain container stopped. */
async function stopAll(tenant: BenchTenant, docker: Docker, all: readonly Side[]): Promise<void> {
  for (const side of all) {
    await stopTenant(tenant, docker, side.slug);
    await stopBaseline(docker, side.baseline);
  }
}

async function stopTenant(tenant: BenchTenant, docker: Docker, slug: string): Promise<void> {
  if (slug === SLUG) return stopEverywhere(tenant);
  const res = await api(tenant.nb, 'POST', `/api/tenants/${slug}/stop`);
  if (res.status !== 200) throw new Error(`stopping ${slug} answered ${res.status}`);
  await docker
    .getContainer(await tenantContainer(tenant, slug))
    .stop({ t: 10 })
    .catch(() => undefined); // not running
}

async function tenantContainer(tenant: BenchTenant, slug: string): Promise<string> {
  if (slug === SLUG) return containerId(tenant);
  const found = await tenant.driver.findByLabels(tenantLabels(tenant.nb.installId, slug));
  if (found.length !== 1) throw new Error(`expected one container for tenant ${slug}, found ${found.length}`);
  return found[0]!.id;
}

async function napboxTry(
  tenant: BenchTenant,
  docker: Docker,
  side: Side,
  all: readonly Side[],
): Promise<{ ms: number; wakeMs: number | null; stages: Stages }> {
  await stopAll(tenant, docker, all);
  await sleep(SETTLE_MS);
  const logFrom = tenant.nb.output().length;
  const t0 = performance.timeOrigin + performance.now();
  const { ms, status } = await timeToFirstByte(tenant.nb.port, side.host, TRY_TIMEOUT_MS);
  if (status !== 200) throw new Error(`napbox answered the cold request to ${side.slug} with ${status}`);
  const id = await tenantContainer(tenant, side.slug);
  const wake = await logged(() => napboxReady(tenant.nb.output().slice(logFrom), side.slug));
  // The runner's line of this start (a container's log keeps those of its earlier starts).
  const runner = await logged(async () => {
    const marks = runnerMarksFrom(await tenant.driver.logs(id, { tail: 40 }));
    return marks && marks.processStart >= t0 ? marks : undefined;
  });
  const stages = napboxStages(t0, t0 + ms, await engineMarks(docker, id, t0), runner, wake?.at);
  return { ms, wakeMs: wake?.ms ?? null, stages };
}

async function plainTry(tenant: BenchTenant, docker: Docker, side: Side, all: readonly Side[]): Promise<{ ms: number; stages: Stages }> {
  await stopAll(tenant, docker, all);
  await sleep(SETTLE_MS);
  const { startedAt, ms } = await baselineTry(docker, side.baseline, TRY_TIMEOUT_MS);
  return { ms, stages: baselineStages(startedAt, startedAt + ms, await engineMarks(docker, side.baseline.id, startedAt)) };
}

/** Sends `GET /` to napbox; resolves with the time to the response headers once the body is read. */
export function timeToFirstByte(port: number, host: string, timeoutMs: number): Promise<{ ms: number; status: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = http.request({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false, timeout: timeoutMs }, (res) => {
      const ms = performance.now() - started;
      res.resume();
      res.once('end', () => resolve({ ms, status: res.statusCode ?? 0 }));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer from napbox within ${timeoutMs} ms`)));
    req.once('error', reject);
    req.end();
  });
}

/** `read()`'s value once it has one, trying for LOG_WAIT_MS; undefined if it never had. */
async function logged<T>(read: () => T | undefined | Promise<T | undefined>): Promise<T | undefined> {
  const deadline = Date.now() + LOG_WAIT_MS;
  for (;;) {
    const value = await read();
    if (value !== undefined || Date.now() >= deadline) return value;
    await sleep(10);
  }
}

// ---- the Swarm driver: napbox against swarm alone on napbox's own service ----

export interface SameContainerSamples {
  readonly napboxMs: number[];
  readonly napboxWakeMs: Array<number | null>;
  /** Start to first answer of napbox's own container (runner included), on the engine alone, ms. */
  readonly engineMs: number[];
}

export async function measureSameContainerColdStarts(tenant: BenchTenant, tries: number, progress: (line: string) => void): Promise<SameContainerSamples> {
  const samples: SameContainerSamples = { napboxMs: [], napboxWakeMs: [], engineMs: [] };
  const sameTry = async (): Promise<{ ms: number; wakeMs: number | null }> => {
    await stopEverywhere(tenant);
    await sleep(SETTLE_MS);
    const logFrom = tenant.nb.output().length;
    const { ms, status } = await timeToFirstByte(tenant.nb.port, tenant.host, TRY_TIMEOUT_MS);
    if (status !== 200) throw new Error(`napbox answered the cold request with ${status}`);
    return { ms, wakeMs: (await logged(() => napboxReady(tenant.nb.output().slice(logFrom), SLUG)))?.ms ?? null };
  };
  await sameTry();
  await engineAloneTry(tenant);
  for (let i = 1; i <= tries; i += 1) {
    const nap = await sameTry();
    const eng = await engineAloneTry(tenant);
    samples.napboxMs.push(nap.ms);
    samples.napboxWakeMs.push(nap.wakeMs);
    samples.engineMs.push(eng);
    progress(`swarm cold ${i}/${tries}: napbox ${nap.ms.toFixed(1)} ms (its wake ${nap.wakeMs ?? '?'} ms), swarm alone ${eng.toFixed(1)} ms`);
  }
  return samples;
}

async function engineAloneTry(tenant: BenchTenant): Promise<number> {
  await stopEverywhere(tenant);
  const id = await containerId(tenant);
  await sleep(SETTLE_MS);
  const started = performance.now();
  await tenant.driver.start(id);
  const info = await tenant.driver.inspect(id);
  if (!info?.bridgeIp) throw new Error('the started container has no bridge address');
  const outcome = await waitReady({
    endpoint: { host: info.bridgeIp, port: APP_PORT },
    path: '/',
    deadline: Date.now() + TRY_TIMEOUT_MS,
    stillRunning: async () => (await tenant.driver.inspect(id))?.running ?? false,
    ...BASELINE_PROBE,
  });
  const ms = performance.now() - started;
  if (outcome.kind !== 'ready') throw new Error(`the container started by swarm alone was not ready: ${JSON.stringify(outcome)}`);
  return ms;
}
