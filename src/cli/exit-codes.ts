// What the CLI's exit status says: one number per kind of failure, so a script
// can tell "no such tenant" from "napbox is not running" without reading the
// message. The same table is printed by `napbox --help` and README's CLI
// section.
//
// Invariant: an expected failure (a refusal from the server, a bad flag,
// napbox not running) exits with its own code and prints its reason in one
// line; only an error nothing here expected is EXIT.unexpected and says
// "unexpected error".

import { CommanderError } from 'commander';
import { type ErrorCode, NapboxError } from '../errors.js';

export const EXIT = {
  ok: 0,
  unexpected: 1,
  usage: 2,
  notFound: 3,
  conflict: 4,
  unreachable: 5,
  unauthorised: 6,
  tenantFailed: 7,
} as const;

type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The help text's table. */
export const EXIT_CODES_HELP = `Exit codes:
  0  ok
  1  unexpected error (a bug: please report it), or napbox failed (its engine)
  2  bad usage or bad input (the server answered 400)
  3  not found (404): no such tenant, message or build
  4  conflict (409): the tenant exists already, or is busy
  5  napbox is not running or not reachable
  6  not authorised (401 or 403)
  7  the tenant failed or timed out (503), or its message or build failed`;

/** An expected failure of the CLI's own (not an answer of the server's): its exit code and one line to print. */
export class CliError extends Error {
  constructor(
    readonly exitCode: ExitCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CliError';
  }
}

/** The server said no: its status, its error code (from its ErrorBody; '' when the body was not one) and its message. */
export class ServerRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ServerRefusal';
  }
}

const BY_CODE: Partial<Record<ErrorCode, ExitCode>> = {
  bad_request: EXIT.usage,
  payload_too_large: EXIT.usage,
  head_too_large: EXIT.usage,
  method_not_allowed: EXIT.usage,
  not_found: EXIT.notFound,
  conflict: EXIT.conflict,
  unauthorized: EXIT.unauthorised,
  forbidden: EXIT.unauthorised,
  wake_failed: EXIT.tenantFailed,
  wake_timeout: EXIT.tenantFailed,
  circuit_open: EXIT.tenantFailed,
  capacity: EXIT.tenantFailed,
  // Too many wakes of the tenant a minute: it cannot be woken now.
  rate_limited: EXIT.tenantFailed,
  // napbox going away, or giving up on a request it did not get in time: it does not answer.
  shutting_down: EXIT.unreachable,
  request_timeout: EXIT.unreachable,
  // napbox's own failures (503 or 502 too, but not the tenant's): 1.
  engine_unreachable: EXIT.unexpected,
  engine_error: EXIT.unexpected,
  config_invalid: EXIT.unexpected,
  internal: EXIT.unexpected,
};

/** A status with no napbox error body (a proxy's page): its class. */
function byStatus(status: number): ExitCode {
  if (status === 400 || status === 413 || status === 431) return EXIT.usage;
  if (status === 401 || status === 403) return EXIT.unauthorised;
  if (status === 404) return EXIT.notFound;
  if (status === 409) return EXIT.conflict;
  if (status === 503 || status === 504) return EXIT.tenantFailed;
  return EXIT.unexpected;
}

/** How the CLI ends for `err`: the exit code and the line it prints (without the `napbox: ` prefix). */
export function failureOf(err: unknown): { exitCode: number; message: string } {
  if (err instanceof CliError) return { exitCode: err.exitCode, message: err.message };
  if (err instanceof CommanderError) {
    // Commander printed its own message (and the help) already; --help and --version are not failures.
    return { exitCode: err.exitCode === 0 ? EXIT.ok : EXIT.usage, message: '' };
  }
  if (err instanceof ServerRefusal) return { exitCode: BY_CODE[err.code as ErrorCode] ?? byStatus(err.status), message: err.message };
  if (err instanceof NapboxError && err.code !== 'internal') return { exitCode: BY_CODE[err.code] ?? EXIT.unexpected, message: err.message };
  if (err instanceof NapboxError) return { exitCode: EXIT.unexpected, message: err.message };
  return { exitCode: EXIT.unexpected, message: `unexpected error: ${err instanceof Error ? err.message : String(err)}` };
}
