// The openai provider: one POST to an OpenAI-compatible /chat/completions
// per message, with the session's history, through Node's global fetch.
// Invariants:
// - The API key goes in the Authorization header and nowhere else: every
//   error message is built from the status and the server's own error text,
//   with any occurrence of the key replaced (some servers quote it back).
// - HTTP 429 and 5xx, timeouts and network failures are retryable; any other
//   non-2xx answer (redirects included: they are not followed, so the key
//   never travels to another host) is not.

import { ProviderError } from './provider-error.mjs';

const DETAIL_CHARS = 300;

/** The request body for a message and its history (oldest first). */
export function chatCompletionRequest(model, history, text) {
  return {
    model,
    messages: [...history.map((h) => ({ role: h.role, content: h.text })), { role: 'user', content: text }],
  };
}

/** The server's own error text from an OpenAI-style error body, or the start of the body. */
function errorDetail(body) {
  try {
    const parsed = JSON.parse(body);
    const message = parsed?.error?.message ?? parsed?.message;
    if (typeof message === 'string') return message.slice(0, DETAIL_CHARS);
  } catch {
    // not JSON: use the text
  }
  return body.replace(/\s+/g, ' ').trim().slice(0, DETAIL_CHARS);
}

export function openaiProvider({ baseUrl, model, timeoutMs }, { apiKey, fetch = globalThis.fetch }) {
  const endpoint = `${baseUrl}/chat/completions`;
  const origin = new URL(endpoint).origin;
  const redact = (text) => (apiKey ? text.split(apiKey).join('[redacted]') : text);

  async function post(body, signal) {
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${apiKey}` },
      body: JSON.stringify(body),
      redirect: 'manual',
      signal,
    });
    return { status: res.status, ok: res.ok, text: await res.text() };
  }

  return {
    kind: 'openai',
    async run({ text, history, signal }) {
      if (!apiKey) throw new ProviderError('the openai provider needs NAPBOX_OPENAI_API_KEY, which is not set', { retryable: false });
      const controller = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, timeoutMs);
      const onAbort = () => controller.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      let res;
      try {
        res = await post(chatCompletionRequest(model, history, text), controller.signal);
      } catch (err) {
        if (timedOut) throw new ProviderError(`${origin} did not answer within ${timeoutMs} ms`, { retryable: true });
        if (signal.aborted) throw new ProviderError('the runner stopped while waiting for the model', { retryable: true });
        const why = err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(err);
        throw new ProviderError(redact(`could not reach ${origin}: ${why}`), { retryable: true });
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      }

      if (!res.ok) {
        const detail = errorDetail(res.text);
        const retryable = res.status === 429 || res.status >= 500;
        throw new ProviderError(redact(`${origin} answered HTTP ${res.status}${detail ? `: ${detail}` : ''}`), { retryable });
      }
      let content;
      try {
        content = JSON.parse(res.text)?.choices?.[0]?.message?.content;
      } catch {
        content = undefined;
      }
      if (typeof content !== 'string') {
        throw new ProviderError(`${origin} answered without a text reply (choices[0].message.content)`, { retryable: false });
      }
      return content;
    },
  };
}
