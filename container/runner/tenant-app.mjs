// The tenant's own app (NAPBOX_APP_COMMAND), a child of the runner. It gets
// the runner's environment minus the secrets (config.childEnv) and $PORT.
// If it exits while the runner is not stopping, the runner exits with its
// status, so napbox sees a failed container instead of serving a dead app.

const { spawn } = process.getBuiltinModule('node:child_process');

/** Spawns the app; `exit(code)` is how the runner ends itself. Returns `close()`, which stops it with SIGTERM. */
export function startTenantApp({ config, log, exit, stopping }) {
  log('starting tenant app', { argv: config.appCommand });
  const [file, ...args] = config.appCommand;
  const child = spawn(file, args, { stdio: 'inherit', env: { ...config.childEnv, PORT: String(config.appPort) } });
  child.once('error', (err) => {
    log('tenant app failed to start', { error: err.message });
    exit(127);
  });
  child.once('exit', (code, signal) => {
    if (stopping()) return;
    log('tenant app exited', { code, signal });
    exit(code ?? 1);
  });
  return {
    close: () =>
      new Promise((done) => {
        if (child.exitCode !== null || child.signalCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}
