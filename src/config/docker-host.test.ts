import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isRemote, parseDockerHost, publishAddresses } from './docker-host.js';

describe('parseDockerHost', () => {
  it('uses the local socket when DOCKER_HOST is unset or empty, and a unix:// path as given', () => {
    assert.deepEqual(parseDockerHost({}), { kind: 'unix', socketPath: '/var/run/docker.sock', shown: '/var/run/docker.sock' });
    assert.deepEqual(parseDockerHost({ DOCKER_HOST: '' }), parseDockerHost({}));
    assert.deepEqual(parseDockerHost({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }), {
      kind: 'unix',
      socketPath: '/run/user/1000/docker.sock',
      shown: '/run/user/1000/docker.sock',
    });
    assert.equal(isRemote(parseDockerHost({})), false);
  });

  it('reads tcp:// as plain HTTP on 2375 unless told TLS, as Docker does', () => {
    const plain = parseDockerHost({ DOCKER_HOST: 'tcp://10.0.0.5' });
    assert.deepEqual(plain, { kind: 'tcp', host: '10.0.0.5', port: 2375, tls: undefined, shown: 'tcp://10.0.0.5' });
    assert.equal(isRemote(plain), true);
    assert.deepEqual(parseDockerHost({ DOCKER_HOST: 'http://127.0.0.1:40123' }), {
      kind: 'tcp',
      host: '127.0.0.1',
      port: 40123,
      tls: undefined,
      shown: 'tcp://127.0.0.1:40123',
    });
  });

  it('uses TLS with DOCKER_TLS_VERIFY (verifying) or DOCKER_TLS (not), certificates from DOCKER_CERT_PATH or ~/.docker, port 2376', () => {
    assert.deepEqual(parseDockerHost({ DOCKER_HOST: 'tcp://engine.example:2376', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/etc/napbox/certs' }), {
      kind: 'tcp',
      host: 'engine.example',
      port: 2376,
      tls: { verify: true, certPath: '/etc/napbox/certs' },
      shown: 'tcp+tls://engine.example:2376',
    });
    const tlsOnly = parseDockerHost({ DOCKER_HOST: 'tcp://engine.example', DOCKER_TLS: '1' }, '/home/me');
    assert.equal(tlsOnly.kind, 'tcp');
    if (tlsOnly.kind === 'tcp') {
      assert.equal(tlsOnly.port, 2376);
      assert.deepEqual(tlsOnly.tls, { verify: false, certPath: '/home/me/.docker' });
    }
    const off = parseDockerHost({ DOCKER_HOST: 'tcp://engine.example:2375', DOCKER_TLS_VERIFY: '' });
    assert.equal(off.kind === 'tcp' && off.tls, undefined);
  });

  it('reads ssh://user@host[:port]', () => {
    assert.deepEqual(parseDockerHost({ DOCKER_HOST: 'ssh://deploy@build-box' }), {
      kind: 'ssh',
      host: 'build-box',
      port: 22,
      username: 'deploy',
      shown: 'ssh://deploy@build-box',
    });
    const p = parseDockerHost({ DOCKER_HOST: 'ssh://10.1.2.3:2222' });
    assert.deepEqual(p, { kind: 'ssh', host: '10.1.2.3', port: 2222, username: undefined, shown: 'ssh://10.1.2.3:2222' });
  });

  it('refuses what it cannot honour, naming DOCKER_HOST', () => {
    for (const bad of [
      'unix://relative/sock',
      'tcp://',
      'tcp://host:2375/path',
      'ssh://u:secret@host',
      'ftp://host',
      'tcp://user@host:2375',
      'tcp://host:2375?x=1',
    ]) {
      assert.throws(() => parseDockerHost({ DOCKER_HOST: bad }), /DOCKER_HOST/, bad);
    }
  });
});

describe('publishAddresses', () => {
  it('keeps a local engine on loopback', () => {
    assert.deepEqual(publishAddresses(parseDockerHost({}), undefined), { bindIp: '127.0.0.1', dialHost: '127.0.0.1' });
  });

  it("publishes on a remote engine's own IP address from DOCKER_HOST, and dials it there", () => {
    assert.deepEqual(publishAddresses(parseDockerHost({ DOCKER_HOST: 'tcp://10.0.0.5:2376' }), undefined), { bindIp: '10.0.0.5', dialHost: '10.0.0.5' });
    assert.deepEqual(publishAddresses(parseDockerHost({ DOCKER_HOST: 'tcp://127.0.0.1:40123' }), undefined), { bindIp: '127.0.0.1', dialHost: '127.0.0.1' });
  });

  it('publishes on every interface of an engine named by host name, dialling that name', () => {
    assert.deepEqual(publishAddresses(parseDockerHost({ DOCKER_HOST: 'ssh://me@build-box' }), undefined), { bindIp: '0.0.0.0', dialHost: 'build-box' });
  });

  it('honours a chosen address, and refuses one that is not an IP address', () => {
    const remote = parseDockerHost({ DOCKER_HOST: 'tcp://engine.example:2376' });
    assert.deepEqual(publishAddresses(remote, '192.168.7.2'), { bindIp: '192.168.7.2', dialHost: '192.168.7.2' });
    assert.deepEqual(publishAddresses(remote, '0.0.0.0'), { bindIp: '0.0.0.0', dialHost: 'engine.example' });
    assert.throws(() => publishAddresses(remote, 'engine.example'), /NAPBOX_PUBLISH_ADDRESS/);
  });
});
