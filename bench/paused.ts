// The bench's paused stage alone (`node --import tsx bench/paused.ts`;
// bench/paused-stage.ts says what it measures). BENCH_PAUSED_N tries per side
// (default 21). Writes bench/out/paused.json; removes everything it made,
// also on Ctrl-C.

import Docker from 'dockerode';
import fs from 'node:fs';
import path from 'node:path';
import { closeBenchTenant } from './bench-tenant.js';
import { removeBaselines } from './cold-baseline.js';
import { measurePaused, openPausedTenant, pausedLines } from './paused-stage.js';
import { closeOnSignal, intFromEnv, runScript } from './script.js';

const OUT_FILE = path.join(path.dirname(new URL(import.meta.url).pathname), 'out', 'paused.json');

async function main(): Promise<void> {
  const n = intFromEnv('BENCH_PAUSED_N', 21, 1, 500);
  const tenant = await openPausedTenant();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= removeBaselines(new Docker(), tenant.nb.installId).then(() => closeBenchTenant(tenant)));
  closeOnSignal(close);
  try {
    const paused = await measurePaused(tenant, n, (l) => process.stderr.write(`bench: ${l}\n`));
    process.stdout.write(`${pausedLines(paused).join('\n')}\n`);
    fs.mkdirSync(path.dirname(OUT_FILE), { recursive: true });
    fs.writeFileSync(OUT_FILE, `${JSON.stringify({ startedAt: new Date().toISOString(), node: process.version, paused }, null, 2)}\n`);
  } finally {
    await close();
  }
}

runScript(main);
