// Where each response of a tenant's app ends, on a relayed connection. The
// relay forwards responses as bytes; this follows only their framing (status
// line, Content-Length, Transfer-Encoding, chunk sizes, skipping body bytes by
// count) so the relay knows when every request it forwarded has been answered
// in full. Only then may it hand the connection to napbox's server or answer a
// request itself: pipelined requests are answered in order.
//
// Invariants:
// - `awaiting` is the number of forwarded requests whose response has not
//   ended; `onIdle` is called each time it drops to 0.
// - Once framing cannot be followed (a response that ends at close, a 101,
//   bytes that are no response, more responses than requests), `unframed` is
//   true for good: the connection can only end with the upstream's close.

const CR = 13;
const LF = 10;
const MAX_RESPONSE_HEAD = 64 * 1024;
const MAX_LINE = 4096;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const STATUS_LINE = /^HTTP\/1\.[01] \d{3}/;

/** The trimmed value of the one field `marker` (`\r\nname:`) starts in `lower`; '' (never a valid value) when it is repeated. */
function fieldValue(lower: string, marker: string): string | undefined {
  const at = lower.indexOf(marker);
  if (at === -1) return undefined;
  if (lower.indexOf(marker, at + marker.length) !== -1) return '';
  return lower.slice(at + marker.length, lower.indexOf('\r\n', at + marker.length)).trim();
}

function hexValue(byte: number | undefined): number {
  if (byte === undefined) return -1;
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30;
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x57;
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x37;
  return -1;
}

type State = 'head' | 'body' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers';

export class ResponseFraming {
  /** Per forwarded request still awaiting the end of its response, oldest first: whether it was a HEAD. */
  private readonly heads: boolean[] = [];
  private state: State = 'head';
  private partial: Buffer | undefined;
  private line = '';
  private left = 0;
  private broken = false;

  constructor(private readonly onIdle: () => void) {}

  get awaiting(): number {
    return this.heads.length;
  }

  get unframed(): boolean {
    return this.broken;
  }

  /** A request was forwarded; its response comes after those of the requests before it. */
  expect(isHead: boolean): void {
    this.heads.push(isHead);
  }

  /** Follows the bytes of `chunk`, the next of the upstream's stream. */
  feed(chunk: Buffer): void {
    let at = 0;
    while (at < chunk.length && !this.broken) {
      switch (this.state) {
        case 'head':
          at = this.readHead(chunk, at);
          break;
        case 'body':
        case 'chunk-data': {
          const n = Math.min(this.left, chunk.length - at);
          this.left -= n;
          at += n;
          if (this.left === 0) {
            if (this.state === 'body') this.complete();
            else this.state = 'chunk-end';
          }
          break;
        }
        case 'chunk-end':
        case 'chunk-size':
        case 'trailers':
          at = this.readLine(chunk, at);
          break;
      }
    }
  }

  private readHead(chunk: Buffer, at: number): number {
    if (this.heads.length === 0) return this.fail(); // bytes nobody asked for
    let buf = chunk;
    let from = at;
    if (this.partial) {
      buf = Buffer.concat([this.partial, chunk.subarray(at)]);
      from = 0;
    }
    const end = buf.indexOf(CRLFCRLF, from);
    if (end === -1) {
      this.partial = buf.subarray(from);
      if (this.partial.length > MAX_RESPONSE_HEAD) return this.fail();
      return chunk.length;
    }
    const consumed = end + 4 - from - (this.partial?.length ?? 0); // bytes of this chunk used by the head
    this.partial = undefined;
    this.onHead(buf.toString('latin1', from, end + 2));
    return at + consumed;
  }

  /** `text`: the head up to and including the last header line's CRLF. */
  private onHead(text: string): void {
    if (!text.startsWith('HTTP/1.') || !STATUS_LINE.test(text)) return void this.fail();
    const code = Number(text.slice(9, 12));
    if (code === 101) return void this.fail(); // a tunnel from here on
    if (code < 200) return; // interim (100 Continue, 103): the final response still comes
    if (this.heads[0] || code === 204 || code === 304) return this.complete();
    const lower = text.toLowerCase();
    const length = fieldValue(lower, '\r\ncontent-length:');
    const te = fieldValue(lower, '\r\ntransfer-encoding:');
    if (te !== undefined) {
      // Both, or a coding other than a final chunked: ends at close, or ambiguous.
      if (length !== undefined || !/(?:^|,)[ \t]*chunked[ \t]*$/.test(te)) return void this.fail();
      this.state = 'chunk-size';
      return;
    }
    if (length === undefined || !/^\d{1,15}$/.test(length)) return void this.fail(); // none: ends at close
    this.left = Number(length);
    if (this.left === 0) this.complete();
    else this.state = 'body';
  }

  /** Reads one CRLF-ended line (chunk size, chunk end, trailer) across chunks. */
  private readLine(chunk: Buffer, at: number): number {
    // The common case, the whole of a short line in this chunk, read from the bytes without a string.
    if (this.line === '') {
      if (this.state !== 'chunk-size' && chunk[at] === CR && chunk[at + 1] === LF) {
        this.onLine('');
        return at + 2;
      }
      if (this.state === 'chunk-size') {
        let size = 0;
        let p = at;
        for (let digit = hexValue(chunk[p]); digit >= 0 && p - at < 12; digit = hexValue(chunk[++p])) size = size * 16 + digit;
        if (p > at && chunk[p] === CR && chunk[p + 1] === LF) {
          this.left = size;
          this.state = size === 0 ? 'trailers' : 'chunk-data';
          return p + 2;
        }
      }
    }
    const lf = chunk.indexOf(LF, at);
    if (lf === -1) {
      this.line += chunk.toString('latin1', at);
      if (this.line.length > MAX_LINE) this.fail();
      return chunk.length;
    }
    let line = this.line + chunk.toString('latin1', at, lf);
    this.line = '';
    if (line.charCodeAt(line.length - 1) === CR) line = line.slice(0, -1);
    this.onLine(line);
    return lf + 1;
  }

  private onLine(line: string): void {
    if (this.state === 'chunk-end') {
      if (line !== '') return void this.fail();
      this.state = 'chunk-size';
    } else if (this.state === 'chunk-size') {
      const size = /^([0-9a-fA-F]{1,12})[ \t]*(;.*)?$/.exec(line);
      if (!size) return void this.fail();
      this.left = parseInt(size[1]!, 16);
      this.state = this.left === 0 ? 'trailers' : 'chunk-data';
    } else if (line === '') {
      this.complete(); // the blank line after the last chunk's trailers
    }
  }

  private complete(): void {
    this.heads.shift();
    this.state = 'head';
    if (this.heads.length === 0) this.onIdle();
  }

  private fail(): number {
    this.broken = true;
    return Number.MAX_SAFE_INTEGER;
  }
}
