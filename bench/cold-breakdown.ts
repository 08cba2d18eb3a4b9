// Where a cold start's time goes: the marks of one try, gathered from the
// engine (its `network connect` event and the container's State.StartedAt),
// the runner's own log ("runner ready": when its process started and its
// marks since then) and napbox's log ("tenant ready"), and turned into stages
// that add up to the try's total. Pure apart from `engineMarks`.

import type Docker from 'dockerode';

export const STAGES = ['engine', 'network', 'runner', 'app', 'readiness', 'napbox', 'proxy'] as const;
export type Stage = (typeof STAGES)[number];

/** What each stage spans, for the table. */
export const STAGE_SPANS: Readonly<Record<Stage, string>> = {
  engine: 'request or start call to network attached',
  network: 'network attached to process started',
  runner: 'process started to app started',
  app: 'app started to accepting',
  readiness: 'app accepting to runner answered /ready',
  napbox: 'runner answered to napbox ready (logged)',
  proxy: 'napbox ready to first byte',
};

/** A try's stages in ms; null where the try has no such stage (the baseline has no runner) or a mark was missing. */
export type Stages = Readonly<Record<Stage, number | null>>;

export interface EngineMarks {
  /** Epoch ms of the `network connect` event of this start; undefined when the engine sent none. */
  readonly networkAt?: number;
  /** Epoch ms of the container's State.StartedAt (its process started). */
  readonly startedAt?: number;
}

export interface RunnerMarks {
  /** Epoch ms at which the runner's process started (performance.timeOrigin). */
  readonly processStart: number;
  /** ms since processStart: main, appSpawned or appListening (appAdopted: the app was started before this process), appReady, ... */
  readonly marks: Readonly<Record<string, number | null>>;
}

/** The engine's marks of the start that followed `sinceMs` (epoch ms). */
export async function engineMarks(docker: Docker, containerId: string, sinceMs: number): Promise<EngineMarks> {
  const container = await docker.getContainer(containerId).inspect();
  const startedAt = Date.parse(container.State.StartedAt);
  const stream = (await docker.getEvents({
    since: Math.floor(sinceMs / 1000) - 1,
    until: (Date.now() / 1000).toFixed(3) as unknown as number, // the API takes fractional seconds; an until in the future would wait for it
    filters: JSON.stringify({ type: ['network'], event: ['connect'] }),
  })) as unknown as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += String(chunk);
  let networkAt: number | undefined;
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const event = JSON.parse(line) as { timeNano?: number; Actor?: { Attributes?: Record<string, string> } };
    const at = (event.timeNano ?? 0) / 1e6;
    if (event.Actor?.Attributes?.container === containerId && at >= sinceMs - 5) networkAt = at;
  }
  return { ...(networkAt !== undefined ? { networkAt } : {}), ...(Number.isFinite(startedAt) ? { startedAt } : {}) };
}

/** The marks of the last "runner ready" line in a container's log. */
export function runnerMarksFrom(log: string): RunnerMarks | undefined {
  let found: RunnerMarks | undefined;
  for (const line of log.split('\n')) {
    const at = line.indexOf('{');
    if (at < 0 || !line.includes('"runner ready"')) continue;
    try {
      const parsed = JSON.parse(line.slice(at)) as { processStart?: unknown; marks?: unknown };
      if (typeof parsed.processStart === 'number' && parsed.marks && typeof parsed.marks === 'object') {
        found = { processStart: parsed.processStart, marks: parsed.marks as Record<string, number | null> };
      }
    } catch {
      // not a line of ours
    }
  }
  return found;
}

/** napbox's first "tenant ready" log line for `slug` in `output`: when it was logged (epoch ms) and its wake's duration. */
export function napboxReady(output: string, slug: string): { readonly at: number; readonly ms: number } | undefined {
  for (const line of output.split('\n')) {
    if (!line.includes('"tenant ready"')) continue;
    try {
      const parsed = JSON.parse(line) as { time?: unknown; tenant?: unknown; ms?: unknown };
      if (parsed.tenant === slug && typeof parsed.time === 'number' && typeof parsed.ms === 'number') return { at: parsed.time, ms: parsed.ms };
    } catch {
      // a line still being written
    }
  }
  return undefined;
}

const noStages: Stages = { engine: null, network: null, runner: null, app: null, readiness: null, napbox: null, proxy: null };

const span = (from: number | undefined, to: number | undefined): number | null => (from === undefined || to === undefined ? null : to - from);

/** A napbox try's stages, from the request (`t0`) to its first byte (`t1`), epoch ms. */
export function napboxStages(t0: number, t1: number, engine: EngineMarks, runner: RunnerMarks | undefined, readyAt: number | undefined): Stages {
  const mark = (name: string): number | undefined => {
    const value = runner?.marks[name];
    return runner && typeof value === 'number' ? runner.processStart + value : undefined;
  };
  if (runner?.marks.appAdopted !== undefined) {
    // The image's launcher started the app with the container's process, and the runner only once the app
    // listened: napbox saw the app ready at its port, so the app's stage runs to napbox's ready.
    return {
      ...noStages,
      engine: span(t0, engine.networkAt),
      network: span(engine.networkAt, engine.startedAt),
      app: span(engine.startedAt, readyAt),
      proxy: span(readyAt, t1),
    };
  }
  // A custom app starts when the runner spawns it; the built-in one runs in the runner's process, from its main.
  const appStart = mark('appSpawned') ?? mark('main');
  const appReady = mark('appReady');
  const answered = mark('readyAnswered');
  return {
    engine: span(t0, engine.networkAt),
    network: span(engine.networkAt, engine.startedAt),
    runner: span(engine.startedAt, appStart),
    app: span(appStart, appReady),
    readiness: span(appReady, answered),
    napbox: span(answered, readyAt),
    proxy: span(readyAt, t1),
  };
}

/** A baseline try's stages: the app's are from its process start to its first answer, readiness included. */
export function baselineStages(t0: number, t1: number, engine: EngineMarks): Stages {
  return { ...noStages, engine: span(t0, engine.networkAt), network: span(engine.networkAt, engine.startedAt), app: span(engine.startedAt, t1) };
}
