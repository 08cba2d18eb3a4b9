// The runner's settings, read from the environment once at start-up into a
// frozen object. Invariants:
// - A bad channel or provider setting does not stop the runner: the tenant's
//   HTTP app must still serve. The problem is kept (`channelProblem`,
//   `providerProblem`), logged once at start-up, and every channel request it
//   affects is refused with it, so napbox and the tenant's owner see why.
// - The two secrets (NAPBOX_CHANNEL_KEY, NAPBOX_OPENAI_API_KEY) live only
//   here: `childEnv`, the environment every process the runner starts gets,
//   never contains them.

import path from 'node:path';
import { parseProviderConfig } from './providers/provider-config.mjs';

export const SECRET_VARIABLES = Object.freeze(['NAPBOX_CHANNEL_KEY', 'NAPBOX_OPENAI_API_KEY']);

const DEFAULT_HEARTBEAT_MS = 5000;
const CHANNEL_KEY = /^[A-Za-z0-9_-]{43}$/;

function readPort(env, variable, fallback) {
  const raw = env[variable];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 1 || port > 65535) throw new Error(`${variable}=${JSON.stringify(raw)} is invalid: expected a port number from 1 to 65535`);
  return port;
}

function parseAppCommand(raw) {
  if (!raw) return undefined;
  let argv;
  try {
    argv = JSON.parse(raw);
  } catch {
    argv = undefined;
  }
  if (!Array.isArray(argv) || argv.length === 0 || !argv.every((a) => typeof a === 'string' && a.length > 0)) {
    throw new Error('NAPBOX_APP_COMMAND must be a JSON array of non-empty strings');
  }
  return Object.freeze(argv);
}

/** The 32 key bytes, or the reason there are none. Only the canonical unpadded base64url of exactly 32 bytes is accepted. */
export function parseChannelKey(raw) {
  if (raw === undefined || raw === '') return { key: null, problem: 'NAPBOX_CHANNEL_KEY is not set: the channel refuses every connection' };
  const key = CHANNEL_KEY.test(raw) ? Buffer.from(raw, 'base64url') : Buffer.alloc(0);
  if (key.length !== 32 || key.toString('base64url') !== raw) {
    return { key: null, problem: 'NAPBOX_CHANNEL_KEY is invalid (expected unpadded base64url of 32 bytes): the channel refuses every connection' };
  }
  return { key, problem: null };
}

function parseHeartbeat(raw) {
  if (raw === undefined || raw === '') return { ms: DEFAULT_HEARTBEAT_MS, problem: null };
  const ms = Number(raw);
  if (!/^\d+$/.test(raw) || ms < 50 || ms > 3_600_000) {
    return {
      ms: DEFAULT_HEARTBEAT_MS,
      problem: `NAPBOX_HEARTBEAT_MS=${JSON.stringify(raw)} is invalid (expected 50 to 3600000): using ${DEFAULT_HEARTBEAT_MS}`,
    };
  }
  return { ms, problem: null };
}

export function loadRunnerConfig(env = process.env) {
  const channel = parseChannelKey(env.NAPBOX_CHANNEL_KEY);
  const provider = parseProviderConfig(env.NAPBOX_PROVIDER);
  const heartbeat = parseHeartbeat(env.NAPBOX_HEARTBEAT_MS);
  const workspace = env.NAPBOX_WORKSPACE || '/workspace';
  if (!path.isAbsolute(workspace)) throw new Error(`NAPBOX_WORKSPACE=${JSON.stringify(workspace)} is invalid: expected an absolute path`);

  const childEnv = { ...env };
  for (const name of SECRET_VARIABLES) delete childEnv[name];
  delete childEnv.NAPBOX_APP_PID;

  return Object.freeze({
    tenant: env.NAPBOX_TENANT || 'unknown',
    appPort: readPort(env, 'PORT', 8080),
    controlPort: readPort(env, 'NAPBOX_CONTROL_PORT', 8081),
    appCommand: parseAppCommand(env.NAPBOX_APP_COMMAND),
    // The app launch.sh already started (before this process), when it did.
    appPid: /^[1-9][0-9]{0,9}$/.test(env.NAPBOX_APP_PID ?? '') ? Number(env.NAPBOX_APP_PID) : null,
    channelKey: channel.key,
    channelProblem: channel.problem,
    provider: provider.ok ? provider.config : null,
    providerProblem: provider.ok ? null : provider.message,
    openaiApiKey: env.NAPBOX_OPENAI_API_KEY || null,
    heartbeatMs: heartbeat.ms,
    heartbeatProblem: heartbeat.problem,
    workspace: path.resolve(workspace),
    childEnv: Object.freeze(childEnv),
  });
}
