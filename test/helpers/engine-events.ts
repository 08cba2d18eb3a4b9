// Reads the engine's own event log, so tests can count what really happened
// (containers created, started) rather than what napbox says it did.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Container actions (create, start, die, ...) for this install (and tenant) between two times. */
export async function containerEvents(installId: string, since: Date, tenant?: string, until: Date = new Date()): Promise<string[]> {
  const { stdout } = await run('docker', [
    'events',
    '--since',
    String(Math.floor(since.getTime() / 1000)),
    '--until',
    String(Math.ceil(until.getTime() / 1000) + 1),
    '--filter',
    'type=container',
    '--filter',
    `label=napbox.install=${installId}`,
    ...(tenant ? ['--filter', `label=napbox.tenant=${tenant}`] : []),
    '--format',
    '{{.TimeNano}} {{.Action}}',
  ]);
  // --since counts whole seconds: keep only what happened from `since` on, to the nanosecond.
  const sinceNs = BigInt(since.getTime()) * 1_000_000n;
  return stdout
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter(([ns, action]) => ns && action && BigInt(ns) >= sinceNs)
    .map(([, action]) => action!);
}

export function count(events: readonly string[], action: string): number {
  return events.filter((e) => e === action).length;
}
