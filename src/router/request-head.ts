// A minimal reader of HTTP/1.x request heads, for the connection relay: where
// a head ends, its method, path, Host, body framing, and whether it asks for
// an upgrade. It builds nothing it does not need; anything it cannot read
// plainly is `undefined`, and the caller hands the connection to Node's
// full HTTP server instead.

export interface RequestHead {
  /** Bytes of the head, including the blank line. */
  readonly length: number;
  readonly method: string;
  readonly path: string;
  readonly host: string | undefined;
  /** Body bytes that follow; undefined when the body is chunked or the length is unusable. */
  readonly bodyLength: number | undefined;
  readonly upgrade: boolean;
  /** Header lines (without the request line and blank line), as sent. */
  readonly lines: readonly string[];
}

export const MAX_HEAD = 32 * 1024;
const REQUEST_LINE = /^([A-Z]{1,16}) (\S+) HTTP\/1\.[01]$/;

/** The end of the head in `buf` (index after \r\n\r\n), or -1 when not all of it is there. */
export function headEnd(buf: Buffer): number {
  const at = buf.indexOf('\r\n\r\n', 0, 'latin1');
  return at === -1 ? -1 : at + 4;
}

export function parseHead(buf: Buffer, end: number): RequestHead | undefined {
  const text = buf.toString('latin1', 0, end - 4);
  const [requestLine, ...lines] = text.split('\r\n');
  const match = REQUEST_LINE.exec(requestLine ?? '');
  if (!match) return undefined;
  let host: string | undefined;
  let contentLength: number | undefined;
  let chunked = false;
  let upgrade = false;
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'host') {
      if (host !== undefined) return undefined;
      host = value;
    } else if (name === 'content-length') {
      if (contentLength !== undefined || !/^\d{1,15}$/.test(value)) return undefined;
      contentLength = Number(value);
    } else if (name === 'transfer-encoding') {
      chunked = true;
    } else if (name === 'upgrade') {
      upgrade = true;
    }
  }
  return {
    length: end,
    method: match[1]!,
    path: match[2]!,
    host,
    bodyLength: chunked ? undefined : (contentLength ?? 0),
    upgrade,
    lines,
  };
}

/** The head as it goes upstream: the client's lines plus X-Forwarded-*, as http-forward.ts adds them. */
export function forwardedHead(head: RequestHead, requestLine: string, remoteAddress: string): Buffer {
  const out: string[] = [requestLine];
  let forwardedFor: string | undefined;
  for (const line of head.lines) {
    if (/^x-forwarded-(for|proto|host):/i.test(line)) {
      if (/^x-forwarded-for:/i.test(line)) forwardedFor = line.slice(line.indexOf(':') + 1).trim();
      continue;
    }
    out.push(line);
  }
  out.push(`x-forwarded-for: ${forwardedFor ? `${forwardedFor}, ` : ''}${remoteAddress}`, 'x-forwarded-proto: http', `x-forwarded-host: ${head.host ?? ''}`);
  return Buffer.from(`${out.join('\r\n')}\r\n\r\n`, 'latin1');
}
