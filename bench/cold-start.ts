// Cold start through napbox against the engine alone, on the same container.
// - napbox: `GET /` on napbox's port with the tenant's Host header, timed from
//   sending the request to the first byte of the response (the headers);
// - engine alone: `start` of the container, then `inspect` for its bridge
//   address and napbox's own readiness loop (5 ms between attempts, 250 ms
//   per attempt) against `GET /` on the app port, timed from the `start`
//   call to the first 200.
// Tries alternate (napbox, engine, napbox, ...) so the shared machine's noise
// falls on both alike; every try starts from the same stopped state, after
// the same pause. One untimed round of each goes first.

import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { APP_PORT } from '../src/runtime/container-spec.js';
import { waitReady } from '../src/runtime/readiness.js';
import { containerId, stopEverywhere, type BenchTenant } from './bench-tenant.js';
import { sleep } from './stats.js';

/** Pause between a stop and the next try, so the engine's clean-up of the stop is not timed. */
const SETTLE_MS = 300;
/** Bound on one try: far above any healthy cold start. */
const TRY_TIMEOUT_MS = 30_000;
/** The engine-alone readiness loop: napbox's own defaults (src/runtime/readiness.ts). */
const PROBE = { attemptTimeoutMs: 250, intervalMs: 5 } as const;
/** How long to wait for napbox's "tenant ready" log line once the response is in. */
const LOG_WAIT_MS = 1_000;

export const COLD_SETTINGS = Object.freeze({ settleMs: SETTLE_MS, tryTimeoutMs: TRY_TIMEOUT_MS, engineProbe: PROBE });

export interface ColdStartSamples {
  /** Time to first byte through napbox, ms. */
  readonly napboxMs: number[];
  /** napbox's own wake duration (its "tenant ready" log line), ms; null when the line was not seen. */
  readonly napboxWakeMs: Array<number | null>;
  /** Start to first answer on the engine alone, ms. */
  readonly engineMs: number[];
  /** Readiness attempts the engine-alone tries needed. */
  readonly engineAttempts: number[];
}

export async function measureColdStarts(tenant: BenchTenant, tries: number, progress: (line: string) => void): Promise<ColdStartSamples> {
  const samples: ColdStartSamples = { napboxMs: [], napboxWakeMs: [], engineMs: [], engineAttempts: [] };
  await napboxTry(tenant);
  await engineTry(tenant);
  for (let i = 1; i <= tries; i += 1) {
    const nap = await napboxTry(tenant);
    const eng = await engineTry(tenant);
    samples.napboxMs.push(nap.ms);
    samples.napboxWakeMs.push(nap.wakeMs);
    samples.engineMs.push(eng.ms);
    samples.engineAttempts.push(eng.attempts);
    progress(`cold ${i}/${tries}: napbox ${nap.ms.toFixed(1)} ms (its wake ${nap.wakeMs ?? '?'} ms), engine ${eng.ms.toFixed(1)} ms (${eng.attempts} probes)`);
  }
  return samples;
}

async function napboxTry(tenant: BenchTenant): Promise<{ ms: number; wakeMs: number | null }> {
  await stopEverywhere(tenant);
  await sleep(SETTLE_MS);
  const logFrom = tenant.nb.output().length;
  const { ms, status } = await timeToFirstByte(tenant.nb.port, tenant.host, TRY_TIMEOUT_MS);
  if (status !== 200) throw new Error(`napbox answered the cold request with ${status}`);
  return { ms, wakeMs: await wakeLogged(tenant, logFrom) };
}

async function engineTry(tenant: BenchTenant): Promise<{ ms: number; attempts: number }> {
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
    ...PROBE,
  });
  const ms = performance.now() - started;
  if (outcome.kind !== 'ready') throw new Error(`the container started by the engine alone was not ready: ${JSON.stringify(outcome)}`);
  return { ms, attempts: outcome.attempts };
}

/** Sends `GET /` to napbox; resolves with the time to the response headers once the body is read. */
function timeToFirstByte(port: number, host: string, timeoutMs: number): Promise<{ ms: number; status: number }> {
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

/** The `ms` of the first "tenant ready" line napbox logged after `from` in its output. */
async function wakeLogged(tenant: BenchTenant, from: number): Promise<number | null> {
  const deadline = Date.now() + LOG_WAIT_MS;
  for (;;) {
    const ms = tenant.nb
      .output()
      .slice(from)
      .split('\n')
      .map(wakeMsOf)
      .find((x) => x !== undefined);
    if (ms !== undefined) return ms;
    if (Date.now() >= deadline) return null;
    await sleep(10);
  }
}

function wakeMsOf(line: string): number | undefined {
  if (!line.includes('"tenant ready"')) return undefined;
  try {
    const ms = (JSON.parse(line) as { ms?: unknown }).ms;
    return typeof ms === 'number' ? ms : undefined;
  } catch {
    return undefined; // a line still being written
  }
}
