import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { NapboxError } from '../errors.js';
import { createServer, type ServerDeps } from './server.js';

// Refused upgrades get the same JSON error answer as every other napbox error, never an empty one.
const deps = {
  baseDomain: 'localhost',
  store: { get: (slug: string) => (slug === 'priv' ? { config: { visibility: 'private' } } : undefined) },
  access: {
    admit: async (_req: IncomingMessage, slug: string, visibility: string | undefined) => {
      if (visibility === 'private') throw new NapboxError('unauthorized', `tenant ${slug} is private: sign in with a link from \`napbox open ${slug}\``);
      return 'public';
    },
  },
  logger: pino({ level: 'silent' }),
} as unknown as ServerDeps;

const server = createServer(deps);
let port = 0;
before(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)).then(() => (port = (server.address() as AddressInfo).port)));
after(() => {
  server.closeAllConnections();
  server.close();
});

function upgrade(host: string, path: string, method = 'GET'): Promise<{ head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const client = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    client.on('data', (c: Buffer) => chunks.push(c));
    client.on('error', reject);
    client.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      const end = text.indexOf('\r\n\r\n');
      resolve({ head: text.slice(0, end), body: text.slice(end + 4) });
    });
    client.write(
      `${method} ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n`,
    );
  });
}

describe('refused upgrades', () => {
  it('answers an upgrade to nothing with a JSON 404 naming the path', async () => {
    const { head, body } = await upgrade(`localhost:${port}`, '/nothing?x=1');
    assert.match(head, /^HTTP\/1\.1 404 Not Found\r\n/);
    assert.match(head, /\r\nConnection: close(\r\n|$)/);
    assert.deepEqual(JSON.parse(body), { error: 'not_found', message: 'no WebSocket at /nothing' });
  });

  it('answers the chat socket of a private tenant without a session with a JSON 401 saying how to sign in', async () => {
    const { head, body } = await upgrade(`priv.localhost:${port}`, '/_napbox/chat');
    assert.match(head, /^HTTP\/1\.1 401 Unauthorized\r\n/);
    assert.deepEqual(JSON.parse(body), { error: 'unauthorized', message: 'tenant priv is private: sign in with a link from `napbox open priv`' });
  });

  it('answers a HEAD that asks to upgrade with a 400 and no body', async () => {
    const { head, body } = await upgrade(`localhost:${port}`, '/', 'HEAD');
    assert.match(head, /^HTTP\/1\.1 400 Bad Request\r\n/);
    assert.match(head, /\r\nContent-Length: \d+\r\n/);
    assert.equal(body, '');
  });
});
