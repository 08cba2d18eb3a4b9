// `napbox tenants add|set` flags -> the body of POST /api/tenants or PATCH
// /api/tenants/:slug. Pure: what it reads (a file, an environment variable,
// stdin) comes through `io`, and the tenant's current settings are given.
//
// Invariants:
// - A PATCH names only what a flag changes. The server merges at the top
//   level only (a `limits`, `env` or `mounts` sent replaces the stored one),
//   so those three are merged here with the current settings before they are
//   sent (a --mount replaces the stored one at its container path); a
//   top-level `null` asks the server to remove the setting (its default).
// - An argv after `--` is taken whole (`sh -c '...'`, `python3 -m ...`): it
//   belongs to --app or to --provider command, never to both.
// - A secret (the openai key) is never read from argv: from a named
//   environment variable or stdin only.

import { parseDuration } from '../config/duration.js';
import { containerPathProblem } from '../model/container-path.js';
import { CliError, EXIT } from './exit-codes.js';

/** The flags as commander parses them (every value a string, as typed). */
export interface SettingFlags {
  readonly app?: boolean;
  readonly builtinApp?: boolean;
  readonly public?: boolean;
  readonly private?: boolean;
  readonly provider?: string;
  readonly commandTimeout?: string;
  readonly baseUrl?: string;
  readonly model?: string;
  readonly apiKeyEnv?: string;
  readonly apiKeyStdin?: boolean;
  readonly memory?: string;
  readonly cpus?: string;
  readonly pids?: string;
  readonly instructionsFile?: string;
  readonly readOnlyRootfs?: boolean;
  readonly env?: readonly string[];
  readonly unsetEnv?: readonly string[];
  readonly port?: string;
  readonly wakeTimeout?: string;
  readonly readinessPath?: string;
  readonly startingPage?: boolean;
  readonly mount?: readonly string[];
  readonly unmount?: readonly string[];
}

export interface SettingsIo {
  readFile(path: string): string;
  readStdin(): string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

/** A top-level setting: its new value, or null for "back to the default". */
export type SettingsPatch = Record<string, unknown>;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
const RESET = 'default';

function usage(message: string): CliError {
  return new CliError(EXIT.usage, message);
}

function wholeNumber(flag: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || n > max)
    throw usage(`${flag} ${text}: must be a whole number from ${min} to ${max}`);
  return n;
}

/** "512", "512m", "2g" -> MiB. */
function mebibytes(text: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*(m|mi|mib|g|gi|gib)?$/i.exec(text.trim());
  if (!match) throw usage(`--memory ${text}: must be a size like 512m or 2g (MiB without a unit)`);
  const unit = (match[2] ?? 'm').toLowerCase();
  const mib = Math.round(Number(match[1]) * (unit.startsWith('g') ? 1024 : 1));
  if (mib < 64 || mib > 65_536) throw usage(`--memory ${text}: must be from 64m to 64g`);
  return mib;
}

function limitsPatch(flags: SettingFlags, current: unknown): Record<string, unknown> | null | undefined {
  if (flags.memory === undefined && flags.cpus === undefined && flags.pids === undefined) return undefined;
  const next: Record<string, unknown> = { ...(isRecord(current) ? current : {}) };
  const set = (key: string, text: string | undefined, parse: (t: string) => number): void => {
    if (text === undefined) return;
    if (text === RESET) delete next[key];
    else next[key] = parse(text);
  };
  set('memoryMiB', flags.memory, mebibytes);
  set('cpus', flags.cpus, (t) => {
    const n = Number(t);
    if (!/^\d+(\.\d+)?$/.test(t.trim()) || n < 0.05 || n > 64) throw usage(`--cpus ${t}: must be a number from 0.05 to 64`);
    return n;
  });
  set('pids', flags.pids, (t) => wholeNumber('--pids', t, 16, 32_768));
  return Object.keys(next).length ? next : null;
}

function envPatch(flags: SettingFlags, current: unknown): Record<string, string> | null | undefined {
  const sets = flags.env ?? [];
  const unsets = flags.unsetEnv ?? [];
  if (!sets.length && !unsets.length) return undefined;
  const next: Record<string, string> = {};
  if (isRecord(current)) for (const [k, v] of Object.entries(current)) if (typeof v === 'string') next[k] = v;
  const named = new Set<string>();
  const name = (flag: string, n: string): string => {
    if (!ENV_NAME.test(n)) throw usage(`${flag} ${n}: a variable name is letters, digits and _, not starting with a digit`);
    if (named.has(n)) throw usage(`${n} is named twice by --env and --unset-env`);
    named.add(n);
    return n;
  };
  for (const pair of sets) {
    const eq = pair.indexOf('=');
    if (eq < 0) throw usage(`--env ${pair}: give NAME=VALUE`);
    const value = pair.slice(eq + 1);
    if (value.includes('\0')) throw usage(`--env ${pair.slice(0, eq)}: the value must not contain NUL`);
    next[name('--env', pair.slice(0, eq))] = value;
  }
  for (const n of unsets) delete next[name('--unset-env', n)];
  return Object.keys(next).length ? next : null;
}

/** "<host path>:<container path>[:rw|:ro]" -> a mount request; the container path (under /extra) has no ":", the host path may. */
function mountRequest(text: string): { hostPath: string; containerPath: string; readWrite?: boolean } {
  const mode = /:(rw|ro)$/.exec(text)?.[1];
  const rest = mode ? text.slice(0, -3) : text;
  const at = rest.lastIndexOf(':');
  const hostPath = rest.slice(0, at);
  const containerPath = rest.slice(at + 1);
  if (at < 1 || !containerPath) throw usage(`--mount ${text}: give <host path>:<container path>[:rw], like /srv/docs:docs`);
  const problem = containerPathProblem(containerPath);
  if (problem) throw usage(`--mount ${text}: ${problem}`);
  return { hostPath, containerPath, ...(mode === 'rw' ? { readWrite: true } : {}) };
}

function mountsPatch(flags: SettingFlags, current: unknown): unknown[] | null | undefined {
  const adds = (flags.mount ?? []).map(mountRequest);
  const removes = flags.unmount ?? [];
  if (!adds.length && !removes.length) return undefined;
  const at = (m: unknown): string => (isRecord(m) && typeof m.containerPath === 'string' ? m.containerPath : '');
  const named = [...adds.map((m) => m.containerPath), ...removes];
  if (new Set(named).size !== named.length) throw usage('a container path is named twice by --mount and --unmount');
  const kept = (Array.isArray(current) ? current : []).filter((m) => !named.includes(at(m)));
  const next = [...kept, ...adds];
  return next.length ? next : null;
}

function providerPatch(flags: SettingFlags, argv: readonly string[], io: SettingsIo): Record<string, unknown> | undefined {
  const openaiFlags = ['baseUrl', 'model', 'apiKeyEnv', 'apiKeyStdin'] as const;
  const kind = flags.provider;
  if (kind !== 'openai' && openaiFlags.some((f) => flags[f] !== undefined)) {
    throw usage('--base-url, --model, --api-key-env and --api-key-stdin go with --provider openai');
  }
  if (kind !== 'command' && flags.commandTimeout !== undefined) throw usage('--command-timeout goes with --provider command');
  if (kind === undefined) return undefined;
  if (kind === 'echo') return { kind: 'echo' };
  if (kind === 'command') {
    if (!argv.length) throw usage("--provider command needs the command's argv after --, like: --provider command -- python3 agent.py");
    let timeoutMs: number | undefined;
    if (flags.commandTimeout !== undefined) {
      timeoutMs = parseDuration(flags.commandTimeout);
      if (timeoutMs === undefined || timeoutMs < 1000 || timeoutMs > 3_600_000)
        throw usage(`--command-timeout ${flags.commandTimeout}: must be a duration from 1s to 1h`);
    }
    return { kind: 'command', command: [...argv], ...(timeoutMs === undefined ? {} : { timeoutMs }) };
  }
  if (kind === 'openai') {
    if (!flags.baseUrl || !flags.model) throw usage('--provider openai needs --base-url and --model');
    if ((flags.apiKeyEnv === undefined) === (flags.apiKeyStdin === undefined)) {
      throw usage('--provider openai needs its key from --api-key-env NAME or --api-key-stdin (never on the command line)');
    }
    let apiKey: string | undefined;
    if (flags.apiKeyEnv !== undefined) {
      apiKey = io.env[flags.apiKeyEnv];
      if (!apiKey) throw usage(`--api-key-env ${flags.apiKeyEnv}: that environment variable is not set`);
    } else apiKey = io.readStdin().replace(/\r?\n$/, '');
    if (!apiKey) throw usage('--api-key-stdin: stdin was empty');
    return { kind: 'openai', baseUrl: flags.baseUrl, model: flags.model, apiKey };
  }
  throw usage(`--provider ${kind}: must be echo, command or openai`);
}

/**
 * The body for the flags given: for `set`, a PATCH against `current` (the
 * tenant's config as GET /api/tenants/:slug shows it); for `add`, `current`
 * is {} and the caller drops the nulls. `argv` is what came after `--`.
 */
export function settingsPatch(flags: SettingFlags, argv: readonly string[], current: Readonly<Record<string, unknown>>, io: SettingsIo): SettingsPatch {
  const patch: SettingsPatch = {};
  if (flags.app && flags.builtinApp) throw usage('--app and --builtin-app: give one');
  if (flags.app && flags.provider === 'command') throw usage('--app and --provider command both take the argv after --: set them in two calls');
  if (argv.length && !flags.app && flags.provider !== 'command') throw usage('a command after -- goes with --app or --provider command');
  if (flags.app) {
    if (!argv.length) throw usage("--app needs the app's argv after --, like: --app -- python3 -m http.server $PORT");
    patch.app = { command: [...argv] };
  }
  if (flags.builtinApp) patch.app = null;
  if (flags.public && flags.private) throw usage('--public and --private: give one');
  if (flags.public) patch.visibility = 'public';
  if (flags.private) patch.visibility = 'private';
  const provider = providerPatch(flags, argv, io);
  if (provider) patch.provider = provider;
  const limits = limitsPatch(flags, current.limits);
  if (limits !== undefined) patch.limits = limits;
  if (flags.instructionsFile !== undefined) {
    if (flags.instructionsFile === '-' && flags.apiKeyStdin) throw usage('--instructions-file - and --api-key-stdin both read stdin: give one');
    patch.instructions = flags.instructionsFile === '-' ? io.readStdin() : io.readFile(flags.instructionsFile);
  }
  if (flags.readOnlyRootfs !== undefined) patch.readOnlyRootfs = flags.readOnlyRootfs;
  const env = envPatch(flags, current.env);
  if (env !== undefined) patch.env = env;
  if (flags.port !== undefined) patch.port = flags.port === RESET ? null : wholeNumber('--port', flags.port, 1024, 65_535);
  if (flags.wakeTimeout !== undefined) {
    if (flags.wakeTimeout === RESET) patch.wakeTimeout = null;
    else {
      const ms = /^\d+(\.\d+)?(ms|s|m|h)$/.test(flags.wakeTimeout) ? parseDuration(flags.wakeTimeout) : undefined;
      if (ms === undefined || ms < 1000 || ms > 30 * 60_000)
        throw usage(`--wake-timeout ${flags.wakeTimeout}: must be a duration from 1s to 30m, like 90s or 2m`);
      patch.wakeTimeout = flags.wakeTimeout;
    }
  }
  if (flags.readinessPath !== undefined) {
    const p = flags.readinessPath;
    if (p !== RESET && (!p.startsWith('/') || p.length > 512 || /[\s\x00-\x1f\x7f]/.test(p))) {
      throw usage(`--readiness-path ${JSON.stringify(p)}: must be a path starting with /, without spaces (or ${RESET})`);
    }
    patch.readinessPath = p === RESET ? null : p;
  }
  if (flags.startingPage !== undefined) patch.startingPage = flags.startingPage;
  const mounts = mountsPatch(flags, current.mounts);
  if (mounts !== undefined) patch.mounts = mounts;
  return patch;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
