// The per-tenant circuit breaker, as pure functions. Failed wakes are counted
// in a run: a failed wake that began less than the window
// (NAPBOX_BREAKER_WINDOW) after the one before failed continues it, and once a
// run has `failures` of them (NAPBOX_BREAKER_FAILURES) the circuit opens: the tenant may not be woken again until `retryAt`, which backs off
// exponentially with each further failure. So one slow boot is just a failed
// wake (the next request tries again), while a tenant that cannot start is
// never restarted in a loop, and its state says why. A successful wake, or an
// admin's explicit wake, closes it.

export interface BreakerPolicy {
  /** Failed wakes in a run that open the circuit. */
  readonly failures: number;
  /** How long after a failed wake the next one may begin and still continue its run. */
  readonly windowMs: number;
  /** The first wait once open; doubled with each further failure, up to `maxMs`. */
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BREAKER: BreakerPolicy = Object.freeze({ failures: 3, windowMs: 10 * 60_000, baseMs: 5_000, maxMs: 5 * 60_000 });

/** What the tenant's row keeps of its failed wakes. */
export interface BreakerFacts {
  /** Failed wakes in the current run (0: none since the last good wake). */
  readonly failures: number;
  /** When the run's latest failed wake failed. */
  readonly lastFailureAt: number | null;
  /** While set and in the future, the circuit is open. */
  readonly retryAt: number | null;
}

export type WakeGate = { readonly kind: 'allow' } | { readonly kind: 'refuse'; readonly retryAt: number; readonly retryAfterSeconds: number };

export function decideWakeGate(facts: Pick<BreakerFacts, 'retryAt'>, now: number): WakeGate {
  if (facts.retryAt === null || facts.retryAt <= now) return { kind: 'allow' };
  return { kind: 'refuse', retryAt: facts.retryAt, retryAfterSeconds: Math.max(1, Math.ceil((facts.retryAt - now) / 1000)) };
}

/**
 * The breaker after one more failed wake, which began at `startedAt` and failed at `now`: retryAt is null while the
 * run has fewer than `policy.failures`. The run goes on when this wake began less than `windowMs` after the previous
 * failure, so wakes as long as the window or longer still add up; once open, every further failure counts, so the
 * circuit stays open, backing off, until a wake succeeds.
 */
export function afterFailure(facts: BreakerFacts, now: number, policy: BreakerPolicy = DEFAULT_BREAKER, startedAt: number = now): BreakerFacts {
  const open = facts.failures >= policy.failures;
  const last = facts.lastFailureAt;
  const continues = open || (facts.failures > 0 && last !== null && startedAt - last < policy.windowMs);
  const failures = continues ? facts.failures + 1 : 1;
  if (failures < policy.failures) return { failures, lastFailureAt: now, retryAt: null };
  const backoff = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures - policy.failures, 20));
  return { failures, lastFailureAt: now, retryAt: now + backoff };
}
