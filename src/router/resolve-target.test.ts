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

describe('resolveTarget on paths napbox must read before deciding', () => {
  it('never throws, and refuses what it cannot read with a reason (bad-request, a 400)', () => {
    for (const path of ['/t/%ZZ/', '/t/%/', '/%ZZ', '/a%2', '/t/acme/%G0', '/x#frag', 'no-slash', 'http://user@acme.localhost/']) {
      for (const host of ['localhost', 'acme.localhost']) {
        const target = resolveTarget(host, path, 'localhost');
        assert.equal(target.kind, 'bad-request', `${host} ${path}`);
      }
    }
    assert.equal(resolveTarget('localhost', '/t/%FF%FE/', 'localhost').kind, 'bad-tenant'); // a valid escape, no slug: 404, not a URIError
    assert.equal(resolveTarget('localhost', '/t/%C3%28/', 'localhost').kind, 'bad-tenant');
  });

  it("counts every spelling of /_napbox/ on a tenant host as napbox's", () => {
    for (const path of [
      '/_napbox/chat',
      '/./_napbox/chat',
      '/x/../_napbox/chat',
      '//_napbox/chat',
      '/%5fnapbox/chat',
      '/%5Fnapbox/chat',
      '/%2e/_napbox/chat',
      '/%2E%2E/_napbox/chat',
      '/a/b/../../_napbox/chat',
      '///_napbox//chat',
      '/_napbox',
      '/_napbox?x=1',
    ]) {
      assert.equal(resolveTarget('acme.localhost', path, 'localhost').kind, 'tenant-napbox', path);
      // Under /t/acme a leading .. climbs out of the prefix: /t/acme/../_napbox is the slug _napbox, no tenant.
      if (!path.startsWith('/%2E%2E')) assert.equal(resolveTarget('localhost', `/t/acme${path}`, 'localhost').kind, 'tenant-napbox', `/t/acme${path}`);
    }
    assert.deepEqual(resolveTarget('acme.localhost', '/x/../_napbox//status?q', 'localhost'), {
      kind: 'tenant-napbox',
      slug: 'acme',
      path: '/_napbox/status?q',
      prefix: '',
    });
    assert.equal(resolveTarget('acme.localhost', '/_napbox%2Fchat', 'localhost').kind, 'tenant'); // an encoded / is no separator
    assert.equal(resolveTarget('acme.localhost', '/_NAPBOX/chat', 'localhost').kind, 'tenant'); // paths are case-sensitive
  });

  it('reads absolute-form targets by their path, and only for the Host they name', () => {
    assert.equal(resolveTarget('acme.localhost:8080', 'http://acme.localhost:8080/_napbox/chat', 'localhost').kind, 'tenant-napbox');
    assert.equal(resolveTarget('ACME.localhost', 'HTTP://acme.localhost/./_napbox/', 'localhost').kind, 'tenant-napbox');
    assert.deepEqual(resolveTarget('acme.localhost', 'http://acme.localhost/a?b', 'localhost'), { kind: 'tenant', slug: 'acme', path: '/a?b', prefix: '' });
    assert.deepEqual(resolveTarget('localhost', 'http://localhost?x', 'localhost'), { kind: 'base', path: '/?x' });
    assert.equal(resolveTarget('localhost', 'http://acme.localhost/', 'localhost').kind, 'bad-request');
    assert.equal(resolveTarget(undefined, 'http://acme.localhost/_napbox/', 'localhost').kind, 'tenant-napbox'); // HTTP/1.0, no Host
  });

  it('routes /t/<slug> on the normalised path and forwards the normalised rest', () => {
    assert.deepEqual(resolveTarget('localhost', '/t/%61cme/a/./b/../c', 'localhost'), { kind: 'tenant', slug: 'acme', path: '/a/c', prefix: '/t/acme' });
    assert.deepEqual(resolveTarget('localhost', '/t/acme/../other/x', 'localhost'), { kind: 'tenant', slug: 'other', path: '/x', prefix: '/t/other' });
    assert.deepEqual(resolveTarget('localhost', '/t/acme/../../api/tenants', 'localhost'), { kind: 'base', path: '/api/tenants' });
    assert.deepEqual(resolveTarget('acme.localhost', '/a/../b?x=%ZZ', 'localhost'), { kind: 'tenant', slug: 'acme', path: '/a/../b?x=%ZZ', prefix: '' }); // a tenant host's path goes as sent
  });
});
