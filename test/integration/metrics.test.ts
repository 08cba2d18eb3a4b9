// /metrics after real traffic: the counters say what happened.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, removeInstall, request, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { eventually } from '../helpers/wait.js';

function metric(text: string, name: string, labels = ''): number {
  const line = text.split('\n').find((l) => l.startsWith(`${name}${labels ? `{${labels}}` : ''} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

describe('metrics', () => {
  let nb: NapboxProcess;
  before(async () => {
    nb = await startNapbox();
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'counted' })).status, 201);
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('counts wakes, proxied requests, messages, stops and tenants by state as they happened', async () => {
    for (let i = 0; i < 5; i += 1) assert.equal((await request(nb.port, { host: tenantHost(nb, 'counted'), path: `/whoami?i=${i}` })).status, 200);
    const sent = await api(nb, 'POST', '/api/tenants/counted/messages', { text: 'count me', session: 'm' });
    assert.equal((await api(nb, 'GET', `/api/tenants/counted/messages/${sent.json.id}?wait=30s`)).json.state, 'done');
    assert.equal((await api(nb, 'POST', '/api/tenants/counted/stop')).status, 200);

    const res = await request(nb.port, { path: '/metrics' });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /text\/plain/);
    const text = res.body;
    assert.equal(metric(text, 'napbox_wakes_total', 'outcome="ready"'), 1);
    assert.equal(metric(text, 'napbox_wake_duration_seconds_count', 'outcome="ready"'), 1);
    const proxied = metric(text, 'napbox_proxied_requests_total', 'path="proxy"') + metric(text, 'napbox_proxied_requests_total', 'path="relay"');
    assert.equal(proxied, 5, 'one count per request, whichever path it took');
    assert.equal(metric(text, 'napbox_held_requests'), 0);
    assert.equal(metric(text, 'napbox_messages', 'state="done"'), 1);
    assert.equal(metric(text, 'napbox_stops_total', 'reason="admin"'), 1);
    assert.equal(metric(text, 'napbox_tenants', 'state="stopped"'), 2, 'counted, and the demo tenant');
    assert.ok(metric(text, 'nodejs_eventloop_lag_p99_seconds') >= 0);
    const timed = metric(text, 'napbox_proxied_request_seconds_count', 'path="proxy"') + metric(text, 'napbox_proxied_request_seconds_count', 'path="relay"');
    assert.equal(timed, 5, 'one latency sample per proxied request');
  });

  it('shows requests held during a wake, counts a failed wake, a failed build and sweep ticks', async () => {
    const scrape = async (): Promise<string> => (await request(nb.port, { path: '/metrics' })).body;
    // Held: sample while a cold request waits for its wake.
    const cold = request(nb.port, { host: tenantHost(nb, 'counted'), path: '/whoami?held=1' });
    const heldSeen = await eventually(
      async () => metric(await scrape(), 'napbox_held_requests'),
      (held) => held !== 0,
      10_000,
      'a held request',
      10,
    );
    assert.equal((await cold).status, 200);
    assert.equal(heldSeen, 1, 'the cold request was counted as held while it waited');
    assert.equal(metric(await scrape(), 'napbox_held_requests'), 0);

    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'crashes', app: { command: ['sh', '-c', 'exit 3'] } })).status, 201);
    assert.equal((await request(nb.port, { host: tenantHost(nb, 'crashes'), path: '/' })).status, 503);

    const put = await api(nb, 'PUT', '/api/tenants/counted/packages', { apt: [], npm: ['napbox-test-no-such-package-3x9'] });
    assert.equal(put.status, 202, JSON.stringify(put.json));
    const build = await eventually(
      async () => (await api(nb, 'GET', `/api/builds/${put.json.id}`)).json,
      (b: any) => b.state === 'failed' || b.state === 'ready',
      120_000,
      'the build to end',
      250,
    );
    assert.equal(build.state, 'failed');

    const ticksBefore = metric(await scrape(), 'napbox_sweep_duration_seconds_count');
    assert.equal((await api(nb, 'POST', '/api/sweep')).status, 200);
    const text = await scrape();
    assert.ok(metric(text, 'napbox_sweep_duration_seconds_count') >= ticksBefore + 1);
    assert.equal(metric(text, 'napbox_wakes_total', 'outcome="failed"'), 1);
    assert.equal(metric(text, 'napbox_wake_duration_seconds_count', 'outcome="failed"'), 1);
    assert.equal(metric(text, 'napbox_wakes_total', 'outcome="ready"'), 2);
    assert.equal(metric(text, 'napbox_builds_total', 'outcome="failed"'), 1);
    assert.equal(metric(text, 'napbox_build_duration_seconds_count', 'outcome="failed"'), 1);
    assert.equal(metric(text, 'napbox_tenants', 'state="failed"'), 1);
  });
});
