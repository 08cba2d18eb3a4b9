// The connection relay as a client on a raw socket sees it: a request to a
// sleeping tenant is held while it wakes and answered; a keep-alive
// connection to a running tenant carries many requests (relayed to the
// container, forwarded headers set) and is handed to napbox for /_napbox/;
// a malformed head is refused by napbox itself and the connection closed.

import assert from 'node:assert/strict';
import { exchange, parseResponses, rawConnect } from '../helpers/raw-http.js';
import { createTenant, type ScenarioGroup, tenant } from './scenario.js';

const get = (path: string, host: string): string => `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`;
const json = (body: Buffer): any => JSON.parse(body.toString('utf8'));

export const relayScenarios: ScenarioGroup = {
  name: 'the connection relay',
  scenarios: [
    {
      name: 'holds a raw request to a stopped tenant while it wakes, then answers it',
      async run(w) {
        await createTenant(w, { slug: 'cold' });
        assert.equal(await w.running('cold'), 0);
        const { parsed } = await exchange(w.port, get('/whoami', w.tenantHost('cold')), 1, w.timing.replyMs);
        assert.equal(parsed.responses[0]?.status, 200, parsed.error);
        assert.equal(json(parsed.responses[0]!.body).tenant, 'cold');
        assert.equal(await w.running('cold'), 1);
        assert.equal((await tenant(w, 'cold')).lastStartReason, 'request GET /whoami');
      },
    },
    {
      name: 'serves many requests on one keep-alive connection, with forwarded headers, and keeps /_napbox/ for napbox',
      async run(w) {
        await createTenant(w, { slug: 'warm' });
        assert.equal((await w.api('POST', '/api/tenants/warm/wake')).status, 200);
        const host = w.tenantHost('warm');
        const connection = await rawConnect(w.port);
        try {
          const paths = ['/whoami?i=0', '/whoami?i=1', '/_napbox/status', '/whoami?i=2'];
          for (const [i, path] of paths.entries()) {
            connection.socket.write(get(path, host));
            await connection.until((d, c) => c || parseResponses(d, c).responses.length > i, 10_000);
          }
          const { responses } = parseResponses(connection.received(), connection.closed());
          assert.equal(connection.closed(), false, 'the connection stays open');
          assert.deepEqual(
            responses.map((r) => r.status),
            [200, 200, 200, 200],
          );
          assert.deepEqual(json(responses[2]!.body), { tenant: 'warm', state: 'running' }, "napbox's own answer, not the container's");
          for (const [k, i] of [
            [0, 0],
            [1, 1],
            [3, 2],
          ] as const) {
            const who = json(responses[k]!.body);
            assert.equal(who.path, `/whoami?i=${i}`);
            assert.equal(who.headers['x-forwarded-for'], '127.0.0.1');
            assert.equal(who.headers['x-forwarded-host'], host);
          }
        } finally {
          connection.socket.destroy();
        }
      },
    },
    {
      name: 'refuses a malformed head itself (400, JSON) and closes the connection, and keeps serving',
      async run(w) {
        await createTenant(w, { slug: 'strict' });
        const host = w.tenantHost('strict');
        for (const text of [`GET /whoami HTTP/1.1\r\nHost: ${host}\r\nX : a\r\n\r\n`, `GET /whoami HTTP/1.1\nHost: ${host}\n\n`]) {
          const { parsed, connection } = await exchange(w.port, text, 1, w.timing.replyMs);
          assert.equal(parsed.responses[0]?.status, 400, JSON.stringify(text));
          assert.equal(json(parsed.responses[0]!.body).error, 'bad_request');
          await connection.untilClosed(3000);
        }
        assert.equal(await w.running('strict'), 0, 'a refused request wakes nothing');
        const { parsed } = await exchange(w.port, get('/whoami', host), 1, w.timing.replyMs);
        assert.equal(parsed.responses[0]?.status, 200);
      },
    },
  ],
};
