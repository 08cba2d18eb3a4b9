// Configuration: read from the environment once, at start-up, into a frozen
// typed object. Every variable here is documented in the README's table;
// an invalid value stops start-up with a message naming the variable.

import net from 'node:net';
import path from 'node:path';
import { NapboxError } from '../errors.js';
import { parseDuration } from './duration.js';
import { isRemote, parseDockerHost } from './docker-host.js';
import { parseTrustedProxies } from './trusted-proxies.js';
import { parsePublicUrl, publicBaseDomain, type PublicUrl } from './public-url.js';

type UpstreamMode = 'auto' | 'bridge' | 'published';

export interface Config {
  readonly port: number;
  readonly listen: string;
  readonly dataDir: string;
  readonly groupsDir: string;
  readonly baseDomain: string;
  /** Where browsers reach napbox (a front proxy's address), for every link napbox prints or serves; undefined: its own port. */
  readonly publicUrl: PublicUrl | undefined;
  readonly idleTimeoutMs: number;
  /** A tenant idle this long is paused (frozen, memory kept) until its idle timeout; 0: never paused. */
  readonly pauseAfterMs: number;
  /** At most this many tenants paused at once: past it, the longest idle are stopped. */
  readonly pausedMax: number;
  /** At most this much memory (bytes) kept by paused tenants together: past it, the longest idle are stopped. */
  readonly pausedMemoryBytes: number;
  readonly sweepIntervalMs: number;
  readonly wakeTimeoutMs: number;
  /** How often runners send their timer heartbeat. */
  readonly heartbeatIntervalMs: number;
  /** A runner silent this long while processing a message is restarted. */
  readonly heartbeatTimeoutMs: number;
  /** No busy lease holds a tenant longer than this from when it was first taken. */
  readonly leaseMaxMs: number;
  /** Wakes of one tenant allowed per minute (wake-storm protection). */
  readonly wakesPerMinute: number;
  /** This many failed wakes of a tenant within `breakerWindowMs` open its circuit breaker. */
  readonly breakerFailures: number;
  readonly breakerWindowMs: number;
  /** A browser held this long by a cold wake gets the "starting" page; 0: never. */
  readonly startingPageAfterMs: number;
  /** docker: one plain container per tenant; swarm: one swarm service (0/1 replicas) per tenant. */
  readonly driver: 'docker' | 'swarm';
  /** As Docker's own tools read it; undefined means the local socket. */
  readonly dockerHost: string | undefined;
  /** How napbox reaches a container: its bridge address, or a port published on the engine's host. */
  readonly upstream: UpstreamMode;
  /** The engine host's IP address tenant ports are published on; undefined: chosen from DOCKER_HOST (docker-host.ts). */
  readonly publishAddress: string | undefined;
  /** bind: the engine shares napbox's filesystem; copy: it does not (a remote engine): volumes and copies. */
  readonly mounts: 'bind' | 'copy';
  /** A PEM bundle given to image builds so apt/npm work behind TLS-intercepting proxies. */
  readonly caBundle: string | undefined;
  readonly logLevel: string;
  /** json, pretty, or auto: pretty on a terminal. */
  readonly logFormat: 'auto' | 'json' | 'pretty';
  /** Which host folders tenants may mount, kept outside the project. */
  readonly mountAllowlist: string;
  /** Front proxies (IPs, CIDR ranges) whose X-Forwarded-* headers napbox keeps; empty: none. */
  readonly trustedProxies: readonly string[];
  /** Connections open at once; undefined: the default, lowered to what the open-files limit holds. */
  readonly maxConnections: number | undefined;
  /** Connections open at once from one client address (trusted proxies exempt). */
  readonly maxConnectionsPerClient: number;
  /** A request head must arrive in full this long after the connection opened or its first byte. */
  readonly headTimeoutMs: number;
}

type Env = Readonly<Record<string, string | undefined>>;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const HOSTNAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

function invalid(variable: string, value: string, expected: string): NapboxError {
  return new NapboxError('config_invalid', `${variable}=${JSON.stringify(value)} is invalid: expected ${expected}`, {
    details: { variable },
  });
}

function readDuration(env: Env, variable: string, fallback: string, minMs: number): number {
  const raw = env[variable] ?? fallback;
  const ms = parseDuration(raw);
  if (ms === undefined || ms < minMs) {
    throw invalid(variable, raw, `a duration of at least ${minMs}ms, like 1500, 250ms, 15s, 10m or 1h`);
  }
  return ms;
}

const SIZE = /^(\d+)([kmg]?)$/i;
const SIZE_UNIT = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;

function readSize(env: Env, variable: string, fallback: string): number {
  const raw = env[variable] ?? fallback;
  const match = SIZE.exec(raw.trim());
  const bytes = match ? Number(match[1]) * SIZE_UNIT[(match[2] ?? '').toLowerCase() as keyof typeof SIZE_UNIT] : Number.NaN;
  if (!Number.isSafeInteger(bytes) || bytes < 1) throw invalid(variable, raw, 'a size like 512m or 4g (bytes without a suffix)');
  return bytes;
}

function readPort(env: Env, variable: string, fallback: number): number {
  const raw = env[variable];
  if (raw === undefined) return fallback;
  const port = Number(raw);
  if (!/^\d+$/.test(raw) || port < 0 || port > 65535) throw invalid(variable, raw, 'a port number from 0 to 65535');
  return port;
}

function readCount(env: Env, variable: string, fallback: number, max = 100_000): number {
  const raw = env[variable];
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < 1 || n > max) throw invalid(variable, raw, `a whole number from 1 to ${max}`);
  return n;
}

function readTrustedProxies(env: Env): string[] {
  const raw = env.NAPBOX_TRUSTED_PROXIES ?? '';
  try {
    return parseTrustedProxies(raw);
  } catch (err) {
    throw invalid('NAPBOX_TRUSTED_PROXIES', raw, `comma-separated IP addresses or CIDR ranges (${(err as Error).message})`);
  }
}

function readPublicUrl(env: Env): PublicUrl | undefined {
  const raw = env.NAPBOX_PUBLIC_URL;
  if (raw === undefined || raw === '') return undefined;
  try {
    return parsePublicUrl(raw);
  } catch (err) {
    throw invalid('NAPBOX_PUBLIC_URL', raw, `a URL like https://napbox.example.com or http://apps.example.com:8443 (${(err as Error).message})`);
  }
}

function readEnum<T extends string>(env: Env, variable: string, allowed: readonly T[], fallback: T): T {
  const raw = env[variable] ?? fallback;
  if (!(allowed as readonly string[]).includes(raw)) throw invalid(variable, raw, `one of ${allowed.join(', ')}`);
  return raw as T;
}

/** The CA bundle to hand to builds: NAPBOX_CA_BUNDLE, else what Node itself was told to trust. */
function readCaBundle(env: Env): string | undefined {
  const raw = env.NAPBOX_CA_BUNDLE ?? env.NODE_EXTRA_CA_CERTS ?? env.SSL_CERT_FILE;
  return raw === undefined || raw === '' ? undefined : path.resolve(raw);
}

export function loadConfig(env: Env = process.env, cwd: string = process.cwd()): Config {
  const listen = env.NAPBOX_LISTEN ?? '127.0.0.1';
  if (listen.length === 0) throw invalid('NAPBOX_LISTEN', listen, 'an address to bind, like 127.0.0.1 or 0.0.0.0');
  const publicUrl = readPublicUrl(env);
  // Behind a public URL, tenants are `<slug>.<its host>` unless NAPBOX_BASE_DOMAIN says otherwise.
  const baseDomain = (env.NAPBOX_BASE_DOMAIN ?? (publicUrl && publicBaseDomain(publicUrl)) ?? 'localhost').toLowerCase();
  if (!HOSTNAME.test(baseDomain)) throw invalid('NAPBOX_BASE_DOMAIN', baseDomain, 'a host name like localhost or apps.example.com');
  const dockerHost = env.DOCKER_HOST === '' ? undefined : env.DOCKER_HOST;
  let remote: boolean;
  try {
    remote = isRemote(parseDockerHost(env));
  } catch (err) {
    throw new NapboxError('config_invalid', `${(err as Error).message} (expected unix:///path, tcp://host:port or ssh://user@host)`, {
      details: { variable: 'DOCKER_HOST' },
    });
  }
  const publishAddress = env.NAPBOX_PUBLISH_ADDRESS === '' ? undefined : env.NAPBOX_PUBLISH_ADDRESS;
  if (publishAddress !== undefined && net.isIP(publishAddress) === 0) {
    throw invalid('NAPBOX_PUBLISH_ADDRESS', publishAddress, "an IP address of the engine's host, or 0.0.0.0 for all of them");
  }
  return Object.freeze({
    port: readPort(env, 'NAPBOX_PORT', 8080),
    listen,
    dataDir: path.resolve(cwd, env.NAPBOX_DATA_DIR ?? './data'),
    groupsDir: path.resolve(cwd, env.NAPBOX_GROUPS_DIR ?? './groups'),
    baseDomain,
    publicUrl,
    idleTimeoutMs: readDuration(env, 'NAPBOX_IDLE_TIMEOUT', '10m', 1000),
    pauseAfterMs: readDuration(env, 'NAPBOX_PAUSE_AFTER', '30s', 0),
    pausedMax: readCount(env, 'NAPBOX_PAUSED_MAX', 50),
    pausedMemoryBytes: readSize(env, 'NAPBOX_PAUSED_MEMORY', '4g'),
    sweepIntervalMs: readDuration(env, 'NAPBOX_SWEEP_INTERVAL', '15s', 100),
    wakeTimeoutMs: readDuration(env, 'NAPBOX_WAKE_TIMEOUT', '60s', 100),
    heartbeatIntervalMs: readDuration(env, 'NAPBOX_HEARTBEAT_INTERVAL', '5s', 100),
    heartbeatTimeoutMs: readDuration(env, 'NAPBOX_HEARTBEAT_TIMEOUT', '90s', 200),
    leaseMaxMs: readDuration(env, 'NAPBOX_LEASE_MAX', '1h', 100),
    wakesPerMinute: readCount(env, 'NAPBOX_WAKE_RATE', 30),
    breakerFailures: readCount(env, 'NAPBOX_BREAKER_FAILURES', 3, 1000),
    breakerWindowMs: readDuration(env, 'NAPBOX_BREAKER_WINDOW', '10m', 1000),
    startingPageAfterMs: readDuration(env, 'NAPBOX_STARTING_PAGE_AFTER', '1s', 0),
    dockerHost,
    driver: readEnum(env, 'NAPBOX_DRIVER', ['docker', 'swarm'] as const, 'docker'),
    upstream: readEnum(env, 'NAPBOX_UPSTREAM', ['auto', 'bridge', 'published'] as const, 'auto'),
    publishAddress,
    mounts: readEnum(env, 'NAPBOX_MOUNTS', ['bind', 'copy'] as const, remote ? 'copy' : 'bind'),
    caBundle: readCaBundle(env),
    logLevel: readEnum(env, 'NAPBOX_LOG_LEVEL', LOG_LEVELS, 'info'),
    logFormat: readEnum(env, 'NAPBOX_LOG_FORMAT', ['auto', 'json', 'pretty'] as const, 'auto'),
    mountAllowlist: path.resolve(cwd, env.NAPBOX_MOUNT_ALLOWLIST ?? path.join(env.HOME ?? '/root', '.config/napbox/mount-allowlist.json')),
    trustedProxies: readTrustedProxies(env),
    maxConnections: env.NAPBOX_MAX_CONNECTIONS === undefined ? undefined : readCount(env, 'NAPBOX_MAX_CONNECTIONS', 0, 1_000_000),
    maxConnectionsPerClient: readCount(env, 'NAPBOX_MAX_CONNECTIONS_PER_CLIENT', 1000, 1_000_000),
    headTimeoutMs: readDuration(env, 'NAPBOX_HEAD_TIMEOUT', '10s', 100),
  });
}
