import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { scopeSetCookie } from './tenant-set-cookie.js';

const UNDER = { kind: 'prefix', prefix: '/t/app' } as const;
const HOST = { kind: 'host', host: 'app.napbox.test' } as const;

describe('scopeSetCookie', () => {
  it("drops a cookie with one of napbox's names, on /t/ and on a tenant's host", () => {
    for (const value of [
      'napbox_admin=x; Path=/api',
      'napbox_session=x',
      'NAPBOX_ADMIN=x',
      '__Host-napbox_admin=x; Path=/; Secure',
      '__secure-napbox_session=x; Secure',
      ' napbox_admin =x',
      '=napbox_admin=x; Path=/api',
      'napbox_admin',
    ]) {
      assert.equal(scopeSetCookie(value, UNDER), undefined, value);
      assert.equal(scopeSetCookie(value, HOST), undefined, value);
    }
  });

  it('drops every Domain cookie under /t/', () => {
    for (const value of ['a=1; Domain=napbox.test', 'a=1; path=/; domain=.napbox.test', 'a=1; DOMAIN=other.napbox.test', 'a=1; Domain=']) {
      assert.equal(scopeSetCookie(value, UNDER), undefined, value);
    }
  });

  it("scopes a cookie's Path under the tenant's prefix", () => {
    assert.equal(scopeSetCookie('a=1', UNDER), 'a=1; Path=/t/app/');
    assert.equal(scopeSetCookie('a=1; Path=/', UNDER), 'a=1; Path=/t/app/');
    assert.equal(scopeSetCookie('a=1; Path=/x; HttpOnly; SameSite=Lax', UNDER), 'a=1; HttpOnly; SameSite=Lax; Path=/t/app/x');
    assert.equal(scopeSetCookie('a=1; path=/x; Path=/y', UNDER), 'a=1; Path=/t/app/y');
    assert.equal(scopeSetCookie('a=1; Path=relative', UNDER), 'a=1; Path=/t/app/');
    assert.equal(scopeSetCookie('a=1; Max-Age=0; Path=', UNDER), 'a=1; Max-Age=0; Path=/t/app/');
  });

  it("keeps a tenant host's own cookies, host-only or for exactly its host", () => {
    assert.equal(scopeSetCookie('a=1; Path=/; HttpOnly', HOST), 'a=1; Path=/; HttpOnly');
    assert.equal(scopeSetCookie('a=1; Domain=app.napbox.test', HOST), 'a=1; Domain=app.napbox.test');
    assert.equal(scopeSetCookie('a=1; domain=.APP.napbox.test', HOST), 'a=1; domain=.APP.napbox.test');
  });

  it("drops a tenant host's cookie for any other domain", () => {
    for (const value of ['a=1; Domain=napbox.test', 'a=1; Domain=.napbox.test', 'a=1; Domain=other.napbox.test', 'a=1; Domain=test', 'a=1; Domain=']) {
      assert.equal(scopeSetCookie(value, HOST), undefined, value);
    }
  });
});
