// The tenant's own app (NAPBOX_APP_COMMAND), a child of the runner. It gets
// the runner's environment minus the secrets (config.childEnv) and $PORT.
// If it exits while the runner is not stopping, the runner exits with its
// status, so napbox sees a failed container instead of serving a dead app.
// In the agent image, launch.sh has already started it before this process
// (NAPBOX_APP_PID): the runner adopts it (adoptTenantApp) and watches it
// through /proc, since Node.js cannot wait for a child it did not spawn.
// Otherwise (another entrypoint), the runner spawns it (startTenantApp).

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

const POLL_MS = 10;

/** The adopted app's state from /proc/<pid>/stat: running, or exited with its code or signal. */
function procState(pid) {
  let stat;
  try {
    stat = process.getBuiltinModule('node:fs').readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return { exited: true, code: null, signal: null }; // gone: reaped by someone else
  }
  // The command name may hold spaces and parentheses: the fields start after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  if (fields[0] !== 'Z' && fields[0] !== 'X') return { exited: false };
  const status = Number(fields[49]); // exit_code (field 52), as waitpid reports it
  if (!Number.isInteger(status)) return { exited: true, code: null, signal: null };
  return (status & 0x7f) === 0 ? { exited: true, code: (status >> 8) & 0xff, signal: null } : { exited: true, code: null, signal: status & 0x7f };
}

/** Adopts the app launch.sh started (a child of this process since the exec); the same contract as startTenantApp. */
export function adoptTenantApp({ pid, log, exit, stopping }) {
  log('tenant app started before the runner', { pid });
  const exited = new Promise((resolve) => {
    const timer = setInterval(() => {
      const state = procState(pid);
      if (!state.exited) return;
      clearInterval(timer);
      resolve(state);
    }, POLL_MS);
    timer.unref();
  });
  void exited.then(({ code, signal }) => {
    if (stopping()) return;
    log('tenant app exited', { code, signal });
    exit(code ?? 1);
  });
  return {
    close: () => {
      if (procState(pid).exited) return Promise.resolve();
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        return Promise.resolve(); // already gone
      }
      return exited.then(() => undefined);
    },
  };
}
