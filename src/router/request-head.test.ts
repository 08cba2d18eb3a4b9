import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MAX_HEAD, bareLineEnd, headEnd, parseHead, readFraming, serializeHead } from './request-head.js';

function parse(text: string): ReturnType<typeof parseHead> {
  const buf = Buffer.from(text, 'latin1');
  const end = headEnd(buf);
  assert.notEqual(end, -1, 'test heads end with CRLF CRLF');
  return parseHead(buf, end);
}

function refused(text: string): string {
  const result = parse(text);
  assert.equal(result.ok, false, `accepted: ${JSON.stringify(text)}`);
  return result.ok ? '' : result.reason;
}

describe('parseHead (RFC 9112, strict)', () => {
  it('reads a well-formed head: method, target, Host, body length, fields as sent', () => {
    const result = parse('POST /a?b HTTP/1.1\r\nHost: acme.localhost\r\nContent-Length:  12 \r\nX-Thing:\tv  w\t\r\n\r\nbody');
    assert.ok(result.ok);
    assert.equal(result.head.method, 'POST');
    assert.equal(result.head.target, '/a?b');
    assert.equal(result.head.host, 'acme.localhost');
    assert.equal(result.head.bodyLength, 12);
    assert.equal(result.head.upgrade, false);
    assert.deepEqual(result.head.raw, ['Host', 'acme.localhost', 'Content-Length', '12', 'X-Thing', 'v  w']);
    const chunked = parse('POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n');
    assert.ok(chunked.ok);
    assert.equal(chunked.head.bodyLength, undefined);
    const http10 = parse('GET / HTTP/1.0\r\n\r\n');
    assert.ok(http10.ok && http10.head.minor === 0 && http10.head.host === undefined);
  });

  it('refuses each malformation RFC 9112 says a server must not read', () => {
    const cases: Array<[string, string, RegExp]> = [
      ['bare LF', 'GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n', /bare LF/],
      ['bare CR', 'GET / HTTP/1.1\r\nHost: a\rX: y\r\n\r\n', /bare CR/],
      ['bare LF in the request line', 'GET / HTTP/1.1\nHost: a\r\n\r\n', /bare LF/],
      ['obs-fold (SP)', 'GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n z\r\n\r\n', /obs-fold/],
      ['obs-fold (HTAB)', 'GET / HTTP/1.1\r\nHost: a\r\nX: y\r\n\tz\r\n\r\n', /obs-fold/],
      ['space before colon', 'GET / HTTP/1.1\r\nHost : a\r\n\r\n', /whitespace between/],
      ['tab before colon', 'GET / HTTP/1.1\r\nHost: a\r\nX\t: y\r\n\r\n', /whitespace between/],
      ['NUL in a value', 'GET / HTTP/1.1\r\nHost: a\r\nX: y\0z\r\n\r\n', /NUL/],
      ['NUL in the target', 'GET /\0 HTTP/1.1\r\nHost: a\r\n\r\n', /NUL/],
      ['other CTL', 'GET / HTTP/1.1\r\nHost: a\r\nX: \x01\r\n\r\n', /control character/],
      ['DEL', 'GET / HTTP/1.1\r\nHost: a\r\nX: \x7f\r\n\r\n', /control character/],
      ['invalid field name', 'GET / HTTP/1.1\r\nHost: a\r\nX(y): z\r\n\r\n', /field name/],
      ['non-ASCII field name', 'GET / HTTP/1.1\r\nHost: a\r\nX\xe9: z\r\n\r\n', /field name/],
      ['empty field name', 'GET / HTTP/1.1\r\nHost: a\r\n: z\r\n\r\n', /empty field name/],
      ['no colon', 'GET / HTTP/1.1\r\nHost: a\r\nJunk\r\n\r\n', /no colon/],
      ['repeated Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n', /repeated Content-Length/],
      ['conflicting Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', /repeated Content-Length/],
      ['Content-Length list', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 1\r\n\r\n', /invalid Content-Length/],
      ['signed Content-Length', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +1\r\n\r\n', /invalid Content-Length/],
      ['TE with CL', 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n', /together with Content-Length/],
      ['CL with TE', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 1\r\n\r\n', /together with Content-Length/],
      ['TE not chunked', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n', /end with chunked/],
      ['TE chunked not last', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n', /end with chunked/],
      ['TE chunked twice', 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', /end with chunked/],
      ['TE in HTTP/1.0', 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n', /HTTP\/1.0/],
      ['no Host in HTTP/1.1', 'GET / HTTP/1.1\r\nX: y\r\n\r\n', /missing Host/],
      ['two Hosts', 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', /more than one Host/],
      ['two spaces', 'GET  / HTTP/1.1\r\nHost: a\r\n\r\n', /request line/],
      ['space in target', 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', /request line/],
      ['non-ASCII target', 'GET /\xe9 HTTP/1.1\r\nHost: a\r\n\r\n', /request line/],
      ['HTTP/2.0', 'GET / HTTP/2.0\r\nHost: a\r\n\r\n', /request line/],
      ['HTTP/0.9', 'GET /\r\n\r\n', /request line/],
      ['lower-case version', 'GET / http/1.1\r\nHost: a\r\n\r\n', /request line/],
      ['unknown method', 'FOO / HTTP/1.1\r\nHost: a\r\n\r\n', /unknown method/],
      ['lower-case method', 'get / HTTP/1.1\r\nHost: a\r\n\r\n', /unknown method/],
      ['CONNECT', 'CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n', /unknown method/],
    ];
    for (const [name, text, reason] of cases) assert.match(refused(text), reason, name);
  });

  it("answers 431 for a head over Node's own limit", () => {
    const big = `GET / HTTP/1.1\r\nHost: a\r\nX: ${'x'.repeat(MAX_HEAD)}\r\n\r\n`;
    const result = parse(big);
    assert.ok(!result.ok && result.status === 431);
  });

  it('finds bare CR/LF in a head that has not ended yet', () => {
    assert.equal(bareLineEnd(Buffer.from('GET / HTTP/1.1\r\nHost: a\r')), -1, 'a CR at the end may still get its LF');
    assert.equal(bareLineEnd(Buffer.from('GET / HTTP/1.1\nHost: a')), 14);
    assert.equal(bareLineEnd(Buffer.from('GET / HTTP/1.1\rHost: a')), 14);
    assert.equal(bareLineEnd(Buffer.from('\nGET')), 0);
  });

  it('applies the same framing rules to headers Node parsed (the server path)', () => {
    assert.deepEqual(readFraming(['Host', 'a', 'Host', 'b'], 1), { ok: false, reason: 'more than one Host header' });
    assert.equal(readFraming(['Host', 'a', 'Transfer-Encoding', 'gzip'], 1).ok, false);
    assert.deepEqual(readFraming(['Host', 'a', 'Upgrade', 'websocket'], 1), { ok: true, host: 'a', bodyLength: 0, upgrade: true });
  });

  it('serialises a head with the fields given', () => {
    const result = parse('GET /x HTTP/1.0\r\nHost: a\r\n\r\n');
    assert.ok(result.ok);
    assert.equal(
      serializeHead(result.head, ['Host', 'a', 'x-forwarded-for', '1.2.3.4']).toString('latin1'),
      'GET /x HTTP/1.0\r\nHost: a\r\nx-forwarded-for: 1.2.3.4\r\n\r\n',
    );
  });
});
