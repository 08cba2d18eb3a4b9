// The bench's results: derived figures (ratios against the baselines of the
// same run, targets met or missed), the table printed to stdout and the JSON
// written to bench/out/results.json. Pure apart from `writeResults`.

import fs from 'node:fs';
import path from 'node:path';
import { summarize, type Summary } from './stats.js';
import { COLD_SETTINGS, type ColdCase, type ColdCaseSamples, type ColdStartSamples, type SameContainerSamples } from './cold-start.js';
import { STAGE_SPANS, STAGES, type Stage, type Stages } from './cold-breakdown.js';
import { bestRuns, type LoadRun, type LoadSettings, type WarmTarget } from './warm.js';
import type { MessageResults } from './messages.js';
import type { SweepResults } from './sweep.js';
import type { ImageResults } from './images.js';
import { renderHtml, type ReportInput } from './html-report.js';

export const TARGETS = Object.freeze({
  coldRatioMax: 1.15,
  coldP90RatioMax: 1.25,
  throughputRatioMin: 0.5,
  addedP99MsMax: 2,
  sweepTickMsMax: 20,
  cachedPutMsMax: 100,
  buildLoopP99MsMax: 20,
});

export interface RunInfo {
  readonly startedAt: string;
  readonly seconds: number;
  readonly cpus: number;
  readonly node: string;
  readonly loadAverage: readonly number[];
  readonly loadTool: string;
}

/** One cold-start case (the built-in page, or the custom app): napbox against the same app in a plain container. */
export interface ColdCaseResults {
  readonly tries: number;
  readonly napboxMs: Summary;
  readonly napboxWakeMs: Summary;
  readonly baselineMs: Summary;
  readonly ratioP50: number;
  readonly ratioP90: number;
  /** p50(napbox) - p50(baseline), ms. */
  readonly addedP50Ms: number;
  readonly met: boolean;
  /** Each stage's summary over the tries that had it (null: none had). */
  readonly stages: { readonly napbox: Readonly<Record<Stage, Summary | null>>; readonly baseline: Readonly<Record<Stage, Summary | null>> };
  readonly samples: ColdCaseSamples;
}

export interface ColdResults {
  readonly page: ColdCaseResults;
  readonly app: ColdCaseResults;
  readonly settings: typeof COLD_SETTINGS;
}

/** On the Swarm driver: napbox against swarm alone scaling napbox's own service (runner included). */
export interface SwarmColdResults {
  readonly tries: number;
  readonly napboxMs: Summary;
  readonly napboxWakeMs: Summary;
  readonly engineMs: Summary;
  readonly ratioP50: number;
  readonly addedP50Ms: number;
  readonly samples: SameContainerSamples;
}

export interface BenchResults {
  readonly run: RunInfo;
  /** On the plain Docker driver. */
  readonly cold: ColdResults;
  /** On the Swarm driver (NAPBOX_DRIVER=swarm): napbox, and swarm alone on the same service (scale to 1, task running, first 200). */
  readonly coldSwarm?: SwarmColdResults;
  readonly warm: {
    readonly settings: LoadSettings & { readonly keepAlive: true; readonly pipelining: 1 };
    readonly best: Record<WarmTarget, LoadRun>;
    readonly throughputRatio: number;
    readonly addedP50Ms: number;
    readonly addedP99Ms: number;
    readonly throughputMet: boolean;
    readonly latencyMet: boolean;
    readonly runs: readonly LoadRun[];
  };
  readonly messages: MessageResults;
  readonly sweep: SweepResults;
  readonly images: ImageResults;
  readonly targets: typeof TARGETS;
}

function stageSummaries(stages: readonly Stages[]): Record<Stage, Summary | null> {
  const out = {} as Record<Stage, Summary | null>;
  for (const stage of STAGES) {
    const values = stages.map((s) => s[stage]).filter((x): x is number => x !== null);
    out[stage] = values.length > 0 ? summarize(values) : null;
  }
  return out;
}

function coldCaseResults(cold: ColdCaseSamples): ColdCaseResults {
  const napboxMs = summarize(cold.napboxMs);
  const baselineMs = summarize(cold.baselineMs);
  const ratioP50 = napboxMs.p50 / baselineMs.p50;
  const ratioP90 = napboxMs.p90 / baselineMs.p90;
  return {
    tries: cold.napboxMs.length,
    napboxMs,
    napboxWakeMs: summarize(cold.napboxWakeMs.filter((x): x is number => x !== null)),
    baselineMs,
    ratioP50,
    ratioP90,
    addedP50Ms: napboxMs.p50 - baselineMs.p50,
    met: ratioP50 <= TARGETS.coldRatioMax && ratioP90 <= TARGETS.coldP90RatioMax,
    stages: { napbox: stageSummaries(cold.napboxStages), baseline: stageSummaries(cold.baselineStages) },
    samples: cold,
  };
}

/** Cold-start samples summarized, each case's napbox p50 and p90 as ratios of its plain container's. */
export function coldResults(cold: ColdStartSamples): ColdResults {
  return { page: coldCaseResults(cold.page), app: coldCaseResults(cold.app), settings: COLD_SETTINGS };
}

export function swarmColdResults(cold: SameContainerSamples): SwarmColdResults {
  const napboxMs = summarize(cold.napboxMs);
  const engineMs = summarize(cold.engineMs);
  return {
    tries: cold.napboxMs.length,
    napboxMs,
    napboxWakeMs: summarize(cold.napboxWakeMs.filter((x): x is number => x !== null)),
    engineMs,
    ratioP50: napboxMs.p50 / engineMs.p50,
    addedP50Ms: napboxMs.p50 - engineMs.p50,
    samples: cold,
  };
}

export function buildResults(
  run: RunInfo,
  cold: ColdStartSamples,
  settings: LoadSettings,
  runs: readonly LoadRun[],
  messages: MessageResults,
  sweep: SweepResults,
  images: ImageResults,
): BenchResults {
  const best = bestRuns(runs);
  const throughputRatio = best.napbox.requestsPerSec / best.direct.requestsPerSec;
  const addedP99Ms = best.napbox.latencyMs.p99 - best.direct.latencyMs.p99;
  return {
    run,
    cold: coldResults(cold),
    warm: {
      settings: { ...settings, keepAlive: true, pipelining: 1 },
      best,
      throughputRatio,
      addedP50Ms: best.napbox.latencyMs.p50 - best.direct.latencyMs.p50,
      addedP99Ms,
      throughputMet: throughputRatio >= TARGETS.throughputRatioMin,
      latencyMet: addedP99Ms < TARGETS.addedP99MsMax,
      runs,
    },
    messages,
    sweep,
    images,
    targets: TARGETS,
  };
}

export function writeResults(results: BenchResults, file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`);
}

/** The HTML report's input: every cold-start sample of each side, and the best warm run of each. */
export function htmlReportInput(results: BenchResults): ReportInput {
  const { run, cold, warm } = results;
  return {
    title: 'napbox bench',
    subtitle: `${run.startedAt}, ${run.cpus} CPUs, Node ${run.node}, load average ${run.loadAverage.map((x) => x.toFixed(2)).join(' ')}, ${cold.page.tries} cold tries per side, warm load by ${run.loadTool} (${warm.settings.connections} connections, ${warm.settings.seconds} s, best of ${warm.settings.rounds})`,
    cold: [
      { label: 'built-in page through napbox', samplesMs: cold.page.samples.napboxMs },
      { label: 'the same page, plain container (start to first 200)', samplesMs: cold.page.samples.baselineMs },
      { label: 'custom app through napbox', samplesMs: cold.app.samples.napboxMs },
      { label: 'the same app, plain container (start to first 200)', samplesMs: cold.app.samples.baselineMs },
      ...(results.coldSwarm
        ? [
            { label: 'through napbox, Swarm driver', samplesMs: results.coldSwarm.samples.napboxMs },
            { label: "swarm alone, napbox's own service (scale to 1, first byte)", samplesMs: results.coldSwarm.samples.engineMs },
          ]
        : []),
    ],
    warm: [
      { label: 'through napbox', requestsPerSec: warm.best.napbox.requestsPerSec, latencyMs: warm.best.napbox.latencyMs },
      { label: 'direct to the container', requestsPerSec: warm.best.direct.requestsPerSec, latencyMs: warm.best.direct.latencyMs },
    ],
    table: renderTable(results),
  };
}

export function writeHtmlReport(results: BenchResults, file: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, renderHtml(htmlReportInput(results)));
}

const ms = (x: number, digits = 1): string => `${x.toFixed(digits)} ms`;
const signedMs = (x: number, digits: number): string => `${x >= 0 ? '+' : ''}${ms(x, digits)}`;
const verdict = (met: boolean): string => (met ? 'ok' : 'MISSED');
const row = (cells: readonly string[], widths: readonly number[]): string =>
  `  ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')}`.trimEnd();

export function renderTable(results: BenchResults): string {
  const { run } = results;
  const head = `napbox bench: ${run.startedAt}, ${run.cpus} CPUs, Node ${run.node}, load average ${run.loadAverage.map((x) => x.toFixed(2)).join(' ')}, took ${run.seconds.toFixed(0)} s`;
  return [
    head,
    '',
    ...coldLines(results),
    '',
    ...warmLines(results),
    '',
    ...messageLines(results),
    '',
    ...sweepLines(results),
    '',
    ...imageLines(results),
    '',
  ].join('\n');
}

/** The cold-start tables: each case against its plain container, then where the time went, stage by stage. */
export function coldLines({ cold, coldSwarm }: Pick<BenchResults, 'cold' | 'coldSwarm'>): string[] {
  const widths = [44, 10, 10, 10, 10];
  const line = (name: string, s: Summary): string => row([name, ms(s.p50), ms(s.p90), ms(s.min), ms(s.max)], widths);
  const caseLines = (kind: ColdCase, what: string, plain: string): string[] => {
    const c = cold[kind];
    return [
      line(`napbox, ${what}: GET / to first byte`, c.napboxMs),
      line("  of which napbox's wake (its log)", c.napboxWakeMs),
      line(`plain container, ${plain}`, c.baselineMs),
      `  napbox / plain: p50 ${c.ratioP50.toFixed(3)}x (${signedMs(c.addedP50Ms, 1)}), p90 ${c.ratioP90.toFixed(3)}x   target p50 <= ${TARGETS.coldRatioMax}x, p90 <= ${TARGETS.coldP90RatioMax}x   ${verdict(c.met)}`,
    ];
  };
  const lines = [
    `Cold start: ${cold.page.tries} tries each, interleaved napbox/plain, nothing running before every try; the plain container runs the same app from the same Node.js base image (no runner, no napbox environment), started by the engine alone`,
    row(['', 'p50', 'p90', 'min', 'max'], widths),
    ...caseLines('page', 'built-in page', 'the same page (start to first 200)'),
    ...caseLines('app', 'custom app', 'the same app (start to first 200)'),
    '',
    ...stageLines(cold),
  ];
  if (!coldSwarm) return lines;
  return [
    ...lines,
    '',
    `Cold start on the Swarm driver (NAPBOX_DRIVER=swarm, single-node swarm): ${coldSwarm.tries} tries each, service scaled to 0 before every try`,
    row(['', 'p50', 'p90', 'min', 'max'], widths),
    line('napbox, built-in page: GET / to first byte', coldSwarm.napboxMs),
    line("  of which napbox's wake (its log)", coldSwarm.napboxWakeMs),
    line("swarm alone, napbox's own service", coldSwarm.engineMs),
    `  p50 napbox / swarm alone on the same service (runner included): ${coldSwarm.ratioP50.toFixed(3)}x (${signedMs(coldSwarm.addedP50Ms, 1)})`,
    `  p50 napbox on swarm / napbox on docker: ${(coldSwarm.napboxMs.p50 / cold.page.napboxMs.p50).toFixed(2)}x (${signedMs(coldSwarm.napboxMs.p50 - cold.page.napboxMs.p50, 0)})`,
  ];
}

/** Medians of each stage per try; the plain container's app stage runs from its process start to its first answer. */
function stageLines(cold: ColdResults): string[] {
  const widths = [44, 11, 11, 11, 11];
  const cell = (s: Summary | null): string => (s ? ms(s.p50) : '-');
  return [
    'Where the time goes (p50 of each stage, ms)',
    row(['', 'page napbox', 'page plain', 'app napbox', 'app plain'], widths),
    ...STAGES.map((stage) =>
      row(
        [
          `${stage}: ${STAGE_SPANS[stage]}`,
          cell(cold.page.stages.napbox[stage]),
          cell(cold.page.stages.baseline[stage]),
          cell(cold.app.stages.napbox[stage]),
          cell(cold.app.stages.baseline[stage]),
        ],
        widths,
      ),
    ),
    "  plain: 'app' is its process start to its first 200 (readiness and answer included); the built-in page's app starts in the runner's process, at its main",
    "  app napbox: the image's launcher starts a tenant's own app with the container's process and the runner once the app listens, so 'app' runs to napbox's ready (napbox sees the app's port accept)",
  ];
}

function warmLines({ run, warm }: BenchResults): string[] {
  const s = warm.settings;
  const widths = [24, 10, 10, 10, 12, 8];
  const line = (name: string, r: LoadRun): string =>
    row([name, r.requestsPerSec.toFixed(0), ms(r.latencyMs.p50, 2), ms(r.latencyMs.p90, 2), ms(r.latencyMs.p99, 2), String(r.non2xx + r.errors)], widths);
  return [
    `Warm requests: ${run.loadTool} -t1 -c${s.connections} -d${s.seconds}s --latency (keep-alive), GET /, after a ${s.warmupSeconds} s warm-up of each`,
    "  rounds alternate direct/napbox; latency is wrk's distribution",
    row(['', 'req/s', 'p50', 'p90', 'p99', 'errors'], widths),
    ...warm.runs.map((r) => line(`${r.target} (round ${r.round})`, r)),
    line('best direct', warm.best.direct),
    line('best napbox', warm.best.napbox),
    `  throughput napbox / direct: ${warm.throughputRatio.toFixed(3)}   target >= ${TARGETS.throughputRatioMin}   ${verdict(warm.throughputMet)}`,
    `  added latency (best runs): p50 ${signedMs(warm.addedP50Ms, 2)}, p99 ${signedMs(warm.addedP99Ms, 2)}   target p99 < ${TARGETS.addedP99MsMax} ms   ${verdict(warm.latencyMet)}`,
  ];
}

function messageLines({ messages }: BenchResults): string[] {
  const s = messages.settings;
  const widths = [34, 10, 10, 10, 12];
  const line = (name: string, side: MessageResults['napbox']): string =>
    row([name, ms(side.roundTripMs.p50, 2), ms(side.roundTripMs.p90, 2), ms(side.roundTripMs.p99, 2), `${side.messagesPerSec.toFixed(0)} msg/s`], widths);
  return [
    `Chat messages to a running echo tenant: ${s.sequential} sequential round trips; then ${s.sessions} sessions x ${s.perSession} messages at once`,
    row(['', 'p50', 'p90', 'p99', 'throughput'], widths),
    line('napbox (chat socket to reply)', messages.napbox),
    line('runner channel directly', messages.direct),
    `  round trip p50 added by napbox: ${signedMs(messages.napbox.roundTripMs.p50 - messages.direct.roundTripMs.p50, 2)}; throughput napbox / direct: ${(messages.napbox.messagesPerSec / messages.direct.messagesPerSec).toFixed(3)}`,
  ];
}

function sweepLines({ sweep }: BenchResults): string[] {
  const s = sweep.settings;
  const widths = [34, 10, 10, 10];
  const met = sweep.tickMs.p50 < TARGETS.sweepTickMsMax;
  return [
    `Sweep: ${s.tenants} tenants registered, ${s.running} running, ${s.ticks} ticks`,
    row(['', 'p50', 'p90', 'max'], widths),
    row(["one tick (napbox's own timing)", ms(sweep.tickMs.p50, 2), ms(sweep.tickMs.p90, 2), ms(sweep.tickMs.max, 2)], widths),
    row(['engine listing alone (the floor)', ms(sweep.engineListMs.p50, 2), ms(sweep.engineListMs.p90, 2), ms(sweep.engineListMs.max, 2)], widths),
    `  tick p50 / engine listing p50: ${(sweep.tickMs.p50 / sweep.engineListMs.p50).toFixed(2)}x   target tick < ${TARGETS.sweepTickMsMax} ms   ${verdict(met)}`,
    `  napbox resident memory: ${sweep.rssBeforeMiB.toFixed(1)} MiB with 1 tenant, ${sweep.rssAfterMiB.toFixed(1)} MiB with ${s.tenants} registered`,
  ];
}

function imageLines({ images }: BenchResults): string[] {
  const widths = [34, 10, 10, 10];
  const putMet = images.cachedPutMs.p50 < TARGETS.cachedPutMsMax;
  const loopMet = images.loopP99BuildingMs < TARGETS.buildLoopP99MsMax;
  return [
    `Per-tenant images: a build of jq + is-number took ${images.buildSeconds.toFixed(1)} s`,
    row(['', 'p50', 'p90', 'max'], widths),
    row(['PUT of unchanged lists (cached)', ms(images.cachedPutMs.p50, 2), ms(images.cachedPutMs.p90, 2), ms(images.cachedPutMs.max, 2)], widths),
    row(['GET of the tenant (baseline)', ms(images.plainGetMs.p50, 2), ms(images.plainGetMs.p90, 2), ms(images.plainGetMs.max, 2)], widths),
    `  cached PUT p50 / GET p50: ${(images.cachedPutMs.p50 / images.plainGetMs.p50).toFixed(2)}x   target PUT < ${TARGETS.cachedPutMsMax} ms   ${verdict(putMet)}`,
    `  event-loop delay p99: ${ms(images.loopP99BuildingMs, 1)} while building (worst 1 s window), ${ms(images.loopP99IdleMs, 1)} idle   target < ${TARGETS.buildLoopP99MsMax} ms   ${verdict(loopMet)}`,
  ];
}
