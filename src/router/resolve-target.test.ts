import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { resolveTarget } from './resolve-target.js';

describe('resolveTarget', () => {
  it('routes <slug>.<base domain> to the tenant, port or not', () => {
    assert.deepEqual(resolveTarget('acme.localhost:8080', '/a?b=1', 'localhost'), { kind: 'tenant', slug: 'acme', path: '/a?b=1', prefix: '' });
    assert.deepEqual(resolveTarget('ACME.apps.example.com', '/', 'apps.example.com'), { kind: 'tenant', slug: 'acme', path: '/', prefix: '' });
  });

  it('routes /t/<slug>/ on the base host with the prefix stripped', () => {
    assert.deepEqual(resolveTarget('127.0.0.1:8080', '/t/acme/x/y?z=1', 'localhost'), { kind: 'tenant', slug: 'acme', path: '/x/y?z=1', prefix: '/t/acme' });
    assert.deepEqual(resolveTarget('localhost', '/t/acme', 'localhost'), { kind: 'tenant', slug: 'acme', path: '/', prefix: '/t/acme' });
    assert.deepEqual(resolveTarget('localhost', '/t/acme?q', 'localhost'), { kind: 'tenant', slug: 'acme', path: '/?q', prefix: '/t/acme' });
  });

  it('keeps /_napbox/ on a tenant host for napbox', () => {
    assert.equal(resolveTarget('acme.localhost', '/_napbox/chat', 'localhost').kind, 'tenant-napbox');
    assert.equal(resolveTarget('localhost', '/t/acme/_napbox/status', 'localhost').kind, 'tenant-napbox');
    assert.equal(resolveTarget('acme.localhost', '/_napboxed', 'localhost').kind, 'tenant');
  });

  it('sends everything else to the base host', () => {
    assert.deepEqual(resolveTarget('localhost:8080', '/api/tenants', 'localhost'), { kind: 'base', path: '/api/tenants' });
    assert.deepEqual(resolveTarget(undefined, '/', 'localhost'), { kind: 'base', path: '/' });
    assert.deepEqual(resolveTarget('[::1]:8080', '/', 'localhost'), { kind: 'base', path: '/' });
  });

  it('marks labels that cannot be slugs', () => {
    assert.equal(resolveTarget('a.b.localhost', '/', 'localhost').kind, 'bad-tenant');
    assert.equal(resolveTarget('localhost', '/t/a%2Fb/', 'localhost').kind, 'bad-tenant');
  });
});
