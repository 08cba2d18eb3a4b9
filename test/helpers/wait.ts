// Waiting in tests: poll a condition until it holds, bounded in time (until),
// or let time pass on purpose, where a test checks that nothing happens (sleep).

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves with the milliseconds it took once `check` holds; rejects after `ms`, naming `what`. */
export async function until(check: () => boolean | Promise<boolean>, ms: number, what: string, everyMs = 50): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > ms) throw new Error(`timed out after ${ms}ms waiting for ${what}`);
    await sleep(everyMs);
  }
  return Date.now() - started;
}

/** Polls `get` until `done` holds for its value, and returns that value; rejects after `ms`, naming `what`. */
export async function eventually<T>(get: () => T | Promise<T>, done: (value: T) => boolean, ms: number, what: string, everyMs = 50): Promise<T> {
  let value = await get();
  await until(
    async () => {
      if (done(value)) return true;
      value = await get();
      return done(value);
    },
    ms,
    what,
    everyMs,
  );
  return value;
}
