import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ContainerSpec } from './container-driver.js';
import { DEFAULT_LIMITS } from './container-spec.js';
import { LABEL_SWARM_IMAGE, configName, currentTask, parseTasks, publishedPorts, serviceSpec, splitFiles, taskState, tmpfsOptions } from './swarm-service.js';

const spec: ContainerSpec = {
  name: 'napbox-i1-acme',
  image: 'napbox-agent:abc',
  labels: { 'napbox.install': 'i1', 'napbox.tenant': 'acme' },
  env: { NAPBOX_TENANT: 'acme' },
  cmd: ['node', 'app.js'],
  user: '10001:10001',
  limits: DEFAULT_LIMITS,
  readOnlyRootfs: true,
  tmpfs: { '/tmp': 'rw,noexec,nosuid,size=64m', '/home/agent': 'rw,nosuid,size=16m,uid=10001,gid=10001' },
  mounts: [
    { type: 'volume', source: 'napbox-i1-acme-workspace', target: '/workspace', readOnly: false },
    { type: 'bind', source: '/srv/groups/acme', target: '/group', readOnly: false },
  ],
  network: 'napbox-i1-acme',
  ports: [8080, 8081],
  publish: true,
  stopGraceSeconds: 10,
};

function task(over: { id?: string; created?: string; state: string; desired?: string; container?: string; exit?: number; ports?: unknown[] }): unknown {
  return {
    ID: over.id ?? 't1',
    ServiceID: 's1',
    CreatedAt: over.created ?? '2026-11-24T21:00:00.000000001Z',
    DesiredState: over.desired ?? 'running',
    Status: {
      State: over.state,
      ...(over.container ? { ContainerStatus: { ContainerID: over.container, ExitCode: over.exit ?? 0 } } : {}),
      ...(over.ports ? { PortStatus: { Ports: over.ports } } : {}),
    },
  };
}

describe('swarm service spec', () => {
  it('maps a tenant spec to a hardened service at 0 replicas, run by image id on this node, never restarted by swarm', () => {
    const body = serviceSpec(spec, { imageId: 'sha256:feed', nodeId: 'node1' }) as any;
    assert.equal(body.Name, 'napbox-i1-acme');
    assert.deepEqual(body.Labels, { ...spec.labels, [LABEL_SWARM_IMAGE]: 'napbox-agent:abc' });
    assert.deepEqual(body.Mode, { Replicated: { Replicas: 0 } });
    const c = body.TaskTemplate.ContainerSpec;
    assert.equal(c.Image, 'sha256:feed');
    assert.deepEqual(c.Labels, spec.labels, 'task containers carry the labels');
    assert.deepEqual(c.Args, ['node', 'app.js']);
    assert.equal(c.User, '10001:10001');
    assert.deepEqual(c.CapabilityDrop, ['ALL']);
    assert.equal(c.ReadOnly, true);
    assert.equal(c.Init, true);
    assert.equal(c.StopGracePeriod, 10e9);
    assert.deepEqual(body.TaskTemplate.Resources.Limits, {
      MemoryBytes: DEFAULT_LIMITS.memoryBytes,
      NanoCPUs: DEFAULT_LIMITS.nanoCpus,
      Pids: DEFAULT_LIMITS.pids,
    });
    assert.equal(body.TaskTemplate.RestartPolicy.Condition, 'none');
    assert.deepEqual(body.TaskTemplate.Placement.Constraints, ['node.id==node1']);
    assert.deepEqual(body.TaskTemplate.Networks, [{ Target: 'napbox-i1-acme' }]);
    assert.deepEqual(
      c.Mounts.map((m: any) => [m.Type, m.Target, m.ReadOnly ?? false]),
      [
        ['volume', '/workspace', false],
        ['bind', '/group', false],
        ['tmpfs', '/tmp', false],
        ['tmpfs', '/home/agent', false],
      ],
    );
    assert.deepEqual(c.Mounts[0].VolumeOptions.Labels, spec.labels);
    assert.deepEqual(body.EndpointSpec, {
      Mode: 'dnsrr',
      Ports: [
        { Protocol: 'tcp', TargetPort: 8080, PublishMode: 'host' },
        { Protocol: 'tcp', TargetPort: 8081, PublishMode: 'host' },
      ],
    });
    assert.deepEqual((serviceSpec({ ...spec, publish: false }, { imageId: 'x', nodeId: 'n' }) as any).EndpointSpec.Ports, []);
  });

  it('reads tmpfs options as size and mode; an owner becomes mode 1777', () => {
    assert.deepEqual(tmpfsOptions('rw,noexec,nosuid,size=64m'), { SizeBytes: 64 * 1024 * 1024 });
    assert.deepEqual(tmpfsOptions('rw,size=16m,uid=10001,gid=10001'), { SizeBytes: 16 * 1024 * 1024, Mode: 0o1777 });
    assert.deepEqual(tmpfsOptions('mode=0700,size=1g'), { Mode: 0o700, SizeBytes: 1024 ** 3 });
    assert.throws(() => tmpfsOptions('size=lots'));
  });

  it('puts files in volumes into the volume, and the others into configs named by their content', () => {
    const withFiles: ContainerSpec = {
      ...spec,
      files: [
        { path: '/workspace/seed.txt', content: 'a' },
        { path: '/etc/own.txt', content: 'b' },
        { path: '/group/x', content: 'c' },
      ],
    };
    const { inVolumes, asConfigs } = splitFiles(withFiles);
    assert.deepEqual(
      inVolumes.map((f) => f.path),
      ['/workspace/seed.txt'],
    );
    assert.deepEqual(
      asConfigs.map((f) => f.path),
      ['/etc/own.txt', '/group/x'],
      'a bind mount is no volume',
    );
    const name = configName(spec.name, { path: '/etc/own.txt', content: 'b' });
    assert.match(name, /^napbox-i1-acme-[0-9a-f]{16}$/);
    assert.equal(configName(spec.name, { path: '/etc/own.txt', content: Buffer.from('b') }), name, 'the same bytes are the same config');
    assert.notEqual(configName(spec.name, { path: '/etc/own.txt', content: 'b', mode: 0o400 }), name);
    const configs = [{ path: '/etc/own.txt', configId: 'c1', configName: name, mode: 0o444 }];
    assert.deepEqual((serviceSpec(withFiles, { imageId: 'x', nodeId: 'n', configs }) as any).TaskTemplate.ContainerSpec.Configs, [
      { File: { Name: '/etc/own.txt', UID: '0', GID: '0', Mode: 0o444 }, ConfigID: 'c1', ConfigName: name },
    ]);
  });
});

describe('swarm task state', () => {
  it('reads no task as created, a task on its way up as restarting, a running one as running', () => {
    assert.deepEqual(taskState(undefined), { status: 'created', running: false, exitCode: null, containerId: null });
    assert.equal(taskState(parseTasks([task({ state: 'preparing' })])[0]).status, 'restarting');
    const running = taskState(parseTasks([task({ state: 'running', container: 'c1' })])[0]);
    assert.deepEqual(running, { status: 'running', running: true, exitCode: null, containerId: 'c1' });
  });

  it('reads an ended task as exited with its exit code, and one being stopped as not running', () => {
    assert.deepEqual(taskState(parseTasks([task({ state: 'failed', container: 'c1', exit: 3 })])[0]), {
      status: 'exited',
      running: false,
      exitCode: 3,
      containerId: 'c1',
    });
    assert.equal(taskState(parseTasks([task({ state: 'rejected' })])[0]).exitCode, null, 'a task that never ran has no exit code');
    assert.equal(taskState(parseTasks([task({ state: 'running', desired: 'remove', container: 'c1' })])[0]).running, false);
  });

  it('takes the task that runs and is meant to, else the newest', () => {
    const tasks = parseTasks([
      task({ id: 'old', created: '2026-11-24T21:00:00Z', state: 'shutdown', desired: 'shutdown' }),
      task({ id: 'stopping', created: '2026-11-24T21:00:01Z', state: 'running', desired: 'remove' }),
      task({ id: 'new', created: '2026-11-24T21:00:02Z', state: 'pending' }),
    ]);
    assert.equal(currentTask(tasks)?.ID, 'new');
    assert.equal(currentTask([...tasks, ...parseTasks([task({ id: 'live', created: '2026-11-24T20:00:00Z', state: 'running' })])])?.ID, 'live');
    assert.deepEqual(parseTasks([{ ID: 'broken' }, 'x']), [], 'entries that do not fit are dropped');
  });

  it('reads host-mode published ports', () => {
    const [t] = parseTasks([
      task({
        state: 'running',
        ports: [
          { Protocol: 'tcp', TargetPort: 8080, PublishedPort: 32769, PublishMode: 'host' },
          { Protocol: 'tcp', TargetPort: 8081, PublishedPort: 32768, PublishMode: 'host' },
          { Protocol: 'tcp', TargetPort: 9000, PublishedPort: 30000, PublishMode: 'ingress' },
        ],
      }),
    ]);
    assert.deepEqual(publishedPorts(t), { 8080: 32769, 8081: 32768 });
  });
});
