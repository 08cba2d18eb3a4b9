// The per-tenant circuit breaker, as pure functions. After a failed wake the
// tenant may not be woken again until `retryAt`, which backs off
// exponentially with consecutive failures; so a tenant that cannot start is
// never restarted in a loop, and its state says why. A successful wake, or an
// admin's explicit wake, closes it.

export interface BreakerPolicy {
  readonly baseMs: number;
  readonly maxMs: number;
}

export const DEFAULT_BREAKER: BreakerPolicy = Object.freeze({ baseMs: 5_000, maxMs: 5 * 60_000 });

export type WakeGate = { readonly kind: 'allow' } | { readonly kind: 'refuse'; readonly retryAt: number; readonly retryAfterSeconds: number };

export function decideWakeGate(facts: { failures: number; retryAt: number | null }, now: number): WakeGate {
  if (facts.failures === 0 || facts.retryAt === null || facts.retryAt <= now) return { kind: 'allow' };
  return { kind: 'refuse', retryAt: facts.retryAt, retryAfterSeconds: Math.max(1, Math.ceil((facts.retryAt - now) / 1000)) };
}

/** The breaker after one more failure at `now`. */
export function afterFailure(failures: number, now: number, policy: BreakerPolicy = DEFAULT_BREAKER): { failures: number; retryAt: number } {
  const next = failures + 1;
  const backoff = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(next - 1, 20));
  return { failures: next, retryAt: now + backoff };
}
