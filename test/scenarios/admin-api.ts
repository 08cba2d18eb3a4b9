// The admin API as an operator's script sees it: nothing without a valid
// token; create, list, wake, logs, stop and delete do what they say, in the
// engine too; a PATCH changes only what it names; bad input gets a 4xx with
// a message a person can act on, and changes nothing.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { SignJWT } from 'jose';
import { eventually } from '../helpers/wait.js';
import { createTenant, type ScenarioGroup, tenant } from './scenario.js';
import type { World } from './world.js';

const slugs = async (w: World): Promise<string[]> => (await w.api('GET', '/api/tenants')).json.tenants.map((t: { slug: string }) => t.slug).sort();

export const adminApiScenarios: ScenarioGroup = {
  name: 'the admin API',
  scenarios: [
    {
      name: 'refuses every call without a valid token, and changes nothing',
      async run(w) {
        const forged = await new SignJWT({})
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuer('napbox')
          .setSubject('admin')
          .setExpirationTime('5m')
          .sign(crypto.randomBytes(32));
        for (const token of [null, 'not-a-token', forged]) {
          for (const [method, path, body] of [
            ['GET', '/api/tenants', undefined],
            ['POST', '/api/tenants', { slug: 'sneaky' }],
            ['POST', '/api/tenants/sneaky/wake', undefined],
          ] as const) {
            const res = await w.api(method, path, body, { token });
            assert.equal(res.status, 401, `${method} ${path} with ${token?.slice(0, 20)}`);
            assert.equal(typeof res.json.message, 'string');
          }
        }
        assert.ok(!(await slugs(w)).includes('sneaky'));
      },
    },
    {
      name: 'creates, lists, wakes, shows the logs of, stops and deletes a tenant, in the engine too',
      async run(w) {
        await createTenant(w, { slug: 'acme' });
        assert.ok((await slugs(w)).includes('acme'));
        assert.equal((await tenant(w, 'acme')).state, 'stopped');
        assert.equal((await w.api('POST', '/api/tenants/acme/wake')).status, 200);
        const woken = await tenant(w, 'acme');
        assert.equal(woken.state, 'running');
        assert.equal(await w.running('acme'), 1);
        // The runner logs "runner ready" once its own start is complete, a few ms after the tenant is ready.
        const text = (answer: { json: unknown }): string => (typeof answer.json === 'string' ? answer.json : JSON.stringify(answer.json));
        const logs = await eventually(
          () => w.api('GET', '/api/tenants/acme/logs?tail=50'),
          (answer) => answer.status !== 200 || /runner ready/.test(text(answer)),
          5000,
          'the runner ready line in the logs',
        );
        assert.equal(logs.status, 200);
        assert.match(text(logs), /runner ready/);
        assert.equal((await w.api('POST', '/api/tenants/acme/stop')).status, 200);
        const stopped = await tenant(w, 'acme');
        assert.equal(stopped.state, 'stopped');
        assert.equal(stopped.lastStopReason, 'admin stop');
        assert.equal(await w.running('acme'), 0);
        assert.equal((await w.api('DELETE', '/api/tenants/acme')).status, 200);
        assert.equal((await w.api('GET', '/api/tenants/acme')).status, 404);
        assert.ok(!(await slugs(w)).includes('acme'));
        assert.equal((await w.request({ host: w.tenantHost('acme') })).status, 404, 'its host is unknown now');
      },
    },
    {
      name: 'answers bad input with a 4xx naming the problem, and changes nothing',
      async run(w) {
        await createTenant(w, { slug: 'kept' });
        const before = await tenant(w, 'kept');
        const listed = await slugs(w);
        const cases: Array<[string, string, unknown, number]> = [
          ['POST', '/api/tenants', { slug: 'Bad_Slug' }, 400],
          ['POST', '/api/tenants', { slug: '-x' }, 400],
          ['POST', '/api/tenants', { slug: 'kept' }, 409],
          ['POST', '/api/tenants', 'not json', 400],
          ['POST', '/api/tenants', { slug: 'extra', nope: 1 }, 400],
          ['PATCH', '/api/tenants/kept', { visibility: 'secret' }, 400],
          ['PATCH', '/api/tenants/kept', { nope: true }, 400],
          ['PATCH', '/api/tenants/nosuch', { visibility: 'private' }, 404],
          ['POST', '/api/tenants/nosuch/wake', undefined, 404],
          ['DELETE', '/api/tenants/nosuch', undefined, 404],
        ];
        for (const [method, path, body, status] of cases) {
          const res = await w.api(method, path, body);
          assert.equal(res.status, status, `${method} ${path} ${JSON.stringify(body)} -> ${res.status} ${JSON.stringify(res.json)}`);
          assert.ok(typeof res.json.message === 'string' && res.json.message.length > 0, JSON.stringify(res.json));
        }
        assert.deepEqual(await slugs(w), listed, 'no tenant made or removed');
        const after = await tenant(w, 'kept');
        assert.deepEqual(after.config, before.config, 'its settings unchanged');
        assert.equal(after.state, 'stopped', 'nothing woke');
      },
    },
    {
      name: 'changes only the settings a PATCH names, a top-level one whole, and null puts one back to its default',
      async run(w) {
        const app = { command: ['node', '-e', 'x'] };
        await createTenant(w, { slug: 'tuned', app, limits: { memoryMiB: 256, pids: 64 }, visibility: 'private' });
        let res = await w.api('PATCH', '/api/tenants/tuned', { readOnlyRootfs: true });
        assert.equal(res.status, 200, JSON.stringify(res.json));
        assert.deepEqual(res.json.config, { app, limits: { memoryMiB: 256, pids: 64 }, visibility: 'private', readOnlyRootfs: true });
        res = await w.api('PATCH', '/api/tenants/tuned', { app: null, limits: { cpus: 0.5 } });
        assert.equal(res.status, 200, JSON.stringify(res.json));
        assert.deepEqual(
          res.json.config,
          { limits: { cpus: 0.5 }, visibility: 'private', readOnlyRootfs: true },
          'the built-in page again; limits replaced whole',
        );
        for (const body of [{ nope: null }, { visibility: 'secret', limits: null }]) {
          assert.equal((await w.api('PATCH', '/api/tenants/tuned', body)).status, 400, JSON.stringify(body));
        }
        assert.deepEqual(
          (await tenant(w, 'tuned')).config,
          { limits: { cpus: 0.5 }, visibility: 'private', readOnlyRootfs: true },
          'unchanged by the refused calls',
        );
      },
    },
  ],
};
