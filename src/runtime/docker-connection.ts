// How napbox talks to a Docker engine: DOCKER_HOST and its TLS settings read
// as Docker's tools read them (docker-host.ts), turned into dockerode's
// options: a unix socket; tcp:// in plain HTTP or TLS (the engine's
// certificate checked against ca.pem with DOCKER_TLS_VERIFY, a client
// certificate presented); ssh:// over kept-alive SSH connections
// (ssh-dial.ts) whose host key must be in known_hosts. Nothing here logs or
// returns a key or a certificate.

import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type Docker from 'dockerode';
import { NapboxError } from '../errors.js';
import { parseDockerHost, publishAddresses, type EngineTarget, type PublishAddresses } from '../config/docker-host.js';
import { checkHostKey } from './ssh-known-hosts.js';
import { sshDialAgent } from './ssh-dial.js';

export interface EngineAddress {
  readonly options: Docker.DockerOptions;
  readonly target: EngineTarget;
  readonly publish: PublishAddresses;
  /** Where ports published on the engine's host are dialled from here (publish.dialHost). */
  readonly publishHost: string;
  readonly shown: string;
  /** ssh://: why the last host key was refused, if it was. */
  readonly hostKeyProblem?: () => string | undefined;
}

export interface DockerDriverOptions {
  /** NAPBOX_PUBLISH_ADDRESS: the engine host's address published ports listen on (docker-host.ts). */
  readonly publishAddress?: string;
  /** Where DOCKER_TLS_VERIFY, DOCKER_TLS and DOCKER_CERT_PATH are read; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

function readTlsFile(certPath: string, name: string, required: boolean): Buffer | undefined {
  const file = path.join(certPath, name);
  try {
    return fs.readFileSync(file);
  } catch (err) {
    if (!required && (err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new NapboxError('config_invalid', `cannot read ${file} for the Docker engine's TLS (DOCKER_CERT_PATH): ${(err as Error).message}`, { cause: err });
  }
}

/** Reads DOCKER_HOST and its TLS settings the way Docker's own tools do, into dockerode's options. */
export function engineAddress(dockerHost: string | undefined, options: DockerDriverOptions = {}): EngineAddress {
  const env = options.env ?? process.env;
  let target: EngineTarget;
  let publish: PublishAddresses;
  try {
    target = parseDockerHost({ ...env, DOCKER_HOST: dockerHost });
    publish = publishAddresses(target, options.publishAddress);
  } catch (err) {
    throw new NapboxError('config_invalid', (err as Error).message, { cause: err });
  }
  if (target.kind === 'unix') return { options: { socketPath: target.socketPath }, target, publish, publishHost: publish.dialHost, shown: target.shown };
  if (target.kind === 'ssh') {
    // `docker system dial-stdio` on the host over kept-alive SSH connections (ssh-dial.ts), authenticating
    // with the ssh agent at SSH_AUTH_SOCK. ssh2 would accept any host key: it is checked against
    // known_hosts, as `ssh` does.
    const knownHostsFile = env.NAPBOX_SSH_KNOWN_HOSTS || path.join(env.HOME || os.homedir(), '.ssh', 'known_hosts');
    let knownHosts = '';
    try {
      knownHosts = fs.readFileSync(knownHostsFile, 'utf8');
    } catch {
      /* no file: every host is unknown, and refused */
    }
    let problem: string | undefined;
    const hostVerifier = (key: Buffer): boolean => {
      const verdict = checkHostKey(knownHosts, target.host, target.port, key).kind;
      const name = target.port === 22 ? target.host : `[${target.host}]:${target.port}`;
      problem =
        verdict === 'known'
          ? undefined
          : verdict === 'unknown'
            ? `the host key of ${name} is not in ${knownHostsFile} (NAPBOX_SSH_KNOWN_HOSTS): connect once with \`ssh -p ${target.port} ${target.host}\` and check its fingerprint, or add it with ssh-keyscan`
            : `the host key of ${name} ${verdict === 'revoked' ? 'is revoked' : 'does not match the one'} in ${knownHostsFile}: someone may be impersonating the engine; check the host before changing known_hosts`;
      return verdict === 'known';
    };
    const agent = sshDialAgent({ host: target.host, port: target.port, username: target.username, agent: env.SSH_AUTH_SOCK, hostVerifier });
    return {
      options: { protocol: 'http', host: target.host, port: target.port, agent } as Docker.DockerOptions,
      target,
      publish,
      publishHost: publish.dialHost,
      shown: target.shown,
      hostKeyProblem: () => problem,
    };
  }
  if (!target.tls)
    return { options: { protocol: 'http', host: target.host, port: target.port }, target, publish, publishHost: publish.dialHost, shown: target.shown };
  const { verify, certPath } = target.tls;
  const ca = verify ? readTlsFile(certPath, 'ca.pem', true) : undefined;
  const cert = readTlsFile(certPath, 'cert.pem', false);
  const key = readTlsFile(certPath, 'key.pem', false);
  const agent = new https.Agent({ keepAlive: true, rejectUnauthorized: verify, ...(ca ? { ca } : {}), ...(cert && key ? { cert, key } : {}) });
  return {
    options: {
      protocol: 'https',
      host: target.host,
      port: target.port,
      agent,
      ...(ca ? { ca } : {}),
      ...(cert && key ? { cert, key } : {}),
    } as Docker.DockerOptions,
    target,
    publish,
    publishHost: publish.dialHost,
    shown: target.shown,
  };
}

/** TLS and ssh failures on the way to a remote engine (the engine itself never answered). */
export function isTransportFailure(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  if ('level' in err && /^(client-|handshake|protocol)/.test(String((err as { level: unknown }).level))) return true; // ssh2: client-socket, client-authentication, handshake, ...
  const code = 'code' in err ? String((err as { code: unknown }).code) : '';
  return /^(ERR_TLS_|ERR_SSL_|EPROTO$|CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|EAI_AGAIN$|ENETUNREACH$)/.test(code);
}
