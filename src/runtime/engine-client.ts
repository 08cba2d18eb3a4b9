// One connection to a Docker engine, shared by the drivers: the dockerode
// client made from DOCKER_HOST (docker-connection.ts), and the one mapping of
// engine failures to NapboxErrors. A missing object is the caller's to turn
// into `undefined` or a no-op (`absentAs`, 404); a name clash is 'conflict';
// engine JSON that dockerode does not type is read through a schema
// (`parseEngine`: the Swarm driver's services, configs and engine info);
// an engine that does not answer is 'engine_unreachable' with what to do,
// which for a remote engine (DOCKER_HOST) names what failed on the way to it.

import Docker from 'dockerode';
import type { z } from 'zod';
import { firstIssue, NapboxError } from '../errors.js';
import { engineAddress, isTransportFailure, type DockerDriverOptions, type EngineAddress } from './docker-connection.js';

export function statusCode(err: unknown): number | undefined {
  return typeof err === 'object' && err !== null && 'statusCode' in err ? Number((err as { statusCode: unknown }).statusCode) : undefined;
}

/**
 * Runs an engine call whose object may not exist: an engine answer with one
 * of `statuses` (404 by default: no such object), or one `tolerated` accepts,
 * resolves to `fallback` instead of failing. Every other failure is thrown.
 */
export async function absentAs<T, U>(
  fallback: U,
  fn: () => Promise<T>,
  statuses: readonly number[] = [404],
  tolerated?: (err: unknown) => boolean,
): Promise<T | U> {
  try {
    return await fn();
  } catch (err) {
    const code = statusCode(err);
    if ((code !== undefined && statuses.includes(code)) || tolerated?.(err)) return fallback;
    throw err;
  }
}

/** An engine answer read through its schema; one that does not fit is an 'engine_error' saying what was read. */
export function parseEngine<S extends z.ZodType>(schema: S, raw: unknown, what: string): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    throw new NapboxError('engine_error', `${what}: the engine's answer is not as expected (${firstIssue(parsed.error, 'top level')})`);
  }
  return parsed.data;
}

/** The engine's list filter for objects carrying every one of these labels. */
export function labelFilters(labels: Readonly<Record<string, string>>): { label: string[] } {
  return { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) };
}

export function isUnreachable(err: unknown): boolean {
  const code = typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : '';
  return ['ECONNREFUSED', 'ENOENT', 'EACCES', 'ECONNRESET', 'EHOSTUNREACH', 'ETIMEDOUT', 'ENOTFOUND'].includes(code);
}

export function engineMessage(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'json' in err) {
    const json = (err as { json: unknown }).json;
    if (json && typeof json === 'object' && 'message' in json) return String((json as { message: unknown }).message);
  }
  return err instanceof Error ? err.message : String(err);
}

/**
 * Engine failures that are a limit of the machine or the engine's settings, not a fault: what ran out
 * and what to change, or undefined for any other failure.
 */
export function engineLimit(message: string): string | undefined {
  if (/non-overlapping IPv4 address pool|no available IPv4 addresses|no available addresses|address pool.*exhausted/i.test(message)) {
    return 'network addresses (its address pools are used up): remove networks you no longer need (`docker network prune`), or give the engine more with default-address-pools in its daemon.json';
  }
  if (/cannot allocate memory|out of memory/i.test(message)) {
    return "memory: stop tenants you do not need (`napbox stop`), lower tenants' memory limits, or add memory";
  }
  if (/resource temporarily unavailable|too many open files|no space left on device/i.test(message)) {
    return `a system resource (${/no space/i.test(message) ? 'disk space' : 'processes or file descriptors'}): stop tenants you do not need, or raise the host's limits`;
  }
  return undefined;
}

/** Runs an engine call, turning engine failures into NapboxErrors: unreachable (with what to do), 409 conflict, other. */
export async function callEngine<T>(shown: string, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof NapboxError) throw err;
    if (isUnreachable(err)) {
      throw new NapboxError('engine_unreachable', `Docker engine not reachable at ${shown}: start it with \`npm run setup\`, or set DOCKER_HOST`, {
        cause: err,
      });
    }
    if (statusCode(err) === 409) throw new NapboxError('conflict', `${what}: ${engineMessage(err)}`, { cause: err });
    const limit = engineLimit(engineMessage(err));
    if (limit) throw new NapboxError('capacity', `${what} failed: the engine ran out of ${limit}`, { cause: err, retryAfterSeconds: 30 });
    throw new NapboxError('engine_error', `${what} failed: ${engineMessage(err)}`, { cause: err });
  }
}

export class EngineClient {
  readonly docker: Docker;
  readonly address: EngineAddress;

  constructor(dockerHost: string | undefined = process.env.DOCKER_HOST, options: DockerDriverOptions = {}) {
    this.address = engineAddress(dockerHost, options);
    try {
      this.docker = new Docker(this.address.options);
    } catch (err) {
      // docker-modem itself also reads DOCKER_CERT_PATH/{ca,cert,key}.pem when DOCKER_HOST is not a socket.
      throw new NapboxError(
        'config_invalid',
        `the Docker client for ${this.address.shown} could not be set up: ${(err as Error).message} (DOCKER_CERT_PATH must hold ca.pem, cert.pem and key.pem)`,
        { cause: err },
      );
    }
  }

  /** Where the engine is, for messages (never a secret: no certificate, no key). */
  get shown(): string {
    return this.address.shown;
  }

  /** Runs one engine call with the failure mapping above. */
  async call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    const { address } = this;
    try {
      return await callEngine(address.shown, what, fn);
    } catch (err) {
      // A remote engine (DOCKER_HOST) cannot be started from here: say what failed on the way to it instead.
      const cause = err instanceof NapboxError ? err.cause : undefined;
      if (
        address.target.kind !== 'unix' &&
        err instanceof NapboxError &&
        (err.code === 'engine_unreachable' || isTransportFailure(cause) || address.hostKeyProblem?.() !== undefined)
      ) {
        throw new NapboxError(
          'engine_unreachable',
          `Docker engine not reachable at ${address.shown} (DOCKER_HOST): ${address.hostKeyProblem?.() ?? (cause instanceof Error ? cause.message : err.message)}; check that it runs there and listens on that address${address.target.kind === 'tcp' && address.target.tls ? ', and the certificates in DOCKER_CERT_PATH' : ''}`,
          { cause },
        );
      }
      throw err;
    }
  }
}
