// Reads the engine's own event log, so tests can count what really happened
// (containers created, started) rather than what napbox says it did.

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Container actions (create, start, die, ...) for this install (and tenant) between two times. */
export async function containerEvents(installId: string, since: Date, tenant?: string, until: Date = new Date()): Promise<string[]> {
  const { stdout } = await run('docker', [
    'events',
    '--since', String(Math.floor(since.getTime() / 1000)),
    '--until', String(Math.ceil(until.getTime() / 1000) + 1),
    '--filter', 'type=container',
    '--filter', `label=napbox.install=${installId}`,
    ...(tenant ? ['--filter', `label=napbox.tenant=${tenant}`] : []),
    '--format', '{{.Action}}',
  ]);
  return stdout.split('\n').map((l) => l.trim()).filter(Boolean);
}

export function count(events: readonly string[], action: string): number {
  return events.filter((e) => e === action).length;
}
