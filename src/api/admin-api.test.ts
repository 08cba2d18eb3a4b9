import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { NapboxError } from '../errors.js';
import { AdminApi, type AdminApiDeps } from './admin-api.js';

// The admin API's dispatch on stub services: auth first, then the route table, every error rendered as JSON.
const seen: string[] = [];
const deps = {
  auth: {
    verifyRequest: async (req: http.IncomingMessage) => {
      if (req.headers.authorization !== 'Bearer ok') throw new NapboxError('unauthorized', 'give a token');
    },
  },
  tenants: {
    get: (slug: string) => {
      seen.push(`get ${slug}`);
      throw new NapboxError('not_found', `no tenant ${slug}`);
    },
    remove: async (slug: string) => void seen.push(`remove ${slug}`),
    learnImages: async () => undefined,
  },
  onChange: () => void seen.push('changed'),
  logger: pino({ level: 'silent' }),
} as unknown as AdminApiDeps;

let port = 0;
const server = http.createServer((req, res) => void new AdminApi(deps).handle(req, res, req.url ?? '/'));
before(() => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)).then(() => (port = (server.address() as AddressInfo).port)));
after(() => server.close());

function call(method: string, path: string, token = 'ok'): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}') }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the admin API dispatch', () => {
  it('asks for a token before saying anything about a path, known or not', async () => {
    for (const path of ['/api/tenants', '/api/nothing', '/api/tenants/%ZZ']) {
      const res = await call('GET', path, '');
      assert.equal(res.status, 401, path);
      assert.equal(res.body.error, 'unauthorized');
    }
    assert.equal((await call('GET', '/healthz', '')).status, 200, 'liveness needs no token');
  });

  it('answers 404 for a path no route has, 405 with Allow for a method its path does not take', async () => {
    const missing = await call('GET', '/api/nothing');
    assert.deepEqual([missing.status, missing.body.error], [404, 'not_found']);
    const wrong = await call('PUT', '/api/tenants/acme');
    assert.deepEqual([wrong.status, wrong.body.error], [405, 'method_not_allowed']);
    assert.equal(wrong.headers.allow, 'GET, PATCH, DELETE');
    const session = await call('GET', '/api/session', '');
    assert.deepEqual([session.status, session.headers.allow], [405, 'POST, DELETE']);
  });

  it("hands the decoded parameters to the route's handler and renders what it throws", async () => {
    seen.length = 0;
    const res = await call('GET', '/api/tenants/ac%6De');
    assert.deepEqual([res.status, res.body], [404, { error: 'not_found', message: 'no tenant acme' }]);
    assert.equal((await call('DELETE', '/api/tenants/acme')).body.deleted, 'acme');
    assert.deepEqual(seen, ['get acme', 'remove acme', 'changed']);
    const bad = await call('GET', '/api/tenants/%FF');
    assert.deepEqual([bad.status, bad.body.error], [400, 'bad_request']);
  });
});
