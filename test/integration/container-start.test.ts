// How a tenant's container starts (issue 17), on the real agent image: it
// runs Node.js 24; a tenant's own app is started by the image's launcher
// before Node.js starts the runner, and the runner loads its control port
// and services after, with exactly its argv and none of the runner's
// secrets; GET /ready?wait= holds its answer until the app listens and
// answers the moment it does; the channel works from the moment the app is
// ready; the app's exit status is the container's, and a stop is clean.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/config.js';
import { requireAgentImage } from '../../src/images/agent-image.js';
import { endpointFor, type ContainerInfo, type Endpoint } from '../../src/runtime/container-driver.js';
import { buildContainerSpec, CONTROL_PORT, LABEL_INSTALL } from '../../src/runtime/container-spec.js';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { ROOT } from '../helpers/napbox-process.js';
import { newChannelKey, RunnerChannelClient } from '../helpers/runner-channel-client.js';

const driver = new DockerDriver();
const image = await requireAgentImage({ driver, containerDir: path.join(ROOT, 'container'), caBundle: loadConfig().caBundle });
const install = `start${crypto.randomBytes(4).toString('hex')}`;
const labels = { [LABEL_INSTALL]: install };
const network = `napbox-${install}`;
const KEY = newChannelKey();
const SERVER = "require('http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT)";

after(async () => {
  for (const c of await driver.findByLabels(labels)) await driver.remove(c.id, { force: true });
  for (const n of await driver.findNetworksByLabels(labels)) await driver.removeNetwork(n);
  for (const v of await driver.findVolumesByLabels(labels)) await driver.removeVolume(v);
});

/** Creates and starts a tenant container whose app is `command` (none: the built-in page), as napbox would. */
async function startTenant(slug: string, command?: readonly string[], extraEnv: Readonly<Record<string, string>> = {}): Promise<ContainerInfo> {
  await driver.ensureNetwork({ name: network, labels, internal: false });
  const config = command ? { app: { command: [...command] } } : {};
  const spec = buildContainerSpec({ installId: install, slug, config, image, publish: false, channelKey: KEY.env, heartbeatMs: 5000 });
  const created = await driver.create({ ...spec, env: { ...spec.env, ...extraEnv }, network });
  await driver.start(created.id);
  const info = await driver.inspect(created.id);
  assert.ok(info, 'the container exists');
  return info;
}

/** Waits for the container to stop; its exit code. */
async function exitCodeOf(id: string, withinMs = 15_000): Promise<number | null> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const info = await driver.inspect(id);
    if (info && !info.running) return info.exitCode;
    if (Date.now() > deadline) throw new Error(`container ${id} still runs after ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The runner's "runner ready" line: when its process started (epoch ms) and its marks (ms since then). */
async function runnerReady(id: string): Promise<{ processStart: number; marks: Record<string, number> }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const line = (await driver.logs(id, { tail: 50 })).split('\n').find((l) => l.includes('"runner ready"'));
    if (line) return JSON.parse(line.slice(line.indexOf('{'))) as { processStart: number; marks: Record<string, number> };
    if (Date.now() > deadline) throw new Error(`no "runner ready" line:\n${await driver.logs(id, { tail: 30 })}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** GET `path` on the control port, connecting until the runner listens; the status and how long the answer took once connected. */
async function getReady(control: Endpoint, pathAndQuery: string): Promise<{ status: number; heldMs: number }> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const result = await new Promise<{ status: number; heldMs: number } | undefined>((resolve) => {
      let connectedAt = 0;
      const req = http.get({ host: control.host, port: control.port, path: pathAndQuery, agent: false }, (res) => {
        res.resume();
        resolve({ status: res.statusCode ?? 0, heldMs: Date.now() - connectedAt });
      });
      req.once('socket', (s) => s.once('connect', () => (connectedAt = Date.now())));
      req.once('error', () => resolve(undefined));
    });
    if (result) return result;
    if (Date.now() > deadline) throw new Error('the control port never answered');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('a tenant container starts its app first', () => {
  it('runs Node.js 24', async () => {
    const info = await startTenant('node-version', ['node', '-p', "'node ' + process.versions.node"]);
    assert.equal(await exitCodeOf(info.id), 0);
    assert.match(await driver.logs(info.id, { tail: 20 }), /^node 24\.\d+\.\d+$/m);
  });

  it("spawns a tenant's own app before the runner loads its control port and services", async () => {
    const info = await startTenant('app-first', ['node', '-e', SERVER]);
    const { marks } = await runnerReady(info.id);
    assert.ok(marks.appSpawned !== undefined, `marks: ${JSON.stringify(marks)}`);
    assert.ok(marks.appSpawned < (marks.controlListening ?? Number.NaN), `the app was spawned after the control port listened: ${JSON.stringify(marks)}`);
    assert.ok(marks.appSpawned < (marks.servicesLoaded ?? Number.NaN), `the app was spawned after the services loaded: ${JSON.stringify(marks)}`);
    assert.ok((marks.appReady ?? Number.NaN) <= (marks.servicesLoaded ?? Number.NaN), `the services loaded before the app was ready: ${JSON.stringify(marks)}`);
  });

  it("starts a tenant's own app before Node.js starts the runner", async () => {
    // The runner's Node.js is held 400 ms at its start (a preload that waits, after its process start is
    // taken); the app, a shell, notes when it started, then serves. Spawned by the runner, it would start
    // after the hold; started by the image's launcher, it starts before the runner's Node.js does.
    const hold = '--import=data:text/javascript,const%20t=Date.now();while(Date.now()-t<400);';
    const info = await startTenant('before-node', ['sh', '-c', `echo "app-started $(date +%s%3N)"; exec node -e "${SERVER}"`], { NODE_OPTIONS: hold });
    const { processStart } = await runnerReady(info.id);
    const appStarted = Number(/^app-started (\d+)$/m.exec(await driver.logs(info.id, { tail: 50 }))?.[1]);
    assert.ok(Number.isFinite(appStarted), 'the app said when it started');
    assert.ok(appStarted < processStart + 200, `the app started ${appStarted - processStart} ms after the runner's Node.js process`);
  });

  it('starts the runner once the app listens, so the two do not boot side by side on the one CPU', async () => {
    // The app listens 300 ms after its start and says when, by the container's clock (the runner's too).
    const server = "setTimeout(()=>require('http').createServer((q,s)=>s.end('ok')).listen(process.env.PORT,()=>console.log('listening-at',Date.now())),300)";
    const info = await startTenant('after-listen', ['node', '-e', server]);
    const { processStart } = await runnerReady(info.id);
    const listeningAt = Number(/^listening-at (\d+)$/m.exec(await driver.logs(info.id, { tail: 50 }))?.[1]);
    assert.ok(Number.isFinite(listeningAt), 'the app said when it listened');
    // the callback that says so runs just after the socket listens, which the launcher may see first
    assert.ok(processStart > listeningAt - 20, `the runner's Node.js started ${listeningAt - processStart} ms before the app listened`);
  });

  it('starts the runner after 2 s at most when the app does not listen', async () => {
    const startedAt = Date.now();
    const info = await startTenant('never-listens', ['sleep', '30']);
    const deadline = Date.now() + 15_000;
    let line: string | undefined;
    while (!line && Date.now() < deadline) {
      line = (await driver.logs(info.id, { tail: 20 })).split('\n').find((l) => l.includes('"tenant app started before the runner"'));
      if (!line) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(line, 'the runner started');
    const loggedAt = Date.parse(String((JSON.parse(line.slice(line.indexOf('{'))) as { time?: unknown }).time));
    assert.ok(loggedAt - startedAt < 6000, `the runner started ${loggedAt - startedAt} ms after the container`);
  });

  it("loads nothing but its settings before it spawns a tenant's own app", async () => {
    // Node's module hooks print every module the runner (and the app, which inherits NODE_OPTIONS) loads, in
    // order with the runner's own log lines on stdout. No spaces: NODE_OPTIONS splits on them.
    const hook =
      "--import=data:text/javascript,import{registerHooks}from'node:module';registerHooks({load(u,c,n){process.stdout.write('load:'+u+String.fromCharCode(10));return(n(u,c))}})";
    const info = await startTenant('load-order', ['node', '-e', SERVER], { NODE_OPTIONS: hook });
    await runnerReady(info.id);
    const lines = (await driver.logs(info.id, { tail: 200 })).split('\n');
    const spawnedAt = lines.findIndex((l) => l.includes('"msg":"starting tenant app"') || l.includes('"msg":"tenant app started before the runner"'));
    assert.ok(spawnedAt > 0, 'the runner logged the spawn');
    const runnerFiles = (from: number, to: number): string[] =>
      lines
        .slice(from, to)
        .map((l) => /load:file:\/\/\/opt\/napbox\/runner\/(\S+)/.exec(l)?.[1])
        .filter((f): f is string => f !== undefined);
    const before = runnerFiles(0, spawnedAt);
    assert.deepEqual(
      before.filter((f) => !['runner.mjs', 'config.mjs', 'log.mjs', 'tenant-app.mjs', 'providers/provider-config.mjs'].includes(f)),
      [],
      `loaded before the app was spawned: ${before.join(', ')}`,
    );
    const after = runnerFiles(spawnedAt, lines.length);
    for (const later of ['control.mjs', 'services.mjs', 'node_modules/ws/index.js'])
      assert.ok(after.includes(later), `${later} loaded once the app was spawned: ${after.join(', ')}`);
  });

  it('holds GET /ready?wait= until the app listens, and answers as soon as it does', async () => {
    // The image's launcher starts the runner once the app listens, or after about 2 s: the app sleeps longer.
    const info = await startTenant('held', ['sh', '-c', `sleep 3; exec node -e "${SERVER}"`]);
    const control = endpointFor(info, CONTROL_PORT, 'bridge');
    assert.ok(control);
    const answer = await getReady(control, '/ready?wait=10000');
    assert.equal(answer.status, 200, 'one request, held, answered 200 (not 503 at once)');
    assert.ok(answer.heldMs >= 500, `held ${answer.heldMs} ms while the app slept`);
    const { marks } = await runnerReady(info.id);
    const late = (marks.readyAnswered ?? Number.NaN) - (marks.appReady ?? Number.NaN);
    assert.ok(late >= 0 && late < 50, `answered ${late} ms after the app accepted connections`);
    assert.equal((await getReady(control, '/ready')).status, 200, 'without wait: answered at once');
  });

  for (const [what, command] of [
    ['a custom app', ['node', '-e', SERVER]],
    ['the built-in page', undefined],
  ] as const) {
    it(`serves the channel as soon as ${what} is ready, before the runner loaded it`, { timeout: 20_000 }, async () => {
      const slug = command ? 'channel-app' : 'channel-page';
      const info = await startTenant(slug, command);
      const control = endpointFor(info, CONTROL_PORT, 'bridge');
      assert.ok(control);
      assert.equal((await getReady(control, '/ready?wait=10000')).status, 200);
      const client = await RunnerChannelClient.connect({ endpoint: control, key: KEY.bytes, tenant: slug });
      try {
        const outcome = await client.deliver({ id: 'm_first', session: 's1', text: 'hi' });
        assert.equal(outcome.reply, 'echo: hi');
      } finally {
        await client.close();
      }
    });
  }

  it('gives the app exactly its argv, its PORT, and none of the secrets', async () => {
    const args = ['b c', 'd"e', 'f\\g', 'hé中', '😀x', 'tab\there', '$(touch /tmp/x)', "'q'"];
    const script =
      'for a in "$@"; do printf "arg<%s>\\n" "$a"; done; echo "port<$PORT>"; env | grep -c -e ^NAPBOX_CHANNEL_KEY= -e ^NAPBOX_OPENAI_API_KEY=; exit 0';
    const info = await startTenant('argv', ['sh', '-c', script, 'sh', ...args]);
    assert.equal(await exitCodeOf(info.id), 0);
    const logs = await driver.logs(info.id, { tail: 50 });
    const seen = [...logs.matchAll(/^arg<([^>]*)>$/gmu)].map((m) => m[1]);
    assert.deepEqual(seen, args);
    assert.match(logs, /^port<8080>$/m);
    assert.match(logs, /^0$/m, 'no secret in the app environment');
  });

  it('stops at once when the signal comes while its services are still loading', async () => {
    // services.mjs is held 1 s as it loads (an off-thread module hook), and a channel upgrade waits for it. The old
    // runner waited out its 3 s exit timer; now the stop takes well under that even on a busy machine.
    const hook = `--import=data:text/javascript,import{register}from'node:module';register('data:text/javascript,export%2520async%2520function%2520load(u,c,n){if(u.endsWith(%2522services.mjs%2522))await%2520new%2520Promise((r)=>setTimeout(r,1000));return(n(u,c))}')`;
    const info = await startTenant('stop-loading', undefined, { NODE_OPTIONS: hook });
    const control = endpointFor(info, CONTROL_PORT, 'bridge');
    assert.ok(control);
    assert.equal((await getReady(control, '/ready?wait=10000')).status, 200);
    const upgrade = net.connect(control.port, control.host);
    upgrade.on('error', () => undefined);
    upgrade.write(
      'GET /channel HTTP/1.1\r\nHost: runner\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n',
    );
    await new Promise((r) => setTimeout(r, 300));
    const started = Date.now();
    await driver.stop(info.id, 10);
    const took = Date.now() - started;
    upgrade.destroy();
    assert.equal(await exitCodeOf(info.id), 0);
    assert.ok(took < 2500, `the stop took ${took} ms`);
  });

  it("exits with the app's status when the app exits, and 0 on a stop", async () => {
    const crashed = await startTenant('crash', ['sh', '-c', 'sleep 0.5; exit 7']);
    assert.equal(await exitCodeOf(crashed.id), 7);
    assert.match(await driver.logs(crashed.id, { tail: 20 }), /"msg":"tenant app exited".*"code":7/);

    const running = await startTenant('stop', ['node', '-e', SERVER]);
    await runnerReady(running.id);
    const started = Date.now();
    await driver.stop(running.id, 10);
    assert.equal(await exitCodeOf(running.id), 0);
    assert.ok(Date.now() - started < 5000, `the stop took ${Date.now() - started} ms`);
    assert.match(await driver.logs(running.id, { tail: 20 }), /"msg":"stopping"/, 'the runner was told to stop, not killed');
  });
});
