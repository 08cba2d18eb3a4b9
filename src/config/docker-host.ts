// Where the Docker engine is, read from the environment the way Docker's own
// tools read it (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_TLS, DOCKER_CERT_PATH),
// and where the ports napbox publishes for tenants listen and are dialled.
// Pure: no file is read here (the driver reads the TLS files it is pointed at).
//
// Invariants:
// - A local engine (unix socket, or no DOCKER_HOST) publishes on 127.0.0.1
//   only, as before.
// - A remote engine (tcp://, ssh://) never gets a port published on its
//   loopback, which napbox could not reach: ports listen on the address chosen
//   (NAPBOX_PUBLISH_ADDRESS), by default the engine's own address from
//   DOCKER_HOST when that is an IP address, else every interface (0.0.0.0).
//   Whatever listens there is reachable by every machine that reaches that
//   address: see the README's "Remote engines".

import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export type EngineTarget =
  | { readonly kind: 'unix'; readonly socketPath: string; readonly shown: string }
  | {
      readonly kind: 'tcp';
      readonly host: string;
      readonly port: number;
      /** TLS settings; undefined: plain HTTP (only sensible on a trusted network, e.g. loopback). */
      readonly tls: { readonly verify: boolean; readonly certPath: string } | undefined;
      readonly shown: string;
    }
  | { readonly kind: 'ssh'; readonly host: string; readonly port: number; readonly username: string | undefined; readonly shown: string };

type Env = Readonly<Record<string, string | undefined>>;

const DEFAULT_SOCKET = '/var/run/docker.sock';

function truthy(value: string | undefined): boolean {
  return value !== undefined && value !== '' && value !== '0' && value.toLowerCase() !== 'false';
}

/**
 * Parses DOCKER_HOST (and, for tcp://, the TLS variables) into a target.
 * Throws an Error naming the variable for a value Docker's tools would refuse.
 */
export function parseDockerHost(env: Env, home: string = os.homedir()): EngineTarget {
  const raw = env.DOCKER_HOST === '' ? undefined : env.DOCKER_HOST;
  if (raw === undefined) return { kind: 'unix', socketPath: DEFAULT_SOCKET, shown: DEFAULT_SOCKET };
  if (raw.startsWith('unix://')) {
    const socketPath = raw.slice('unix://'.length) || DEFAULT_SOCKET;
    if (!path.isAbsolute(socketPath)) throw new Error(`DOCKER_HOST=${JSON.stringify(raw)}: the socket path must be absolute`);
    return { kind: 'unix', socketPath, shown: socketPath };
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`DOCKER_HOST=${JSON.stringify(raw)} is not an address: expected unix:///path, tcp://host:port or ssh://user@host`);
  }
  if (!url.hostname) throw new Error(`DOCKER_HOST=${JSON.stringify(raw)} names no host`);
  if (url.pathname !== '' && url.pathname !== '/') throw new Error(`DOCKER_HOST=${JSON.stringify(raw)}: a path after the host is not supported`);
  if (url.search || url.hash || url.password)
    throw new Error(`DOCKER_HOST=${JSON.stringify(raw)}: no query, fragment or password (use an ssh agent for ssh://)`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.protocol === 'ssh:') {
    const port = Number(url.port || 22);
    return {
      kind: 'ssh',
      host,
      port,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      shown: `ssh://${url.username ? `${url.username}@` : ''}${url.host}`,
    };
  }
  if (url.protocol !== 'tcp:' && url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new Error(`DOCKER_HOST=${JSON.stringify(raw)}: the scheme ${url.protocol} is not supported here: use unix://, tcp:// or ssh://`);
  }
  if (url.username) throw new Error(`DOCKER_HOST=${JSON.stringify(raw)}: no user name in a tcp:// address (TLS client certificates authenticate)`);
  // Docker's CLI: DOCKER_TLS_VERIFY (any non-empty value) means TLS checking the engine's certificate
  // against ca.pem; DOCKER_TLS means TLS without that check. Both read DOCKER_CERT_PATH (default ~/.docker).
  const verify = truthy(env.DOCKER_TLS_VERIFY);
  const useTls = verify || truthy(env.DOCKER_TLS) || url.protocol === 'https:';
  const port = Number(url.port || (useTls ? 2376 : 2375));
  const certPath = env.DOCKER_CERT_PATH ? path.resolve(env.DOCKER_CERT_PATH) : path.join(home, '.docker');
  return { kind: 'tcp', host, port, tls: useTls ? { verify, certPath } : undefined, shown: `${useTls ? 'tcp+tls' : 'tcp'}://${url.host}` };
}

export function isRemote(target: EngineTarget): boolean {
  return target.kind !== 'unix';
}

export interface PublishAddresses {
  /** The engine host's address the published ports listen on (Docker's HostIp). */
  readonly bindIp: string;
  /** Where napbox dials those ports. */
  readonly dialHost: string;
}

function isWildcard(ip: string): boolean {
  return ip === '0.0.0.0' || ip === '::';
}

/**
 * Where tenant ports are published and dialled. `chosen` is NAPBOX_PUBLISH_ADDRESS
 * (an IP address of the engine's host, or 0.0.0.0 for all of them).
 */
export function publishAddresses(target: EngineTarget, chosen: string | undefined): PublishAddresses {
  if (chosen !== undefined && net.isIP(chosen) === 0)
    throw new Error(`NAPBOX_PUBLISH_ADDRESS=${JSON.stringify(chosen)} must be an IP address of the engine's host (or 0.0.0.0)`);
  if (target.kind === 'unix') {
    const bindIp = chosen ?? '127.0.0.1';
    return { bindIp, dialHost: isWildcard(bindIp) ? '127.0.0.1' : bindIp };
  }
  const engineIsIp = net.isIP(target.host) !== 0;
  const bindIp = chosen ?? (engineIsIp ? target.host : '0.0.0.0');
  return { bindIp, dialHost: isWildcard(bindIp) ? target.host : bindIp };
}
