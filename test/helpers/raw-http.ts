// HTTP over raw sockets, for tests that must send what no HTTP client
// library would (malformed heads, pipelined requests, slow heads) and check
// exactly what comes back: a strict reader of HTTP/1.1 response streams, and
// a socket that records what it received and when it closed.

import net from 'node:net';

interface RawResponse {
  readonly status: number;
  /** Lower-case names; repeated headers joined with ', '. */
  readonly headers: Record<string, string>;
  readonly body: Buffer;
}

export interface ParsedStream {
  readonly responses: RawResponse[];
  /** Bytes after the last complete response (a response still arriving, or garbage). */
  readonly rest: Buffer;
  /** Set when the bytes cannot be HTTP/1.1 responses at all. */
  readonly error?: string;
  /** A 101 was read: what follows is another protocol. */
  readonly upgraded: boolean;
}

const STATUS_LINE = /^HTTP\/1\.[01] ([1-5]\d\d) [\t\x20-\x7e\x80-\xff]*$/;
const FIELD_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+):[ \t]*([\t\x20-\x7e\x80-\xff]*?)[ \t]*$/;

/**
 * Reads consecutive responses from `buf`. `closed`: the connection has ended,
 * so a response without a length ends here. `heads`: per request, whether it
 * was a HEAD (its response has no body), oldest first. `headsUnknown`: past
 * `heads`, a response whose body is missing exactly at the close may be the
 * answer to a HEAD.
 */
export function parseResponses(buf: Buffer, closed: boolean, heads: readonly boolean[] = [], headsUnknown = false): ParsedStream {
  const responses: RawResponse[] = [];
  let at = 0;
  while (at < buf.length) {
    const end = buf.indexOf('\r\n\r\n', at, 'latin1');
    if (end === -1) {
      const partial = buf.toString('latin1', at, Math.min(buf.length, at + 16));
      if (!'HTTP/1.'.startsWith(partial.slice(0, 7)) && !partial.startsWith('HTTP/1.'))
        return { responses, rest: buf.subarray(at), error: `not a status line: ${JSON.stringify(partial)}`, upgraded: false };
      break;
    }
    const lines = buf.toString('latin1', at, end).split('\r\n');
    const status = STATUS_LINE.exec(lines[0]!);
    if (!status) return { responses, rest: buf.subarray(at), error: `bad status line ${JSON.stringify(lines[0])}`, upgraded: false };
    const headers: Record<string, string> = {};
    for (const line of lines.slice(1)) {
      const field = FIELD_LINE.exec(line);
      if (!field) return { responses, rest: buf.subarray(at), error: `bad header line ${JSON.stringify(line)}`, upgraded: false };
      const name = field[1]!.toLowerCase();
      headers[name] = headers[name] === undefined ? field[2]! : `${headers[name]}, ${field[2]}`;
    }
    const code = Number(status[1]);
    let bodyStart = end + 4;
    if (code === 101) {
      responses.push({ status: code, headers, body: Buffer.alloc(0) });
      return { responses, rest: buf.subarray(bodyStart), upgraded: true };
    }
    if (code < 200) {
      at = bodyStart;
      continue;
    }
    const isHead = heads[responses.length] ?? false;
    let body: Buffer;
    if (isHead || code === 204 || code === 304) {
      body = Buffer.alloc(0);
    } else if (headers['transfer-encoding'] !== undefined) {
      if (!/(^|,)\s*chunked\s*$/i.test(headers['transfer-encoding']))
        return { responses, rest: buf.subarray(at), error: 'response with a transfer coding other than chunked', upgraded: false };
      const chunks: Buffer[] = [];
      let p = bodyStart;
      let complete = false;
      for (;;) {
        const lineEnd = buf.indexOf('\r\n', p, 'latin1');
        if (lineEnd === -1) break;
        const size = /^([0-9a-fA-F]+)(;.*)?$/.exec(buf.toString('latin1', p, lineEnd));
        if (!size) return { responses, rest: buf.subarray(at), error: 'bad chunk size line', upgraded: false };
        const n = parseInt(size[1]!, 16);
        if (n === 0) {
          const trailerEnd = buf.indexOf('\r\n', lineEnd + 2, 'latin1');
          if (trailerEnd === -1) break;
          if (trailerEnd !== lineEnd + 2) return { responses, rest: buf.subarray(at), error: 'trailers in a test response', upgraded: false };
          p = trailerEnd + 2;
          complete = true;
          break;
        }
        if (lineEnd + 2 + n + 2 > buf.length) break;
        chunks.push(buf.subarray(lineEnd + 2, lineEnd + 2 + n));
        if (buf.toString('latin1', lineEnd + 2 + n, lineEnd + 4 + n) !== '\r\n')
          return { responses, rest: buf.subarray(at), error: 'chunk not followed by CRLF', upgraded: false };
        p = lineEnd + 4 + n;
      }
      if (!complete) break;
      body = Buffer.concat(chunks);
      bodyStart = p;
      responses.push({ status: code, headers, body });
      at = bodyStart;
      continue;
    } else if (headers['content-length'] !== undefined) {
      if (!/^\d+$/.test(headers['content-length']))
        return { responses, rest: buf.subarray(at), error: `bad Content-Length ${headers['content-length']}`, upgraded: false };
      const n = Number(headers['content-length']);
      if (bodyStart + n > buf.length) {
        if (!(headsUnknown && closed && bodyStart === buf.length && responses.length >= heads.length)) break;
        responses.push({ status: code, headers, body: Buffer.alloc(0) });
        at = bodyStart;
        continue;
      }
      body = buf.subarray(bodyStart, bodyStart + n);
      bodyStart += n;
    } else {
      if (!closed) break; // ends at close
      body = buf.subarray(bodyStart);
      bodyStart = buf.length;
    }
    responses.push({ status: code, headers, body });
    at = bodyStart;
  }
  return { responses, rest: buf.subarray(at), upgraded: false };
}

export interface RawConnection {
  readonly socket: net.Socket;
  /** Everything received so far. */
  received(): Buffer;
  readonly closed: () => boolean;
  /** Resolves when `done(received)` is true, or rejects after `timeoutMs`. */
  until(done: (received: Buffer, closed: boolean) => boolean, timeoutMs: number): Promise<Buffer>;
  /** Resolves once the connection closed, or rejects after `timeoutMs`. */
  untilClosed(timeoutMs: number): Promise<Buffer>;
  /** Resolves when nothing arrived for `quietMs` (or the connection closed), whichever first; at most `timeoutMs`. */
  quiet(quietMs: number, timeoutMs: number): Promise<void>;
}

/** A TCP connection to napbox on 127.0.0.1 (or from `localAddress`), recording what comes back. */
export async function rawConnect(port: number, localAddress?: string): Promise<RawConnection> {
  const socket = net.connect({ host: '127.0.0.1', port, ...(localAddress ? { localAddress } : {}) });
  let data = Buffer.alloc(0);
  let closed = false;
  let lastData = Date.now();
  const waiters = new Set<() => void>();
  const poke = (): void => {
    for (const w of [...waiters]) w();
  };
  socket.on('data', (chunk: Buffer) => {
    data = Buffer.concat([data, chunk]);
    lastData = Date.now();
    poke();
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closed = true;
    poke();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const until = (done: (received: Buffer, closed: boolean) => boolean, timeoutMs: number): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        if (!done(data, closed)) return;
        cleanup();
        resolve(data);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms; received ${JSON.stringify(data.toString('latin1').slice(0, 300))}, closed ${closed}`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        waiters.delete(check);
      };
      waiters.add(check);
      check();
    });
  return {
    socket,
    received: () => data,
    closed: () => closed,
    until,
    untilClosed: (timeoutMs) => until((_d, c) => c, timeoutMs),
    quiet: (quietMs, timeoutMs) =>
      new Promise((resolve) => {
        const started = Date.now();
        const tick = (): void => {
          const now = Date.now();
          if (closed || now - Math.max(lastData, started) >= quietMs || now - started >= timeoutMs) return resolve();
          setTimeout(tick, 20);
        };
        tick();
      }),
  };
}

/** Sends `text` (latin1) on a new connection and waits for `count` complete responses (or the close). */
export async function exchange(
  port: number,
  text: string,
  count = 1,
  timeoutMs = 10_000,
): Promise<{ parsed: ParsedStream; closed: boolean; connection: RawConnection }> {
  const connection = await rawConnect(port);
  connection.socket.write(Buffer.from(text, 'latin1'));
  await connection.until((d, c) => c || parseResponses(d, c).responses.length >= count, timeoutMs);
  return { parsed: parseResponses(connection.received(), connection.closed()), closed: connection.closed(), connection };
}
