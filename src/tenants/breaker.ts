// The per-tenant circuit breaker, as pure functions. Failed wakes are counted
// in a window that starts at the first of them; once `failures` of them fall
// in one window (NAPBOX_BREAKER_FAILURES in NAPBOX_BREAKER_WINDOW) the circuit
// opens: the tenant may not be woken again until `retryAt`, which backs off
// exponentially with each further failure. So one slow boot is just a failed
// wake (the next request tries again), while a tenant that cannot start is
// never restarted in a loop, and its state says why. A successful wake, or an
// admin's explicit wake, closes it.

export interface BreakerPolicy {
  /** Failed wakes within `windowMs` that open the circuit. */
  readonly failures: number;
  readonly windowMs: number;
  /** The first wait once open; doubled with each further failure, up to `maxMs`. */
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BREAKER: BreakerPolicy = Object.freeze({ failures: 3, windowMs: 10 * 60_000, baseMs: 5_000, maxMs: 5 * 60_000 });

/** What the tenant's row keeps of its failed wakes. */
export interface BreakerFacts {
  /** Failed wakes in the current window (0: none since the last good wake). */
  readonly failures: number;
  /** When the current window began: its first failed wake. */
  readonly failuresSince: number | null;
  /** While set and in the future, the circuit is open. */
  readonly retryAt: number | null;
}

export type WakeGate = { readonly kind: 'allow' } | { readonly kind: 'refuse'; readonly retryAt: number; readonly retryAfterSeconds: number };

export function decideWakeGate(facts: Pick<BreakerFacts, 'retryAt'>, now: number): WakeGate {
  if (facts.retryAt === null || facts.retryAt <= now) return { kind: 'allow' };
  return { kind: 'refuse', retryAt: facts.retryAt, retryAfterSeconds: Math.max(1, Math.ceil((facts.retryAt - now) / 1000)) };
}

/** The breaker after one more failed wake at `now`: retryAt is null while fewer than `policy.failures` fell in the window. */
export function afterFailure(facts: BreakerFacts, now: number, policy: BreakerPolicy = DEFAULT_BREAKER): BreakerFacts {
  const inWindow = facts.failures > 0 && facts.failuresSince !== null && now - facts.failuresSince < policy.windowMs && now >= facts.failuresSince;
  const failures = inWindow ? facts.failures + 1 : 1;
  const failuresSince = inWindow ? facts.failuresSince : now;
  if (failures < policy.failures) return { failures, failuresSince, retryAt: null };
  const backoff = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(failures - policy.failures, 20));
  return { failures, failuresSince, retryAt: now + backoff };
}
