import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.js';
import { PublicLinks, parsePublicUrl } from './public-url.js';

describe('NAPBOX_PUBLIC_URL', () => {
  it('takes a scheme, a host and a port, and refuses anything else with a reason', () => {
    assert.deepEqual(parsePublicUrl('https://Napbox.Example.com'), { scheme: 'https', host: 'napbox.example.com', port: undefined });
    assert.deepEqual(parsePublicUrl('http://apps.example.com:8443/'), { scheme: 'http', host: 'apps.example.com', port: 8443 });
    assert.deepEqual(parsePublicUrl('https://example.com:443'), { scheme: 'https', host: 'example.com', port: undefined });
    for (const [raw, reason] of [
      ['napbox.example.com', /not a URL/],
      ['ftp://example.com', /http or https/],
      ['https://user:pw@example.com', /credentials/],
      ['https://example.com/?a=1', /query/],
      ['https://example.com/#x', /fragment/],
      ['https://example.com/napbox', /no path/],
      ['https://example.com:0', /port 0/],
    ] as const) {
      assert.throws(() => parsePublicUrl(raw), reason, raw);
      assert.throws(
        () => loadConfig({ NAPBOX_PUBLIC_URL: raw }),
        (err: Error) => err.message.includes('NAPBOX_PUBLIC_URL') && reason.test(err.message),
        raw,
      );
    }
  });

  it('makes tenants live under the public host unless NAPBOX_BASE_DOMAIN says otherwise', () => {
    assert.equal(loadConfig({ NAPBOX_PUBLIC_URL: 'https://napbox.example.com' }).baseDomain, 'napbox.example.com');
    assert.equal(loadConfig({ NAPBOX_PUBLIC_URL: 'https://napbox.example.com', NAPBOX_BASE_DOMAIN: 'apps.example.com' }).baseDomain, 'apps.example.com');
    assert.equal(loadConfig({ NAPBOX_PUBLIC_URL: 'https://203.0.113.5' }).baseDomain, 'localhost');
    assert.equal(loadConfig({}).publicUrl, undefined);
  });
});

describe('PublicLinks', () => {
  const listen = { listenHost: '127.0.0.1', listenPort: () => 8080 };
  it('without a public URL: the links napbox always printed (its own port, http)', () => {
    const links = new PublicLinks({ publicUrl: undefined, baseDomain: 'localhost', ...listen });
    assert.equal(links.base(), 'http://127.0.0.1:8080');
    assert.equal(links.tenant('acme'), 'http://acme.localhost:8080/');
    assert.equal(links.tenantPath('acme'), 'http://127.0.0.1:8080/t/acme/');
    assert.equal(links.secure, false);
    assert.equal(
      new PublicLinks({ publicUrl: undefined, baseDomain: 'localhost', listenHost: '127.0.0.1', listenPort: () => 80 }).tenant('a'),
      'http://a.localhost/',
    );
  });

  it("with one: the proxy's scheme, host and port, never napbox's own port", () => {
    const links = new PublicLinks({ publicUrl: parsePublicUrl('https://napbox.example.com'), baseDomain: 'napbox.example.com', ...listen });
    assert.equal(links.base(), 'https://napbox.example.com');
    assert.equal(links.tenant('acme'), 'https://acme.napbox.example.com/');
    assert.equal(links.tenantPath('acme'), 'https://napbox.example.com/t/acme/');
    assert.equal(links.secure, true);
    const custom = new PublicLinks({ publicUrl: parsePublicUrl('http://apps.example.com:8443'), baseDomain: 'apps.example.com', ...listen });
    assert.equal(custom.tenant('acme'), 'http://acme.apps.example.com:8443/');
    assert.equal(custom.base(), 'http://apps.example.com:8443');
    assert.equal(custom.secure, false);
  });
});
