import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NapboxError } from '../errors.js';
import { noRouteError, routeBuilder, RouteTable } from './route-table.js';

const on = routeBuilder<string[]>();
const table = new RouteTable<string[]>([
  on('GET', '/api/tenants', (log) => void log.push('list')),
  on('GET', '/api/tenants/:slug', (log, { slug }) => void log.push(`get ${slug}`)),
  on('DELETE', '/api/tenants/:slug', (log, { slug }) => void log.push(`delete ${slug}`)),
  on('POST', '/api/tenants/:slug/messages/:id/retry', (log, { slug, id }) => void log.push(`retry ${slug} ${id}`)),
  on('GET', '/api/v1.0/x', (log) => void log.push('dotted')),
]);

async function run(method: string, path: string): Promise<string[]> {
  const match = table.match(method, path);
  assert.equal(match.kind, 'found', `${method} ${path}`);
  if (match.kind !== 'found') return [];
  const log: string[] = [];
  await match.route.handler(log, match.params);
  return log;
}

describe('the route table', () => {
  it('gives each handler the parameters its path names, percent-decoded once', async () => {
    assert.deepEqual(await run('GET', '/api/tenants'), ['list']);
    assert.deepEqual(await run('GET', '/api/tenants/acme'), ['get acme']);
    assert.deepEqual(await run('DELETE', '/api/tenants/a%2Fb'), ['delete a/b']);
    assert.deepEqual(await run('POST', '/api/tenants/acme/messages/m_1%252/retry'), ['retry acme m_1%2']);
  });

  it('answers 405 naming the methods for a path it has, and 404 for one it has not', () => {
    const wrong = table.match('PUT', '/api/tenants/acme');
    assert.deepEqual(wrong, { kind: 'method-not-allowed', allow: ['GET', 'DELETE'] });
    if (wrong.kind !== 'method-not-allowed') return;
    const error = noRouteError(wrong, 'PUT', '/api/tenants/acme');
    assert.equal(error.httpStatus, 405);
    assert.match(error.message, /PUT is not allowed on \/api\/tenants\/acme: use GET or DELETE/);
    const missing = table.match('GET', '/api/nothing');
    assert.deepEqual(missing, { kind: 'not-found' });
    if (missing.kind === 'not-found') assert.equal(noRouteError(missing, 'GET', '/api/nothing').httpStatus, 404);
  });

  it('matches a parameter as one whole, non-empty segment, and the rest of a path literally', () => {
    for (const path of ['/api/tenants/', '/api/tenants/a/b', '/api/tenants//messages/m/retry', '/api/tenantsX', '/api/v1x0/x', '/API/tenants'])
      assert.equal(table.match('GET', path).kind, 'not-found', path);
    assert.equal(table.match('GET', '/api/v1.0/x').kind, 'found');
  });

  it('refuses a malformed escape in a parameter with a 400, never a URIError', () => {
    for (const bad of ['%ZZ', '%FF', '%E2%82'])
      assert.throws(
        () => table.match('GET', `/api/tenants/${bad}`),
        (err) => err instanceof NapboxError && err.httpStatus === 400 && /malformed percent-encoding/.test(err.message),
        bad,
      );
  });
});
