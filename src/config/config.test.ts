import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from './config.js';
import { formatDuration, parseDuration } from './duration.js';

describe('config', () => {
  it('has the documented defaults', () => {
    const c = loadConfig({}, '/srv/napbox');
    assert.equal(c.port, 8080);
    assert.equal(c.listen, '127.0.0.1');
    assert.equal(c.dataDir, '/srv/napbox/data');
    assert.equal(c.baseDomain, 'localhost');
    assert.equal(c.idleTimeoutMs, 600_000);
    assert.equal(c.sweepIntervalMs, 15_000);
    assert.equal(c.wakeTimeoutMs, 60_000);
    assert.deepEqual([c.breakerFailures, c.breakerWindowMs, c.startingPageAfterMs], [3, 600_000, 1000]);
    assert.equal(loadConfig({ NAPBOX_STARTING_PAGE_AFTER: '0' }).startingPageAfterMs, 0);
    assert.equal(c.dockerHost, undefined);
    assert.equal(c.driver, 'docker');
    assert.equal(loadConfig({ NAPBOX_DRIVER: 'swarm' }).driver, 'swarm');
    assert.ok(Object.isFrozen(c));
  });

  it('stops with a message naming the variable for invalid values', () => {
    const cases: Record<string, string> = {
      NAPBOX_PORT: 'eighty',
      NAPBOX_IDLE_TIMEOUT: '10 minutes',
      NAPBOX_SWEEP_INTERVAL: '-1s',
      NAPBOX_WAKE_TIMEOUT: '',
      NAPBOX_BASE_DOMAIN: 'bad domain',
      DOCKER_HOST: 'localhost:2375',
      NAPBOX_UPSTREAM: 'sideways',
      NAPBOX_DRIVER: 'kubernetes',
      NAPBOX_BREAKER_FAILURES: '0',
      NAPBOX_BREAKER_WINDOW: 'soon',
      NAPBOX_STARTING_PAGE_AFTER: '-1',
    };
    for (const [variable, value] of Object.entries(cases)) {
      assert.throws(
        () => loadConfig({ [variable]: value }),
        (err: Error) => err.message.includes(variable),
        variable,
      );
    }
  });

  it('copies instead of bind-mounting for a remote engine, unless told otherwise', () => {
    assert.equal(loadConfig({}).mounts, 'bind');
    assert.equal(loadConfig({ DOCKER_HOST: 'unix:///var/run/docker.sock' }).mounts, 'bind');
    assert.equal(loadConfig({ DOCKER_HOST: 'tcp://10.0.0.5:2376' }).mounts, 'copy');
    assert.equal(loadConfig({ DOCKER_HOST: 'ssh://me@box' }).mounts, 'copy');
    assert.equal(loadConfig({ DOCKER_HOST: 'tcp://10.0.0.5:2376', NAPBOX_MOUNTS: 'bind' }).mounts, 'bind');
    assert.equal(loadConfig({ NAPBOX_MOUNTS: 'copy' }).mounts, 'copy');
    assert.equal(loadConfig({ NAPBOX_PUBLISH_ADDRESS: '192.168.1.4' }).publishAddress, '192.168.1.4');
    for (const [variable, value] of [
      ['NAPBOX_MOUNTS', 'nfs'],
      ['NAPBOX_PUBLISH_ADDRESS', 'engine.example'],
      ['DOCKER_HOST', 'tcp://host:2375/path'],
    ]) {
      assert.throws(
        () => loadConfig({ [variable!]: value }),
        (err: Error) => err.message.includes(variable!),
        variable,
      );
    }
  });

  it('reads the paused tier: after how long, and its caps by count and by memory; 0 turns it off', () => {
    const defaults = loadConfig({});
    assert.deepEqual([defaults.pauseAfterMs, defaults.pausedMax, defaults.pausedMemoryBytes], [30_000, 50, 4 * 1024 ** 3]);
    const c = loadConfig({ NAPBOX_PAUSE_AFTER: '0', NAPBOX_PAUSED_MAX: '3', NAPBOX_PAUSED_MEMORY: '512m' });
    assert.deepEqual([c.pauseAfterMs, c.pausedMax, c.pausedMemoryBytes], [0, 3, 512 * 1024 ** 2]);
    assert.equal(loadConfig({ NAPBOX_PAUSED_MEMORY: '1048576' }).pausedMemoryBytes, 1024 ** 2);
    for (const [variable, value] of [
      ['NAPBOX_PAUSE_AFTER', 'soon'],
      ['NAPBOX_PAUSED_MAX', '0'],
      ['NAPBOX_PAUSED_MEMORY', '4 GB'],
      ['NAPBOX_PAUSED_MEMORY', '0'],
    ]) {
      assert.throws(
        () => loadConfig({ [variable!]: value }),
        (err: Error) => err.message.includes(variable!),
        `${variable}=${value}`,
      );
    }
  });

  it('reads durations in ms, s, m and h', () => {
    const c = loadConfig({ NAPBOX_IDLE_TIMEOUT: '1500', NAPBOX_SWEEP_INTERVAL: '250ms', NAPBOX_WAKE_TIMEOUT: '2m' });
    assert.deepEqual([c.idleTimeoutMs, c.sweepIntervalMs, c.wakeTimeoutMs], [1500, 250, 120_000]);
    assert.equal(parseDuration('1h'), 3_600_000);
    assert.equal(parseDuration('1.5s'), 1500);
    assert.equal(parseDuration('5 s'), undefined);
    assert.equal(formatDuration(600_000), '10m');
    assert.equal(formatDuration(90_000), '90s');
  });

  it('reads the connection limits, the head deadline and the trusted proxies', () => {
    const defaults = loadConfig({});
    assert.deepEqual(
      [defaults.maxConnections, defaults.maxConnectionsPerClient, defaults.headTimeoutMs, defaults.trustedProxies],
      [undefined, 1000, 10_000, []],
    );
    const c = loadConfig({
      NAPBOX_MAX_CONNECTIONS: '50',
      NAPBOX_MAX_CONNECTIONS_PER_CLIENT: '5',
      NAPBOX_HEAD_TIMEOUT: '500ms',
      NAPBOX_TRUSTED_PROXIES: '10.0.0.1, 172.16.0.0/12',
    });
    assert.deepEqual([c.maxConnections, c.maxConnectionsPerClient, c.headTimeoutMs, c.trustedProxies], [50, 5, 500, ['10.0.0.1', '172.16.0.0/12']]);
    for (const [variable, value] of [
      ['NAPBOX_MAX_CONNECTIONS', '0'],
      ['NAPBOX_MAX_CONNECTIONS_PER_CLIENT', 'many'],
      ['NAPBOX_HEAD_TIMEOUT', '10'],
      ['NAPBOX_TRUSTED_PROXIES', '10.0.0.0/40'],
    ]) {
      assert.throws(
        () => loadConfig({ [variable!]: value }),
        (err: Error) => err.message.includes(variable!),
        variable,
      );
    }
  });
});
