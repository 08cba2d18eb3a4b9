// How a bench script runs from the command line: its main to the end, then
// exit 0 (a handle left open must not keep it running); a failure printed
// with its stack, exit 1; Ctrl-C or SIGTERM removes what it made first, then
// exit 130.

/** On SIGINT or SIGTERM: `close` (once, however many signals), then exit 130. */
export function closeOnSignal(close: () => Promise<void>, say?: (signal: NodeJS.Signals) => void): void {
  const onSignal = (signal: NodeJS.Signals): void => {
    say?.(signal);
    void close().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}

/** Runs `main`, then exits 0, or 1 with the error printed. */
/** A whole number from the environment variable `name` (`fallback` when unset or empty), refused outside min..max. */
export function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name}=${JSON.stringify(raw)}: expected a whole number from ${min} to ${max}`);
  return value;
}

export function runScript(main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exit(1);
    },
  );
}
