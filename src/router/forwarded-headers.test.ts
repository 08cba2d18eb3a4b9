import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTrustedProxies } from '../config/trusted-proxies.js';
import { TrustedProxies, forwardedHeaders, forwardedHeadersObject, stripNapboxCookies } from './forwarded-headers.js';

const ctx = { peer: '10.1.2.3', trusted: false, host: 'acme.example.com', prefix: '' };

describe('forwardedHeaders', () => {
  it("puts napbox's X-Forwarded-* in place of an untrusted client's, and drops other origin claims", () => {
    const out = forwardedHeaders(
      [
        'Host',
        'acme.example.com',
        'X-Forwarded-For',
        '6.6.6.6',
        'x-forwarded-proto',
        'https',
        'X-Forwarded-Host',
        'evil',
        'X-Forwarded-Prefix',
        '/admin',
        'Forwarded',
        'for=6.6.6.6',
        'X-Real-IP',
        '6.6.6.6',
        'Accept',
        '*/*',
      ],
      ctx,
    );
    assert.deepEqual(out, [
      'Host',
      'acme.example.com',
      'Accept',
      '*/*',
      'x-forwarded-for',
      '10.1.2.3',
      'x-forwarded-proto',
      'http',
      'x-forwarded-host',
      'acme.example.com',
    ]);
  });

  it("keeps a trusted proxy's X-Forwarded-* and appends to them", () => {
    const out = forwardedHeaders(
      ['X-Forwarded-For', '1.1.1.1', 'X-Forwarded-For', '2.2.2.2', 'X-Forwarded-Proto', 'https', 'X-Forwarded-Host', 'public.example', 'X-Real-IP', '1.1.1.1'],
      { ...ctx, trusted: true },
    );
    assert.deepEqual(out, [
      'X-Real-IP',
      '1.1.1.1',
      'x-forwarded-for',
      '1.1.1.1, 2.2.2.2, 10.1.2.3',
      'x-forwarded-proto',
      'https',
      'x-forwarded-host',
      'public.example',
    ]);
  });

  it("drops origin claims napbox never writes even from a trusted proxy, which passes a client's on (Prefix, Forwarded, X-Forwarded-Ssl, True-Client-IP), and underscore spellings from everyone", () => {
    const claims = [
      'X-Forwarded-Prefix',
      '//evil.example',
      'Forwarded',
      'for=6.6.6.6;host=evil.example;proto=https',
      'X-Forwarded-Ssl',
      'on',
      'True-Client-IP',
      '6.6.6.6',
      'X_Forwarded_Proto',
      'https',
      'X_Forwarded_For',
      '6.6.6.6',
      'x_real_ip',
      '6.6.6.6',
    ];
    for (const trusted of [true, false]) {
      const out = forwardedHeaders(claims, { ...ctx, trusted, prefix: '/t/acme' });
      assert.deepEqual(
        out,
        ['x-forwarded-for', '10.1.2.3', 'x-forwarded-proto', 'http', 'x-forwarded-host', 'acme.example.com', 'x-forwarded-prefix', '/t/acme'],
        `trusted: ${trusted}`,
      );
    }
  });

  it("tells the port napbox was reached on to an untrusted client's app; keeps a trusted proxy's, and adds none it did not send", () => {
    assert.deepEqual(forwardedHeaders(['X-Forwarded-Port', '1'], { ...ctx, port: 8080 }).slice(-2), ['x-forwarded-port', '8080']);
    assert.deepEqual(forwardedHeaders(['X-Forwarded-Port', '443', 'X-Forwarded-Port', '1'], { ...ctx, trusted: true, port: 8080 }).slice(-2), [
      'x-forwarded-port',
      '443',
    ]);
    assert.equal(forwardedHeaders(['X-Forwarded-Proto', 'https'], { ...ctx, trusted: true, port: 8080 }).includes('x-forwarded-port'), false);
  });

  it("strips napbox's cookies, keeps the tenant's, and drops an emptied Cookie header", () => {
    const out = forwardedHeaders(['Cookie', 'a=1; napbox_admin=tok; b=2', 'cookie', 'napbox_session=s;__Host-napbox_t=x', 'Cookie', 'mine=napbox_admin'], ctx);
    assert.deepEqual(out.slice(0, 4), ['Cookie', 'a=1; b=2', 'Cookie', 'mine=napbox_admin']);
    assert.equal(stripNapboxCookies('NAPBOX_ADMIN=1; __Secure-napbox-x=2; napboxish=3; x_napbox_y=4'), 'napboxish=3; x_napbox_y=4');
    assert.equal(stripNapboxCookies('plain=1;  other=2'), 'plain=1;  other=2', 'untouched when there is nothing to strip');
  });

  it('builds the headers object http-proxy sends for a WebSocket, with the same rewrite', () => {
    const headers = forwardedHeadersObject(
      [
        'Host',
        'acme.example.com',
        'Connection',
        'Upgrade',
        'Upgrade',
        'websocket',
        'Cookie',
        'napbox_session=s; app=1',
        'Cookie',
        'more=2',
        'X-Forwarded-For',
        '6.6.6.6',
      ],
      { ...ctx, prefix: '/t/acme' },
    );
    assert.deepEqual(headers, {
      host: 'acme.example.com',
      connection: 'Upgrade',
      upgrade: 'websocket',
      cookie: 'app=1; more=2',
      'x-forwarded-for': '10.1.2.3',
      'x-forwarded-proto': 'http',
      'x-forwarded-host': 'acme.example.com',
      'x-forwarded-prefix': '/t/acme',
    });
  });
});

describe('TrustedProxies', () => {
  it('parses addresses and CIDR ranges, and refuses anything else naming it', () => {
    assert.deepEqual(parseTrustedProxies(' 10.0.0.1, 192.168.0.0/16 ,fd00::/8,, ::1 '), ['10.0.0.1', '192.168.0.0/16', 'fd00::/8', '::1']);
    assert.deepEqual(parseTrustedProxies(''), []);
    for (const bad of ['10.0.0', '10.0.0.0/33', 'fd00::/129', 'localhost', '10.0.0.0/', '10.0.0.0/x'])
      assert.throws(() => parseTrustedProxies(bad), new RegExp(bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')));
  });

  it('trusts exactly the listed peers, IPv4 clients of a dual-stack socket included', () => {
    const trusted = new TrustedProxies(['10.0.0.1', '192.168.0.0/16', 'fd00::/8']);
    assert.equal(trusted.trusts('10.0.0.1'), true);
    assert.equal(trusted.trusts('::ffff:10.0.0.1'), true);
    assert.equal(trusted.trusts('192.168.44.5'), true);
    assert.equal(trusted.trusts('fd00::5'), true);
    assert.equal(trusted.trusts('10.0.0.2'), false);
    assert.equal(trusted.trusts(undefined), false);
    assert.equal(new TrustedProxies().trusts('127.0.0.1'), false);
  });
});
