// The napbox process: reads the config, starts napbox, prints where to go,
// and shuts down cleanly on SIGTERM/SIGINT (tenant containers keep running
// and are adopted by the next start).

import { loadConfig } from './config/config.js';
import { startNapbox, ensureDemoTenant } from './app.js';
import { asNapboxError } from './errors.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const createdDemo = ensureDemoTenant(config);
  const napbox = await startNapbox(config);
  const demo = napbox.links.tenant('demo');
  const lines = [
    // Links are the public ones (NAPBOX_PUBLIC_URL, behind a front proxy); the first line says where napbox itself listens.
    config.publicUrl ? `napbox is running on ${napbox.url}, public at ${napbox.links.base()}` : `napbox is running on ${napbox.url}`,
    createdDemo ? `  created the tenant "demo": open ${demo}` : `  tenants are at ${napbox.links.tenant('<slug>')}`,
    `  without wildcard DNS:  ${napbox.links.tenantPath('demo')}`,
    `  dashboard:             ${napbox.links.base()}/ (sign in with a token from \`npx napbox token\`)`,
    '  admin CLI:             npx napbox --help',
  ];
  process.stderr.write(`${lines.join('\n')}\n`);
  let closing = false;
  const shutdown = (signal: NodeJS.Signals): void => {
    if (closing) {
      process.stderr.write(`napbox: ${signal} again: exiting at once\n`);
      process.exit(1);
    }
    closing = true;
    setTimeout(() => process.exit(1), 5_000).unref(); // never hang on the way out
    napbox.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('unhandledRejection', (err: unknown) => {
    // A bug, not a reason to drop every tenant's traffic: say so loudly and keep serving.
    process.stderr.write(`${JSON.stringify({ level: 50, msg: 'unhandled rejection', err: err instanceof Error ? err.stack : String(err) })}\n`);
  });
  process.on('uncaughtException', (err: Error) => {
    // The same for a throw from an event handler that no boundary caught (each request path has its own
    // guard; this is the net under them): logged with its stack as a bug, and napbox keeps serving.
    process.stderr.write(`${JSON.stringify({ level: 50, msg: 'uncaught exception', err: err.stack ?? String(err) })}\n`);
  });
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}

main().catch((err: unknown) => {
  const error = asNapboxError(err);
  process.stderr.write(`napbox: ${error.message}\n`);
  process.exit(1);
});
