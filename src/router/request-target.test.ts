import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { collapseSlashes, decodeUnreserved, isNapboxPath, parseRequestTarget, removeDotSegments } from './request-target.js';

describe('request-target normalisation', () => {
  it('decodes unreserved characters only, case-insensitively, and refuses broken escapes', () => {
    assert.equal(decodeUnreserved('/%5fnapbox/%7E%2e%41%2f%2F%20'), '/_napbox/~.A%2F%2F%20');
    assert.equal(decodeUnreserved('/plain'), '/plain');
    for (const bad of ['/%', '/%Z', '/%ZZ', '/a%2', '/%%41', '/%G1']) assert.equal(decodeUnreserved(bad), undefined, bad);
  });

  it('removes dot segments as RFC 3986 5.2.4 does', () => {
    const cases: Array<[string, string]> = [
      ['/a/b/c/./../../g', '/a/g'],
      ['/mid/content=5/../6', '/mid/6'],
      ['/..', '/'],
      ['/../../x', '/x'],
      ['/a/.', '/a/'],
      ['/a/..', '/'],
      ['/a/b/..', '/a/'],
      ['/./_napbox/', '/_napbox/'],
      ['/x/../_napbox/', '/_napbox/'],
      ['/a..b/.c', '/a..b/.c'],
      ['/', '/'],
    ];
    for (const [input, output] of cases) assert.equal(removeDotSegments(input), output, input);
  });

  it('collapses runs of / for the napbox question only', () => {
    assert.equal(collapseSlashes('//_napbox///x'), '/_napbox/x');
    assert.equal(isNapboxPath('//_napbox/'), true);
    assert.equal(isNapboxPath('/_napboxed'), false);
    assert.equal(isNapboxPath('/x/_napbox/'), false);
  });

  it('splits origin-form, absolute-form and * targets', () => {
    assert.deepEqual(parseRequestTarget('/a/../b?q=1/../'), { ok: true, rawPath: '/a/../b', path: '/b', query: '?q=1/../', authority: undefined });
    assert.deepEqual(parseRequestTarget('http://Acme.Localhost:80/x'), { ok: true, rawPath: '/x', path: '/x', query: '', authority: 'acme.localhost:80' });
    assert.deepEqual(parseRequestTarget('https://[::1]:8080'), { ok: true, rawPath: '/', path: '/', query: '', authority: '[::1]:8080' });
    assert.deepEqual(parseRequestTarget('*'), { ok: true, rawPath: '*', path: '*', query: '', authority: undefined });
    for (const bad of ['', 'x', 'ftp://h/', 'http:///x', 'http://u@h/', 'http://h/#f', '/a#b', 'http://[x/'])
      assert.equal(parseRequestTarget(bad).ok, false, bad);
  });
});
