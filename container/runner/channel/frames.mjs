// The channel's frames: parsing what napbox sends (validated field by field,
// never trusted) and building what the runner sends. Pure. Invariants:
// - Every inbound frame parses to a `deliver` or to an `invalid` with a
//   message for the protocol-error answer; nothing here throws.
// - Unknown fields are ignored (a later napbox may add some); unknown or
//   reserved frame types are invalid.

export const PROTOCOL_VERSION = 1;
export const RUNNER_NAME = 'napbox-runner/0.1.0';
export const MAX_TEXT_BYTES = 64 * 1024;
export const SESSION_ID = /^[A-Za-z0-9_-]{1,64}$/;
export const MESSAGE_ID = /^[A-Za-z0-9_.:-]{1,128}$/;
const RESERVED_TYPES = new Set(['lease', 'release']);
const ROLES = new Set(['user', 'assistant']);

function invalid(message, id) {
  return id === undefined ? { kind: 'invalid', message } : { kind: 'invalid', message, id };
}

function parseHistory(value) {
  if (!Array.isArray(value)) return { error: '"history" must be an array of {role, text}' };
  const history = [];
  for (const [i, entry] of value.entries()) {
    if (typeof entry !== 'object' || entry === null || !ROLES.has(entry.role) || typeof entry.text !== 'string') {
      return { error: `history[${i}] must be {"role":"user"|"assistant","text":string}` };
    }
    history.push(Object.freeze({ role: entry.role, text: entry.text }));
  }
  return { history: Object.freeze(history) };
}

function parseDeliver(frame) {
  const id = typeof frame.id === 'string' && MESSAGE_ID.test(frame.id) ? frame.id : undefined;
  if (id === undefined) return invalid('deliver: "id" must match ^[A-Za-z0-9_.:-]{1,128}$');
  if (typeof frame.session !== 'string' || !SESSION_ID.test(frame.session)) {
    return invalid('deliver: "session" must match ^[A-Za-z0-9_-]{1,64}$', id);
  }
  if (typeof frame.text !== 'string') return invalid('deliver: "text" must be a string', id);
  if (Buffer.byteLength(frame.text, 'utf8') > MAX_TEXT_BYTES) return invalid(`deliver: "text" is over ${MAX_TEXT_BYTES} bytes`, id);
  if (!Number.isInteger(frame.attempt) || frame.attempt < 1) return invalid('deliver: "attempt" must be an integer >= 1', id);
  const { history, error } = parseHistory(frame.history);
  if (error) return invalid(`deliver: ${error}`, id);
  return { kind: 'deliver', delivery: Object.freeze({ id, session: frame.session, text: frame.text, attempt: frame.attempt, history }) };
}

/** One inbound WebSocket message (as `ws` hands it over) to `{kind:'deliver', delivery}` or `{kind:'invalid', message, id?}`. */
export function parseInbound(data, isBinary) {
  if (isBinary) return invalid('frames must be text (JSON), not binary');
  let frame;
  try {
    frame = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : String(data));
  } catch {
    return invalid('frame is not JSON');
  }
  if (typeof frame !== 'object' || frame === null || Array.isArray(frame)) return invalid('frame must be a JSON object');
  if (frame.type === 'deliver') return parseDeliver(frame);
  if (RESERVED_TYPES.has(frame.type)) return invalid(`frame type "${frame.type}" is reserved and not supported in protocol ${PROTOCOL_VERSION}`);
  return invalid(typeof frame.type === 'string' ? `unknown frame type ${JSON.stringify(frame.type.slice(0, 40))}` : 'frame has no "type"');
}

export const outbound = {
  hello: (tenant) => ({ type: 'hello', tenant, runner: RUNNER_NAME, protocol: PROTOCOL_VERSION }),
  heartbeat: (at, working) => ({ type: 'heartbeat', at, working }),
  progress: (id, text) => ({ type: 'progress', id, text }),
  reply: (id, text) => ({ type: 'reply', id, text }),
  error: (id, message, retryable) => ({ type: 'error', id, message, retryable }),
  protocolError: (message, id) => (id === undefined ? { type: 'protocol-error', message } : { type: 'protocol-error', message, id }),
};
