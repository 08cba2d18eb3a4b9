// Typed errors. Every failure that can reach a user carries a stable `code`,
// a message that says what to do next, and the underlying `cause`. The HTTP
// and CLI boundaries map codes to status codes and exit output; nothing in
// between logs and rethrows.

export type ErrorCode =
  | 'bad_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'request_timeout'
  | 'conflict'
  | 'payload_too_large'
  | 'head_too_large'
  | 'rate_limited'
  | 'wake_failed'
  | 'wake_timeout'
  | 'circuit_open'
  | 'engine_unreachable'
  | 'engine_error'
  | 'capacity'
  | 'shutting_down'
  | 'config_invalid'
  | 'internal';

const HTTP_STATUS: Record<ErrorCode, number> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  head_too_large: 431,
  rate_limited: 429,
  wake_failed: 503,
  wake_timeout: 503,
  circuit_open: 503,
  engine_unreachable: 503,
  engine_error: 502,
  capacity: 503,
  shutting_down: 503,
  config_invalid: 500,
  internal: 500,
};

/** A tenant that fails to start: the tenant's news (logged where it happened), not a napbox failure. */
const TENANT_FAULTS: ReadonlySet<ErrorCode> = new Set(['wake_failed', 'wake_timeout', 'circuit_open', 'shutting_down']);

export interface NapboxErrorOptions {
  cause?: unknown;
  /** Seconds a client should wait before trying again (503, 429). */
  retryAfterSeconds?: number;
  /** Extra facts for the response body and logs (never secrets). */
  details?: Record<string, unknown>;
}

export class NapboxError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterSeconds: number | undefined;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: NapboxErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'NapboxError';
    this.code = code;
    this.retryAfterSeconds = options.retryAfterSeconds;
    this.details = options.details;
  }

  get httpStatus(): number {
    return HTTP_STATUS[this.code];
  }

  /** Worth an error log at a boundary: a server-side failure that is napbox's or the engine's, not a tenant's. */
  get isServerFault(): boolean {
    return this.httpStatus >= 500 && !TENANT_FAULTS.has(this.code);
  }

  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, ...(this.details ?? {}) };
  }
}

/** Wraps anything thrown into a NapboxError, keeping NapboxErrors as they are. */
export function asNapboxError(err: unknown): NapboxError {
  if (err instanceof NapboxError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new NapboxError('internal', `unexpected error: ${message}`, { cause: err });
}

/** A schema's first complaint about a value, as `<path>: <message>`; `whole` names the value where the path is empty. */
export function firstIssue(error: { readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[] }, whole: string): string {
  const issue = error.issues[0];
  return `${issue?.path.length ? issue.path.map(String).join('.') : whole}: ${issue?.message ?? 'does not match'}`;
}
