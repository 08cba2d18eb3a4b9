// The soak of issue 14: the scripted bad day of test/helpers/chaos.ts at the
// scale of an operator's bad day: 1,000 chat messages over 5 minutes to three
// tenants, 15 container kills, 5 kill -9 of napbox with restarts, twice a
// tenant's next two starts killed, and its engine restarted once. The engine
// is one of the bench's own (test/helpers/own-engine.ts), never the machine's.
// Prints the counts; exits 1 when a message was lost, duplicated or failed.
//
// Run: node --import tsx bench/chaos.ts   (CHAOS_MESSAGES, CHAOS_SECONDS,
// CHAOS_CONTAINER_KILLS, CHAOS_NAPBOX_KILLS; CHAOS_ENGINE=0 keeps the
// machine's engine and skips the engine restart)

import path from 'node:path';
import { DockerDriver } from '../src/runtime/docker-driver.js';
import { NODE_BASE_TAG, resolveAgentImage } from '../src/images/agent-image.js';
import { runChaos } from '../test/helpers/chaos.js';
import { ROOT } from '../test/helpers/napbox-process.js';
import { canRunOwnEngine, startOwnEngine, type OwnEngine } from '../test/helpers/own-engine.js';

const num = (name: string, fallback: number): number => Number(process.env[name] ?? fallback);

async function main(): Promise<void> {
  const ownEngine = process.env.CHAOS_ENGINE !== '0' && canRunOwnEngine() === undefined;
  let engine: OwnEngine | undefined;
  if (ownEngine) {
    const caBundle = process.env.NAPBOX_CA_BUNDLE ?? process.env.NODE_EXTRA_CA_CERTS ?? process.env.SSL_CERT_FILE;
    const { tag } = await resolveAgentImage({
      driver: new DockerDriver(),
      containerDir: path.join(ROOT, 'container'),
      caBundle: caBundle ? path.resolve(caBundle) : undefined,
    });
    engine = await startOwnEngine([NODE_BASE_TAG, tag]);
  }
  try {
    const own = engine;
    const report = await runChaos({
      messages: num('CHAOS_MESSAGES', 1000),
      tenants: 3,
      sessionsPerTenant: 3,
      sendMs: num('CHAOS_SECONDS', 300) * 1000,
      containerKills: num('CHAOS_CONTAINER_KILLS', 15),
      napboxKills: num('CHAOS_NAPBOX_KILLS', 5),
      startKills: 2,
      ...(own
        ? {
            env: { DOCKER_HOST: own.host },
            restartEngine: async () => {
              await own.kill();
              await own.start();
            },
          }
        : {}),
      progress: (line) => process.stderr.write(`chaos: ${line}\n`),
    });
    const { problems, ...counts } = report;
    console.log(JSON.stringify({ ...counts, engineRestarted: own !== undefined }, null, 2));
    for (const p of problems) console.log(`problem: ${p.slice(0, 300)}`);
    if (report.lost + report.duplicated + report.failed + report.wrongReply + report.outOfOrder > 0) process.exitCode = 1;
  } finally {
    await engine?.remove();
  }
}

await main();
