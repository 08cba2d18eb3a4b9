// A strict reader of HTTP/1.x request heads, for the connection relay: where
// a head ends, whether it is well-formed, and the little the relay needs
// (method, target, Host, body framing, upgrade). It builds nothing else.
//
// Invariants:
// - A head the relay forwards is one every HTTP/1.1 parser reads the same way
//   (RFC 9112), so an app behind napbox cannot see a request napbox did not
//   check. Refused (400, and the connection closed): bare CR or LF where CRLF
//   is required, obs-fold, whitespace between a field name and its colon, NUL
//   and other control characters, invalid field names, a missing or repeated
//   Host (HTTP/1.1), a repeated or invalid Content-Length, Transfer-Encoding
//   with Content-Length, a Transfer-Encoding that does not end in one
//   `chunked`, a malformed request line. Too large: 431.
// - The relay forwards nothing Node's own parser (the server path) would
//   refuse either: MAX_HEAD is Node's header size limit, the methods are
//   Node's. readFraming's rules hold on the server path too (server.ts).

import http from 'node:http';

export interface RequestHead {
  /** Bytes of the head, including the blank line. */
  readonly length: number;
  readonly method: string;
  /** The request-target as sent. */
  readonly target: string;
  /** The minor version: HTTP/1.0 or HTTP/1.1. */
  readonly minor: 0 | 1;
  readonly host: string | undefined;
  /** Body bytes that follow; undefined when the body is chunked. */
  readonly bodyLength: number | undefined;
  readonly upgrade: boolean;
  /** Header fields as `[name, value, name, value, ...]`: names as sent, values without surrounding blanks (as Node's rawHeaders). */
  readonly raw: readonly string[];
}

export type HeadResult = { readonly ok: true; readonly head: RequestHead } | { readonly ok: false; readonly status: 400 | 431; readonly reason: string };

export const MAX_HEAD = http.maxHeaderSize;
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const CR = 13;
const LF = 10;

/** tchar (RFC 9110 5.6.2), by char code. */
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~") TCHAR[c.charCodeAt(0)] = 1;
for (let c = 0x30; c <= 0x39; c += 1) TCHAR[c] = 1;
for (let c = 0x41; c <= 0x5a; c += 1) TCHAR[c] = 1;
for (let c = 0x61; c <= 0x7a; c += 1) TCHAR[c] = 1;

export function isTchar(code: number): boolean {
  return code < 128 && TCHAR[code] === 1;
}

/** The methods Node's parser knows: the relay forwards no other (Node answers them 400). */
const METHODS = new Set(http.METHODS.filter((m) => m !== 'CONNECT'));
const REQUEST_LINE = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) ([\x21-\x7e]+) HTTP\/1\.([01])$/;
/** Control characters other than HTAB, CR not before LF, LF not after CR. */
const BAD_CHAR = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)|(?<!\r)\n/;
const CONTENT_LENGTH = /^\d{1,15}$/;
/** Lengths of host, upgrade, content-length, transfer-encoding. */
const FRAMING_NAME_LENGTHS = new Set([4, 7, 14, 17]);

/** The end of the head in `buf` (index after \r\n\r\n), or -1 when not all of it is there; searched from `from`. */
export function headEnd(buf: Buffer, from = 0): number {
  const at = buf.indexOf(CRLFCRLF, from);
  return at === -1 ? -1 : at + 4;
}

/**
 * Where an incomplete head already breaks the CRLF rule: the index of a CR
 * followed by something other than LF, or of an LF not preceded by CR, at or
 * after `from`; -1 if none. A CR at the very end may still get its LF.
 */
export function bareLineEnd(buf: Buffer, from = 0): number {
  for (let at = buf.indexOf(LF, from); at !== -1; at = buf.indexOf(LF, at + 1)) {
    if (at === 0 || buf[at - 1] !== CR) return at;
  }
  for (let at = buf.indexOf(CR, from); at !== -1 && at + 1 < buf.length; at = buf.indexOf(CR, at + 1)) {
    if (buf[at + 1] !== LF) return at;
  }
  return -1;
}

function refuse(reason: string, status: 400 | 431 = 400): HeadResult {
  return { ok: false, status, reason };
}

function badCharReason(text: string): string {
  const match = BAD_CHAR.exec(text)!;
  if (match[0] === '\r') return 'bare CR in the request head (lines must end with CRLF)';
  if (match[0] === '\n') return 'bare LF in the request head (lines must end with CRLF)';
  if (match[0] === '\0') return 'NUL in the request head';
  return 'control character in the request head';
}

function fieldLineReason(line: string): string {
  if (line.charCodeAt(0) === 0x20 || line.charCodeAt(0) === 0x09) return 'obs-fold: a header line starts with whitespace';
  const colon = line.indexOf(':');
  if (colon === -1) return 'a header line has no colon';
  if (colon === 0) return 'a header line has an empty field name';
  if (/[ \t]$/.test(line.slice(0, colon))) return 'whitespace between a header field name and its colon';
  return 'invalid character in a header field name';
}

/** What the header fields say about a request's host and body, by RFC 9112's rules (also checked on the server path). */
export type Framing =
  | { readonly ok: true; readonly host: string | undefined; readonly bodyLength: number | undefined; readonly upgrade: boolean }
  | { readonly ok: false; readonly reason: string };

/** Host, body framing and upgrade from `raw` header fields (`[name, value, ...]`) of an HTTP/1.`minor` request. */
export function readFraming(raw: readonly string[], minor: number): Framing {
  let host: string | undefined;
  let hosts = 0;
  let contentLength: number | undefined;
  let transferEncoding: string | undefined;
  let upgrade = false;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    if (!FRAMING_NAME_LENGTHS.has(name.length)) continue; // most fields: no lower-casing on the hot path
    const value = raw[i + 1]!;
    switch (name.toLowerCase()) {
      case 'host':
        hosts += 1;
        host = value;
        break;
      case 'content-length':
        if (contentLength !== undefined) return { ok: false, reason: 'repeated Content-Length' };
        if (!CONTENT_LENGTH.test(value)) return { ok: false, reason: 'invalid Content-Length' };
        contentLength = Number(value);
        break;
      case 'transfer-encoding':
        transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
        break;
      case 'upgrade':
        upgrade = true;
        break;
    }
  }
  if (hosts > 1) return { ok: false, reason: 'more than one Host header' };
  if (hosts === 0 && minor === 1) return { ok: false, reason: 'missing Host header' };
  if (transferEncoding !== undefined) {
    if (contentLength !== undefined) return { ok: false, reason: 'Transfer-Encoding together with Content-Length' };
    if (minor === 0) return { ok: false, reason: 'Transfer-Encoding in an HTTP/1.0 request' };
    const codings = transferEncoding
      .split(',')
      .map((c) => c.trim().toLowerCase())
      .filter((c) => c !== '');
    if (codings.at(-1) !== 'chunked' || codings.indexOf('chunked') !== codings.length - 1) {
      return { ok: false, reason: 'Transfer-Encoding must end with chunked, applied once' };
    }
  }
  return { ok: true, host, bodyLength: transferEncoding !== undefined ? undefined : (contentLength ?? 0), upgrade };
}

/** Parses the head that ends at `end` (from headEnd) strictly. */
export function parseHead(buf: Buffer, end: number): HeadResult {
  if (end > MAX_HEAD) return refuse('request head too large', 431);
  const text = buf.toString('latin1', 0, end - 4);
  if (BAD_CHAR.test(text)) return refuse(badCharReason(text));
  const lines = text.split('\r\n');
  const request = REQUEST_LINE.exec(lines[0]!);
  if (!request) return refuse('malformed request line (expected "METHOD /path HTTP/1.1")');
  const raw: string[] = [];
  for (let i = 1; i < lines.length; i += 1) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0) return refuse(fieldLineReason(line));
    for (let c = 0; c < colon; c += 1) if (!isTchar(line.charCodeAt(c))) return refuse(fieldLineReason(line));
    let start = colon + 1;
    let stop = line.length;
    while (start < stop && (line.charCodeAt(start) === 0x20 || line.charCodeAt(start) === 0x09)) start += 1;
    while (stop > start && (line.charCodeAt(stop - 1) === 0x20 || line.charCodeAt(stop - 1) === 0x09)) stop -= 1;
    raw.push(line.slice(0, colon), line.slice(start, stop));
  }
  const minor = request[3] === '1' ? 1 : 0;
  const framing = readFraming(raw, minor);
  if (!framing.ok) return refuse(framing.reason);
  const method = request[1]!;
  if (!METHODS.has(method)) return refuse(`unknown method ${method}`);
  return {
    ok: true,
    head: { length: end, method, target: request[2]!, minor, host: framing.host, bodyLength: framing.bodyLength, upgrade: framing.upgrade, raw },
  };
}

/** The head as it goes upstream: the request line, then the given header fields (flat name/value pairs). */
export function serializeHead(head: RequestHead, fields: readonly string[]): Buffer {
  let text = `${head.method} ${head.target} HTTP/1.${head.minor}\r\n`;
  for (let i = 0; i + 1 < fields.length; i += 2) text += `${fields[i]}: ${fields[i + 1]}\r\n`;
  return Buffer.from(`${text}\r\n`, 'latin1');
}
