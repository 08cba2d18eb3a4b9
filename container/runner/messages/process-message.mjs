// Processes one delivered message: makes the session's folder, runs the
// provider in it, and turns whatever happens into an outcome for the channel
// ({kind:'reply', text} or {kind:'error', message, retryable}). It never
// throws. A provider's own errors (ProviderError) carry their message and
// retryability; anything else is a runner bug, logged here with its detail
// and reported to napbox as a retryable error without it.

import fs from 'node:fs/promises';
import path from 'node:path';
import { ProviderError } from '../providers/provider-error.mjs';

/** A reply is at most 1 MiB of UTF-8, and its frame (JSON escapes can grow it) at most 4 MiB, the most napbox reads. */
export const MAX_REPLY_BYTES = 1024 * 1024;
const MAX_REPLY_FRAME_BYTES = 4 * 1024 * 1024 - 1024;

/** The folder of a session; the session id is already checked against ^[A-Za-z0-9_-]{1,64}$. */
export function sessionFolder(workspace, session) {
  return path.join(workspace, 'sessions', session);
}

export function messageProcessor({ provider, providerProblem, workspace, log, now = Date.now }) {
  return async function processMessage(delivery, { signal, onProgress }) {
    const started = now();
    const outcome = await attempt(delivery, signal, onProgress);
    log('message processed', {
      id: delivery.id,
      session: delivery.session,
      attempt: delivery.attempt,
      outcome: outcome.kind,
      ...(outcome.kind === 'error' ? { retryable: outcome.retryable } : {}),
      ms: now() - started,
    });
    return outcome;
  };

  async function attempt(delivery, signal, onProgress) {
    if (!provider) return { kind: 'error', message: providerProblem, retryable: false };
    const cwd = sessionFolder(workspace, delivery.session);
    try {
      await fs.mkdir(cwd, { recursive: true });
    } catch (err) {
      return { kind: 'error', message: `could not create the session folder ${cwd}: ${err.code ?? err.message}`, retryable: true };
    }
    try {
      const text = await provider.run({ ...delivery, cwd, signal, onProgress });
      if (Buffer.byteLength(text, 'utf8') > MAX_REPLY_BYTES || Buffer.byteLength(JSON.stringify(text), 'utf8') > MAX_REPLY_FRAME_BYTES) {
        return { kind: 'error', message: `the reply is over ${MAX_REPLY_BYTES} bytes (or its frame over 4 MiB)`, retryable: false };
      }
      return { kind: 'reply', text };
    } catch (err) {
      if (err instanceof ProviderError) return { kind: 'error', message: err.message, retryable: err.retryable };
      log('provider failed unexpectedly', { id: delivery.id, error: err instanceof Error ? err.stack : String(err) });
      return { kind: 'error', message: `the ${provider.kind} provider failed unexpectedly (see the container's log)`, retryable: true };
    }
  }
}
