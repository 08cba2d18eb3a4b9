// Warm requests on one keep-alive connection: relayed to the container as
// bytes while they are plain requests for the tenant, handed to napbox itself
// the moment one is not (a /_napbox/ path, a chunked body, another tenant).

import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { api, removeInstall, request, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';

describe('keep-alive connections to a warm tenant', () => {
  let nb: NapboxProcess;
  let agent: http.Agent;
  before(async () => {
    nb = await startNapbox();
    for (const slug of ['warm', 'other']) assert.equal((await api(nb, 'POST', '/api/tenants', { slug })).status, 201);
    assert.equal((await api(nb, 'POST', '/api/tenants/warm/wake')).status, 200);
    agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  });
  after(async () => {
    agent?.destroy();
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('serves many requests on one connection, with bodies and forwarded headers intact', async () => {
    const host = tenantHost(nb, 'warm');
    for (let i = 0; i < 20; i += 1) {
      const res = await request(nb.port, { host, path: `/whoami?i=${i}`, agent });
      assert.equal(res.status, 200);
      const who = JSON.parse(res.body);
      assert.equal(who.path, `/whoami?i=${i}`);
      assert.equal(who.headers['x-forwarded-for'], '127.0.0.1');
      assert.equal(who.headers['x-forwarded-host'], host);
    }
    const body = 'x'.repeat(100_000);
    const echoed = await request(nb.port, { host, method: 'POST', path: '/echo-body', body, agent, headers: { 'content-type': 'text/plain' } });
    assert.equal(echoed.body, body);
    assert.equal((await request(nb.port, { host, path: '/whoami', agent })).status, 200, 'the connection is still in step after a body');
  });

  it('never lets a /_napbox/ path reach the container, even mid-connection', async () => {
    const host = tenantHost(nb, 'warm');
    assert.equal((await request(nb.port, { host, path: '/whoami', agent })).status, 200);
    const status = await request(nb.port, { host, path: '/_napbox/status', agent });
    assert.equal(status.status, 200);
    assert.deepEqual(JSON.parse(status.body), { tenant: 'warm', state: 'running' });
    assert.equal((await request(nb.port, { host, path: '/whoami', agent })).status, 200);
  });

  it('hands a chunked request and a request for another tenant to the full proxy', async () => {
    const host = tenantHost(nb, 'warm');
    const chunked = await new Promise<string>((resolve, reject) => {
      const req = http.request(
        { host: '127.0.0.1', port: nb.port, method: 'POST', path: '/echo-body', agent, headers: { host, 'transfer-encoding': 'chunked' } },
        (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        },
      );
      req.on('error', reject);
      req.write('part one, ');
      req.end('part two');
    });
    assert.equal(chunked, 'part one, part two');
    const other = await request(nb.port, { host: tenantHost(nb, 'other'), path: '/whoami', agent });
    assert.equal(other.status, 200);
    assert.equal(JSON.parse(other.body).tenant, 'other');
  });
});
