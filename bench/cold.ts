// The bench's cold-start stage alone (`node --import tsx bench/cold.ts`):
// napbox against the same app in a plain container, for the built-in page
// and a custom app (bench/cold-start.ts), with the stages of each. Prints the
// tables and writes bench/out/cold.json. BENCH_COLD_N tries per side
// (default 15). Removes everything it made, also on Ctrl-C.

import Docker from 'dockerode';
import fs from 'node:fs';
import path from 'node:path';
import { closeBenchTenant, openBenchTenant } from './bench-tenant.js';
import { removeBaselines } from './cold-baseline.js';
import { measureColdStarts } from './cold-start.js';
import { coldLines, coldResults } from './report.js';
import { closeOnSignal, intFromEnv, runScript } from './script.js';

const OUT_FILE = path.join(path.dirname(new URL(import.meta.url).pathname), 'out', 'cold.json');

async function main(): Promise<void> {
  const n = intFromEnv('BENCH_COLD_N', 15, 1, 200);
  const tenant = await openBenchTenant();
  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => (closing ??= removeBaselines(new Docker(), tenant.nb.installId).then(() => closeBenchTenant(tenant)));
  closeOnSignal(close);
  try {
    process.stderr.write(`bench: napbox on port ${tenant.nb.port}, install ${tenant.nb.installId}; ${n} cold tries per side\n`);
    const cold = coldResults(await measureColdStarts(tenant, n, (line) => process.stderr.write(`bench: ${line}\n`)));
    process.stdout.write(`${coldLines({ cold }).join('\n')}\n`);
    fs.mkdirSync(path.dirname(OUT_FILE), { recursive: true });
    fs.writeFileSync(OUT_FILE, `${JSON.stringify({ startedAt: new Date().toISOString(), node: process.version, cold }, null, 2)}\n`);
  } finally {
    await close();
  }
}

runScript(main);
