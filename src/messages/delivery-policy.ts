// What to do after a try of a message failed, as a pure function: retry after
// an exponential backoff, or give up once the tries are used up or the error
// says a retry cannot help.

export interface DeliveryPolicy {
  readonly maxTries: number;
  readonly baseBackoffMs: number;
  readonly maxBackoffMs: number;
}

export const DEFAULT_DELIVERY: DeliveryPolicy = Object.freeze({ maxTries: 5, baseBackoffMs: 1000, maxBackoffMs: 60_000 });

export type RetryDecision = { readonly kind: 'retry'; readonly at: number } | { readonly kind: 'give-up'; readonly reason: string };

export function decideRetry(tries: number, retryable: boolean, reason: string, now: number, policy: DeliveryPolicy = DEFAULT_DELIVERY): RetryDecision {
  if (!retryable) return { kind: 'give-up', reason };
  if (tries >= policy.maxTries) return { kind: 'give-up', reason: `${reason} (gave up after ${tries} tries)` };
  const backoff = Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** Math.max(0, tries - 1));
  return { kind: 'retry', at: now + backoff };
}
