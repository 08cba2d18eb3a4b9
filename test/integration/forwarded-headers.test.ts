// One forwarding rule on every path a request takes to a tenant's app,
// through a running napbox (fake engine: the headers are napbox's, whatever
// runs the app): the relay (a warm tenant host), the HTTP forward (a cold
// request held during the wake, and every /t/<slug>/ request) and the
// WebSocket upgrade; from a trusted front proxy and from anyone else; on a
// new connection and on a kept-alive one (the request follows another on the
// same connection: the same tenant's when warm, so a relayed connection
// carries it; napbox's /healthz when cold, so the HTTP server holds it).
//
// The rule: from a trusted peer, X-Forwarded-For gets the peer appended once
// and X-Forwarded-Proto/-Host/-Port are kept as sent; from anyone else all of
// them are replaced by what napbox saw (its peer, http, the Host header, the
// port it was reached on).

import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startWorld, type World } from '../scenarios/world.js';

const TRUSTED = '127.0.0.2';
const SENT = 'X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\nX-Forwarded-Host: app.example.com\r\nX-Forwarded-Port: 443\r\n';
const WS = 'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n';

/** A raw client connection: one request at a time, its answer read in full (a 101's first WebSocket frame). */
class RawConnection {
  private buffer = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private constructor(private readonly socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  static open(port: number, localAddress: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port, host: '127.0.0.1', localAddress }, () => resolve(new RawConnection(socket)));
      socket.once('error', reject);
    });
  }

  private async until<T>(take: () => T | undefined): Promise<T> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const got = take();
      if (got !== undefined) return got;
      if (Date.now() > deadline || this.socket.destroyed) throw new Error(`no full answer; got ${JSON.stringify(this.buffer.toString('latin1'))}`);
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        setTimeout(resolve, 100);
      });
    }
  }

  /** Sends a request head; resolves with its status and body (a 101: the first frame's text). */
  async send(head: string): Promise<{ status: number; body: string }> {
    this.socket.write(head);
    const end = await this.until(() => {
      const at = this.buffer.indexOf('\r\n\r\n');
      return at === -1 ? undefined : at + 4;
    });
    const text = this.buffer.subarray(0, end).toString('latin1');
    const status = Number(text.slice(9, 12));
    if (status === 101) {
      const frame = await this.until(() => {
        const b = this.buffer.subarray(end);
        if (b.length < 2) return undefined;
        const short = b[1]! & 0x7f;
        const [start, length] = short === 126 ? [4, b.length >= 4 ? b.readUInt16BE(2) : Number.POSITIVE_INFINITY] : [2, short];
        return b.length >= start + length ? b.subarray(start, start + length).toString() : undefined;
      });
      return { status, body: frame };
    }
    if (/\r\ntransfer-encoding: *chunked/i.test(text)) {
      const last = await this.until(() => {
        const at = this.buffer.indexOf('\r\n0\r\n\r\n', end - 2);
        return at === -1 ? undefined : at + 7;
      });
      const body = dechunk(this.buffer.subarray(end, last).toString());
      this.buffer = this.buffer.subarray(last);
      return { status, body };
    }
    const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text)?.[1] ?? 0);
    const body = await this.until(() => (this.buffer.length >= end + length ? this.buffer.subarray(end, end + length).toString() : undefined));
    this.buffer = this.buffer.subarray(end + length);
    return { status, body };
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A chunked body's data (sizes in hex, each chunk then CRLF). */
function dechunk(text: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const line = text.indexOf('\r\n', at);
    const size = Number.parseInt(text.slice(at, line), 16);
    if (!size) return out;
    out += text.slice(line + 2, line + 2 + size);
    at = line + 2 + size + 2;
  }
}

describe('forwarded headers: one rule on every path', () => {
  let world: World;
  before(async () => {
    world = await startWorld('fake', { NAPBOX_TRUSTED_PROXIES: TRUSTED });
    assert.equal((await world.api('POST', '/api/tenants', { slug: 'app' })).status, 201);
  });
  after(() => world?.close());

  const rows: { form: 'host' | 'path'; kind: 'http' | 'ws'; trusted: boolean; cold: boolean; reused: boolean }[] = [];
  for (const form of ['host', 'path'] as const)
    for (const kind of ['http', 'ws'] as const)
      for (const trusted of [true, false])
        for (const cold of [true, false]) for (const reused of [false, true]) rows.push({ form, kind, trusted, cold, reused });

  for (const row of rows) {
    const name = `${row.kind} on the ${row.form === 'host' ? 'tenant host' : '/t/ path'}, ${row.trusted ? 'trusted' : 'untrusted'} peer, ${row.cold ? 'cold' : 'warm'}, ${row.reused ? 'kept-alive' : 'new'} connection`;
    it(name, async () => {
      const host = row.form === 'host' ? world.tenantHost('app') : `127.0.0.1:${world.port}`;
      const base = row.form === 'host' ? '' : '/t/app';
      const target = row.kind === 'http' ? `${base}/whoami` : `${base}/echo?whoami`;
      const request = `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${row.kind === 'ws' ? WS : ''}${SENT}\r\n`;
      await world.api('POST', `/api/tenants/app/${row.cold ? 'stop' : 'wake'}`);
      const connection = await RawConnection.open(world.port, row.trusted ? TRUSTED : '127.0.0.1');
      try {
        if (row.reused) {
          const first = row.cold
            ? `GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:${world.port}\r\n${SENT}\r\n`
            : `GET ${base}/whoami HTTP/1.1\r\nHost: ${host}\r\n${SENT}\r\n`;
          assert.equal((await connection.send(first)).status, 200);
        }
        const answer = await connection.send(request);
        assert.equal(answer.status, row.kind === 'ws' ? 101 : 200, answer.body);
        const headers = (JSON.parse(answer.body) as { headers: Record<string, string | undefined> }).headers;
        const seen = {
          for: headers['x-forwarded-for'],
          proto: headers['x-forwarded-proto'],
          host: headers['x-forwarded-host'],
          port: headers['x-forwarded-port'],
          prefix: headers['x-forwarded-prefix'],
        };
        assert.deepEqual(
          seen,
          row.trusted
            ? { for: `203.0.113.7, ${TRUSTED}`, proto: 'https', host: 'app.example.com', port: '443', prefix: base || undefined }
            : { for: '127.0.0.1', proto: 'http', host, port: String(world.port), prefix: base || undefined },
        );
      } finally {
        connection.close();
      }
    });
  }
});
