// A complete HTTP/1.1 response napbox writes straight to a socket, where no
// ServerResponse exists (the relay, connection refusals, refused upgrades):
// JSON as every napbox error is (`{ error, message }`), and the connection
// closed after it.

import http from 'node:http';
import type { Duplex } from 'node:stream';

/** `toHead`: the answer to a HEAD request, which carries no body (its length is still told). */
export function rawResponse(status: number, code: string, message: string, headers: Record<string, string> = {}, toHead = false): string {
  const body = JSON.stringify({ error: code, message });
  const lines = [
    `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}`,
    'Content-Type: application/json; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Cache-Control: no-store',
    'Connection: close',
    ...Object.entries(headers).map(([name, value]) => `${name}: ${value}`),
  ];
  return `${lines.join('\r\n')}\r\n\r\n${toHead ? '' : body}`;
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
