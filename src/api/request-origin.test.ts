import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dashboardCookieProblem, originKind, tenantCookieProblem } from './request-origin.js';

const req = (method: string, headers: Record<string, string>) => ({ method, headers: { host: 'napbox.test:8080', ...headers } });

describe('originKind', () => {
  it('compares Origin with the Host the request was sent to', () => {
    assert.equal(originKind(req('GET', {})), 'absent');
    assert.equal(originKind(req('GET', { origin: 'http://napbox.test:8080' })), 'same');
    assert.equal(originKind(req('GET', { origin: 'http://NAPBOX.test:8080' })), 'same');
    assert.equal(originKind(req('GET', { origin: 'null' })), 'null');
    assert.equal(originKind(req('GET', { origin: 'http://evil.napbox.test:8080' })), 'other');
    assert.equal(originKind(req('GET', { origin: 'http://napbox.test:8081' })), 'other');
    assert.equal(originKind(req('GET', { origin: 'not a url' })), 'other');
    assert.equal(originKind({ method: 'GET', headers: { host: 'napbox.test', origin: 'http://napbox.test' } }), 'same');
    assert.equal(originKind({ method: 'GET', headers: { host: 'napbox.test:80', origin: 'http://napbox.test' } }), 'same');
    assert.equal(originKind({ method: 'GET', headers: { origin: 'http://napbox.test' } }), 'other', 'no Host to compare with');
  });
});

describe('dashboardCookieProblem', () => {
  it("lets the dashboard's own requests through", () => {
    assert.equal(dashboardCookieProblem(req('GET', { 'sec-fetch-site': 'same-origin' })), undefined);
    assert.equal(dashboardCookieProblem(req('GET', {})), undefined);
    assert.equal(dashboardCookieProblem(req('GET', { 'sec-fetch-site': 'none' })), undefined, 'a typed URL');
    assert.equal(dashboardCookieProblem(req('POST', { origin: 'http://napbox.test:8080', 'sec-fetch-site': 'same-origin' })), undefined);
    assert.equal(dashboardCookieProblem(req('DELETE', { origin: 'http://napbox.test:8080' })), undefined);
  });

  it('refuses everything else', () => {
    assert.match(dashboardCookieProblem(req('GET', { 'sec-fetch-site': 'cross-site' })) ?? '', /cross-site/);
    assert.match(dashboardCookieProblem(req('GET', { 'sec-fetch-site': 'same-site' })) ?? '', /same-site/);
    assert.ok(dashboardCookieProblem(req('POST', { 'sec-fetch-site': 'none', origin: 'http://napbox.test:8080' })));
    assert.ok(dashboardCookieProblem(req('GET', { origin: 'null' })), 'a sandboxed page');
    assert.ok(dashboardCookieProblem(req('GET', { origin: 'http://evil.napbox.test:8080' })));
    assert.match(dashboardCookieProblem(req('POST', {})) ?? '', /without an Origin/);
    assert.ok(dashboardCookieProblem(req('PATCH', { origin: 'http://evil.napbox.test:8080' })));
  });
});

describe('tenantCookieProblem', () => {
  it("lets the tenant's own pages and followed links through", () => {
    assert.equal(tenantCookieProblem(req('GET', {})), undefined, 'no Origin, no Sec-Fetch: plain http on a real domain');
    assert.equal(tenantCookieProblem(req('POST', { origin: 'http://napbox.test:8080' })), undefined);
    assert.equal(tenantCookieProblem(req('GET', { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' })), undefined);
    assert.equal(tenantCookieProblem(req('GET', { 'sec-fetch-site': 'same-origin', 'sec-fetch-mode': 'cors' })), undefined);
  });

  it('refuses requests from other origins', () => {
    assert.ok(tenantCookieProblem(req('GET', { origin: 'http://evil.napbox.test:8080' })), 'a WebSocket or CORS request from a sibling');
    assert.ok(tenantCookieProblem(req('GET', { origin: 'null' })));
    assert.ok(tenantCookieProblem(req('POST', { origin: 'http://evil.napbox.test:8080', 'sec-fetch-mode': 'navigate' })), 'a form posted from a sibling');
    assert.ok(tenantCookieProblem(req('GET', { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' })));
    assert.ok(
      tenantCookieProblem(req('GET', { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' })),
      'framed by a sibling',
    );
  });
});
