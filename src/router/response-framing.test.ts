import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ResponseFraming } from './response-framing.js';

/** Feeds `text` in pieces of `size` bytes; returns how often the framing went idle. */
function follow(requests: boolean[], text: string, size = Infinity): { idles: number; framing: ResponseFraming } {
  let idles = 0;
  const framing = new ResponseFraming(() => (idles += 1));
  for (const isHead of requests) framing.expect(isHead);
  const bytes = Buffer.from(text, 'latin1');
  for (let at = 0; at < bytes.length; at += Math.min(size, bytes.length)) framing.feed(bytes.subarray(at, at + size));
  return { idles, framing };
}

const LENGTH = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';
const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n10\r\n0123456789abcdef\r\n0\r\nTrailer: x\r\n\r\n';

describe('ResponseFraming', () => {
  it('follows Content-Length and chunked responses, pipelined, in any split', () => {
    for (const size of [Infinity, 1, 2, 3, 7, 13]) {
      const { idles, framing } = follow([false, false, false], LENGTH + CHUNKED + LENGTH, size);
      assert.equal(framing.awaiting, 0, `split ${size}`);
      assert.equal(idles, 1, 'idle once: when the last response ended');
      assert.equal(framing.unframed, false);
    }
  });

  it('is not idle before the last byte of the last response', () => {
    const text = LENGTH + CHUNKED;
    const { framing } = follow([false, false], text.slice(0, -1));
    assert.equal(framing.awaiting, 1);
  });

  it('knows responses without a body: to HEAD, 204, 304, and interim 1xx', () => {
    const text =
      'HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n' +
      'HTTP/1.1 204 No Content\r\n\r\n' +
      'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 7\r\n\r\n';
    const { framing, idles } = follow([true, false, false], text, 5);
    assert.equal(framing.awaiting, 0);
    assert.equal(idles, 1);
  });

  it('gives up (unframed) where the end is the close, or unknowable', () => {
    assert.equal(follow([false], 'HTTP/1.1 200 OK\r\n\r\nuntil close').framing.unframed, true);
    assert.equal(follow([false], 'HTTP/1.1 101 Switching Protocols\r\n\r\n').framing.unframed, true);
    assert.equal(follow([false], 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n').framing.unframed, true);
    assert.equal(follow([false], 'HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n').framing.unframed, true);
    assert.equal(follow([false], 'garbage\r\n\r\n').framing.unframed, true);
    assert.equal(follow([], 'HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n').framing.unframed, true, 'a response nobody asked for');
    assert.equal(follow([false], 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n').framing.unframed, true);
  });
});
