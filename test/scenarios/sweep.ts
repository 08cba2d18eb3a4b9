// The heartbeat sweep as a user sees it: an idle tenant is stopped and says
// why (idle, its last activity, counted as an idle stop), a tenant with an
// open WebSocket is kept until the socket closes.

import assert from 'node:assert/strict';
import { formatDuration } from '../../src/config/duration.js';
import { sleep } from '../helpers/wait.js';
import { createTenant, type ScenarioGroup, tenant, untilState } from './scenario.js';

export const sweepScenarios: ScenarioGroup = {
  name: 'the sweep',
  env: (t) => ({
    NAPBOX_IDLE_TIMEOUT: `${t.idleMs}ms`,
    NAPBOX_SWEEP_INTERVAL: `${t.sweepMs}ms`,
    NAPBOX_HEARTBEAT_INTERVAL: '300ms',
    NAPBOX_HEARTBEAT_TIMEOUT: '2s',
  }),
  scenarios: [
    {
      name: 'stops an idle tenant after the idle timeout, says why in the API and the metrics, and wakes it on the next request',
      async run(w) {
        const { idleMs, sweepMs, stopMs } = w.timing;
        await createTenant(w, { slug: 'idle' });
        assert.equal((await w.request({ host: w.tenantHost('idle') })).status, 200);
        assert.equal(await w.running('idle'), 1);
        await untilState(w, 'idle', 'stopped', idleMs + sweepMs + stopMs + 1000);
        const stopped = await tenant(w, 'idle');
        assert.match(stopped.lastStopReason, new RegExp(`^idle ${formatDuration(idleMs)}, last activity \\d\\d:\\d\\d:\\d\\d request$`));
        assert.equal(await w.running('idle'), 0, 'no container of it runs');
        const metrics = await w.api('GET', '/metrics');
        assert.match(String(metrics.json), /napbox_stops_total\{reason="idle"\} [1-9]/);
        assert.equal((await w.request({ host: w.tenantHost('idle') })).status, 200);
        assert.equal((await tenant(w, 'idle')).state, 'running');
      },
    },
    {
      name: 'keeps a tenant with an open WebSocket, and stops it once the socket closes',
      async run(w) {
        const { idleMs, sweepMs, stopMs } = w.timing;
        await createTenant(w, { slug: 'socket' });
        const ws = await w.socket('socket', '/echo');
        try {
          await sleep(idleMs + 3 * sweepMs); // nothing may happen: the socket holds it
          const held = await tenant(w, 'socket');
          assert.equal(held.state, 'running');
          assert.ok(
            held.holds.some((h: string) => /websocket/.test(h)),
            JSON.stringify(held.holds),
          );
        } finally {
          ws.close();
        }
        await untilState(w, 'socket', 'stopped', idleMs + sweepMs + stopMs + 1000);
        assert.match((await tenant(w, 'socket')).lastStopReason, /^idle .* websocket$/);
      },
    },
  ],
};
