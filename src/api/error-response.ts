// The one place an error becomes an HTTP answer, for every napbox endpoint:
// the admin API, the dashboard, the tenant proxy, and the raw sockets where no
// ServerResponse exists (refused upgrades, the connection relay, connection
// refusals).
//
// Invariants:
// - Every error answer is the same: the NapboxError's status, a JSON body
//   `{ error: <code>, message, ...details }` (ErrorBody, which the CLI reads
//   back), `Cache-Control: no-store`, and `Retry-After` when the error has one.
//   Anything that is not a NapboxError is a 500 `internal`.
// - On a raw socket the answer is a complete HTTP/1.1 response with
//   `Connection: close`, and the socket is then closed gracefully
//   (closeAfter): what the client still sends is read and dropped, so the
//   close does not reset the connection before the answer is read.
// - The answer to a HEAD request carries no body (its length is still told).

import type { ServerResponse } from 'node:http';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { asNapboxError, type NapboxError } from '../errors.js';
import type { ErrorBody } from './answers.js';

interface ErrorAnswer {
  readonly error: NapboxError;
  readonly status: number;
  /** Lower-case names, as node:http takes them. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** What `err` answers: status, headers (with `extra`, like Allow) and body. */
function errorAnswer(err: unknown, extra: Readonly<Record<string, string>> = {}): ErrorAnswer {
  const error = asNapboxError(err);
  const json: ErrorBody = { error: error.code, message: error.message, ...error.details };
  const body = JSON.stringify(json);
  return {
    error,
    status: error.httpStatus,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(body)),
      'cache-control': 'no-store',
      ...(error.retryAfterSeconds !== undefined ? { 'retry-after': String(error.retryAfterSeconds) } : {}),
      ...lowerCased(extra),
    },
    body,
  };
}

/** Answers `err` on a response; one already begun is ended as it is. Returns the error, for the caller to log. */
export function sendError(res: ServerResponse, err: unknown, extra: Readonly<Record<string, string>> = {}): NapboxError {
  const answer = errorAnswer(err, extra);
  if (res.headersSent) {
    res.end();
    return answer.error;
  }
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
  return answer.error;
}

export interface SocketAnswerOptions {
  /** The request was a HEAD: no body. */
  readonly head?: boolean;
  readonly headers?: Readonly<Record<string, string>>;
  /** How long the socket may linger, reading and dropping, after the answer. */
  readonly lingerMs?: number;
}

/** `err` as a complete HTTP/1.1 response, for a socket with no ServerResponse. */
function rawErrorResponse(err: unknown, options: Omit<SocketAnswerOptions, 'lingerMs'> = {}): string {
  const answer = errorAnswer(err, options.headers);
  const lines = [
    `HTTP/1.1 ${answer.status} ${http.STATUS_CODES[answer.status] ?? 'Error'}`,
    ...Object.entries(answer.headers).map(([name, value]) => `${titleCase(name)}: ${value}`),
    'Connection: close',
  ];
  return `${lines.join('\r\n')}\r\n\r\n${options.head ? '' : answer.body}`;
}

/** Answers `err` on a raw socket, then closes it (see the header). Returns the error, for the caller to log. */
export function refuseSocket(socket: Duplex, err: unknown, options: SocketAnswerOptions = {}): NapboxError {
  const error = asNapboxError(err);
  closeAfter(socket, rawErrorResponse(error, options), options.lingerMs);
  return error;
}

/**
 * Ends `socket` after `response` (and whatever was written before it): what
 * the client still sends is read and dropped, so that closing does not reset
 * the connection before the client has read the answer, and the socket is
 * destroyed after `lingerMs` at most.
 */
export function closeAfter(socket: Duplex, response = '', lingerMs = 2000): void {
  socket.on('error', () => undefined);
  if (!socket.writable) {
    socket.destroy(); // already ended (a response before said Connection: close): nothing more may be written
    return;
  }
  socket.end(response);
  socket.resume();
  const timer = setTimeout(() => socket.destroy(), lingerMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function lowerCased(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
}

function titleCase(name: string): string {
  return name.replace(/(^|-)([a-z])/g, (_all, dash: string, letter: string) => dash + letter.toUpperCase());
}
