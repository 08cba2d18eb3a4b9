import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { NapboxError } from '../errors.js';
import { refuseSocket, sendError } from './error-response.js';

interface Answer {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

function ask(port: number, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path: '/x', agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end();
  });
}

const servers: net.Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

async function listening(server: net.Server): Promise<number> {
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

const waking = new NapboxError('wake_failed', 'tenant acme could not be started', { retryAfterSeconds: 7, details: { requestId: 'r1' } });

describe('one error answer, on a response and on a raw socket', () => {
  it('answers a NapboxError on a response: its status, JSON body with details, no-store, Retry-After', async () => {
    const port = await listening(http.createServer((_req, res) => void sendError(res, waking)));
    const answer = await ask(port);
    assert.equal(answer.status, 503);
    assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.equal(answer.headers['retry-after'], '7');
    assert.deepEqual(JSON.parse(answer.body), { error: 'wake_failed', message: 'tenant acme could not be started', requestId: 'r1' });
  });

  it('answers anything else as a 500 internal, and adds the headers it is given (Allow)', async () => {
    const port = await listening(
      http.createServer((req, res) => {
        if (req.method === 'PUT') sendError(res, new NapboxError('method_not_allowed', 'PUT is not allowed on /x'), { Allow: 'GET, HEAD' });
        else sendError(res, new TypeError('boom'));
      }),
    );
    const crash = await ask(port);
    assert.equal(crash.status, 500);
    assert.deepEqual(JSON.parse(crash.body), { error: 'internal', message: 'unexpected error: boom' });
    const wrong = await ask(port, 'PUT');
    assert.equal(wrong.status, 405);
    assert.equal(wrong.headers.allow, 'GET, HEAD');
    assert.equal(JSON.parse(wrong.body).error, 'method_not_allowed');
  });

  it('ends a response already begun as it is, without a second head', async () => {
    const port = await listening(
      http.createServer((_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('partial');
        sendError(res, waking);
      }),
    );
    const answer = await ask(port);
    assert.equal(answer.status, 200);
    assert.equal(answer.body, 'partial');
  });

  it('writes the same answer on a raw socket, with Connection: close, and closes it after', async () => {
    const port = await listening(net.createServer((socket) => void refuseSocket(socket, waking)));
    const answer = await ask(port);
    assert.equal(answer.status, 503);
    assert.equal(answer.headers.connection, 'close');
    assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(answer.headers['cache-control'], 'no-store');
    assert.equal(answer.headers['retry-after'], '7');
    assert.deepEqual(JSON.parse(answer.body), { error: 'wake_failed', message: 'tenant acme could not be started', requestId: 'r1' });
  });

  it('answers a HEAD on a raw socket without a body, its length still told', async () => {
    const port = await listening(net.createServer((socket) => void refuseSocket(socket, new NapboxError('not_found', 'no tenant x'), { head: true })));
    const answer = await ask(port, 'HEAD');
    assert.equal(answer.status, 404);
    assert.equal(answer.body, '');
    assert.equal(Number(answer.headers['content-length']), Buffer.byteLength(JSON.stringify({ error: 'not_found', message: 'no tenant x' })));
  });

  it('reads and drops what the client still sends, so the answer arrives whole instead of a reset', async () => {
    const port = await listening(net.createServer((socket) => void refuseSocket(socket, new NapboxError('bad_request', 'malformed request line'))));
    const received = await new Promise<string>((resolve, reject) => {
      const client = net.connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      client.on('data', (c: Buffer) => chunks.push(c));
      client.on('error', reject);
      client.on('close', () => resolve(Buffer.concat(chunks).toString('latin1')));
      client.write('x'.repeat(256 * 1024)); // more than the socket buffers: unread, a close would reset
      client.end();
    });
    assert.match(received, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(received, /\r\n\r\n\{"error":"bad_request","message":"malformed request line"\}$/);
  });

  it('destroys a socket that can no longer be written, writing nothing', async () => {
    const socket = new net.Socket();
    socket.destroy();
    assert.equal(refuseSocket(socket, waking).code, 'wake_failed');
    assert.equal(socket.destroyed, true);
  });
});
