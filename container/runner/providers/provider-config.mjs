// NAPBOX_PROVIDER: which agent answers this tenant's messages, as JSON.
// Validated strictly (unknown keys are refused, so a typo is an error and not
// a silently ignored setting); unset means the echo provider.

export const DEFAULT_TIMEOUT_MS = 600_000;
const MAX_TIMEOUT_MS = 24 * 3600_000;

const KEYS = {
  echo: ['kind'],
  command: ['kind', 'command', 'timeoutMs'],
  openai: ['kind', 'baseUrl', 'model', 'timeoutMs'],
};

function fail(message) {
  return { ok: false, message: `NAPBOX_PROVIDER is invalid: ${message}` };
}

function readTimeout(value) {
  if (value === undefined) return DEFAULT_TIMEOUT_MS;
  return Number.isInteger(value) && value >= 1 && value <= MAX_TIMEOUT_MS ? value : undefined;
}

/** `{ ok: true, config }` with a frozen provider config, or `{ ok: false, message }`. */
export function parseProviderConfig(raw) {
  if (raw === undefined || raw.trim() === '') return { ok: true, config: Object.freeze({ kind: 'echo' }) };
  let value;
  try {
    value = JSON.parse(raw);
  } catch {
    return fail('not JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('expected a JSON object');
  if (typeof value.kind !== 'string' || !Object.hasOwn(KEYS, value.kind)) return fail('"kind" must be "echo", "command" or "openai"');
  const allowed = KEYS[value.kind];
  const unknown = Object.keys(value).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) return fail(`unknown key ${JSON.stringify(unknown[0])} for kind ${JSON.stringify(value.kind)}`);

  if (value.kind === 'echo') return { ok: true, config: Object.freeze({ kind: 'echo' }) };

  const timeoutMs = readTimeout(value.timeoutMs);
  if (timeoutMs === undefined) return fail(`"timeoutMs" must be an integer from 1 to ${MAX_TIMEOUT_MS}`);

  if (value.kind === 'command') {
    const argv = value.command;
    const goodArg = (a) => typeof a === 'string' && a.length > 0 && a.length <= 65_536 && !a.includes('\0');
    if (!Array.isArray(argv) || argv.length === 0 || argv.length > 256 || !argv.every(goodArg)) {
      return fail('"command" must be a non-empty array of non-empty strings (an argv; no shell unless argv[0] is one)');
    }
    return { ok: true, config: Object.freeze({ kind: 'command', command: Object.freeze([...argv]), timeoutMs }) };
  }

  let url;
  try {
    url = new URL(value.baseUrl);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username || url.password || url.search || url.hash) {
    return fail('"baseUrl" must be an http(s) URL without credentials, query or fragment, like "https://api.openai.com/v1"');
  }
  if (typeof value.model !== 'string' || value.model.length === 0 || value.model.length > 256) return fail('"model" must be a non-empty string');
  return { ok: true, config: Object.freeze({ kind: 'openai', baseUrl: url.href.replace(/\/+$/, ''), model: value.model, timeoutMs }) };
}
