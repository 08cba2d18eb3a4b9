import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { MountDecision, MountRequest } from './allowlist.js';
import { hostPathProblem, planMounts, type MountPlanInputs } from './mount-plan.js';

const base: MountPlanInputs = { dataDir: '/srv/napbox/data', groupsDir: '/srv/napbox/groups', slug: 'acme', extras: [] };

function allowed(request: MountRequest, source: string, readOnly = true, warning?: string): { request: MountRequest; decision: MountDecision } {
  return {
    request,
    decision: { allowed: true, mount: { type: 'bind', source, target: `/extra/${request.containerPath}`, readOnly }, ...(warning ? { warning } : {}) },
  };
}

describe('planMounts', () => {
  it('mounts the group files rw, materialized files and global ro, in that order (the workspace is a volume, not a plan entry)', () => {
    const plan = planMounts(base);
    assert.deepEqual(plan.mounts, [
      { type: 'bind', source: '/srv/napbox/groups/acme/files', target: '/group', readOnly: false },
      { type: 'bind', source: '/srv/napbox/data/tenants/acme/materialized', target: '/group/.napbox', readOnly: true },
      { type: 'bind', source: '/srv/napbox/groups/global', target: '/global', readOnly: true },
    ]);
    assert.deepEqual(plan.refused, []);
  });

  it("never mounts the tenant's settings folder or its tenant.json: only groups/<slug>/files is the tenant's", () => {
    const plan = planMounts(base);
    assert.equal(
      plan.mounts.some((m) => m.source === '/srv/napbox/groups/acme' || m.source.endsWith('tenant.json')),
      false,
    );
    assert.match(hostPathProblem('/srv/napbox/groups/acme', base) ?? '', /settings folder/);
    assert.match(hostPathProblem('/srv/napbox/groups/acme/tenant.json', base) ?? '', /settings folder/);
    assert.equal(hostPathProblem('/srv/napbox/groups/acme/files', base), undefined);
  });

  it('nests the read-only mounts after the read-write group folder they sit in', () => {
    const targets = planMounts(base).mounts.map((m) => m.target);
    assert.ok(targets.indexOf('/group') < targets.indexOf('/group/.napbox'));
  });

  it('adds allowed extra mounts after the fixed ones, keeping their mode and warnings', () => {
    const plan = planMounts({
      ...base,
      extras: [
        allowed({ hostPath: '/srv/shared/docs', containerPath: 'docs' }, '/srv/shared/docs'),
        allowed({ hostPath: '/srv/out', containerPath: 'out', readWrite: true }, '/srv/out', false),
        allowed({ hostPath: '/srv/ro', containerPath: 'ro', readWrite: true }, '/srv/ro', true, '/srv/ro is mounted read-only: ...'),
      ],
    });
    assert.deepEqual(plan.mounts.slice(3), [
      { type: 'bind', source: '/srv/shared/docs', target: '/extra/docs', readOnly: true },
      { type: 'bind', source: '/srv/out', target: '/extra/out', readOnly: false },
      { type: 'bind', source: '/srv/ro', target: '/extra/ro', readOnly: true },
    ]);
    assert.deepEqual(plan.warnings, ['/srv/ro is mounted read-only: ...']);
  });

  it('passes refused decisions through with their reason', () => {
    const request = { hostPath: '/home/me/.ssh', containerPath: 'keys' };
    const plan = planMounts({ ...base, extras: [{ request, decision: { allowed: false, reason: 'credential path' } }] });
    assert.equal(plan.mounts.length, 3);
    assert.deepEqual(plan.refused, [{ request, reason: 'credential path' }]);
  });

  it('refuses an extra mount inside the data dir outside this tenant, above it, or of another tenant', () => {
    const cases: [string, RegExp][] = [
      ['/srv/napbox/data', /holds napbox's data dir/],
      ['/srv/napbox', /holds napbox's data dir/],
      ['/', /holds napbox's data dir/],
      ['/srv/napbox/data/napbox.db', /inside napbox's data dir .* but outside this tenant's/],
      ['/srv/napbox/data/tenants/other/workspace', /outside this tenant's/],
      ['/srv/napbox/data/tenants/acme-2', /outside this tenant's/],
      ['/srv/napbox/groups/other', /another tenant's group folder/],
      ['/srv/napbox/groups/acme/sub', /this tenant's settings folder/],
      ['/srv/napbox/groups/acme/files/sub', /one of napbox's own folders/],
    ];
    for (const [source, reason] of cases) {
      const plan = planMounts({ ...base, extras: [allowed({ hostPath: source, containerPath: 'x' }, source)] });
      assert.equal(plan.mounts.length, 3, source);
      assert.match(plan.refused[0]?.reason ?? '', reason, source);
    }
  });

  it('refuses a second extra mount at the same container path', () => {
    const plan = planMounts({
      ...base,
      extras: [allowed({ hostPath: '/srv/a', containerPath: 'x' }, '/srv/a'), allowed({ hostPath: '/srv/b', containerPath: 'x' }, '/srv/b')],
    });
    assert.equal(plan.mounts.length, 4);
    assert.match(plan.refused[0]?.reason ?? '', /already mounted/);
  });

  it('refuses a groups dir inside the data dir (or the reverse) as a configuration error', () => {
    assert.throws(() => planMounts({ ...base, groupsDir: '/srv/napbox/data/groups' }), { code: 'config_invalid', message: /must not be inside one another/ });
    assert.throws(() => planMounts({ ...base, dataDir: '/srv/napbox/groups/data' }), { code: 'config_invalid' });
  });

  it('refuses an invalid slug rather than joining it into a path', () => {
    assert.throws(() => planMounts({ ...base, slug: '../other' }), /invalid tenant slug/);
  });
});

describe('hostPathProblem', () => {
  it("lets only this tenant's folders of the data dir through", () => {
    assert.equal(hostPathProblem('/srv/napbox/data/tenants/acme/workspace', base), undefined);
    assert.match(hostPathProblem('/srv/napbox/data/tenants', base) ?? '', /outside this tenant's/);
    assert.equal(hostPathProblem('/srv/napbox/groups/global', base), undefined);
  });
});

describe('planMounts in copy mode (a remote engine)', () => {
  const copy: MountPlanInputs = { ...base, mode: 'copy', installId: 'i1' };

  it('mounts no host path: labelled volumes for every layer, the read-only ones fresh, in nesting order', () => {
    const plan = planMounts(copy);
    assert.deepEqual(plan.mounts, [
      { type: 'volume', source: 'napbox-i1-acme-group', target: '/group', readOnly: false },
      { type: 'volume', source: 'napbox-i1-acme-napbox', target: '/group/.napbox', readOnly: false, fresh: true },
      { type: 'volume', source: 'napbox-i1-acme-global', target: '/global', readOnly: false, fresh: true },
    ]);
    assert.ok(plan.mounts.every((m) => m.type === 'volume'));
  });

  it('copies the materialized files and groups/global, and nothing else of the host (not tenant.json)', () => {
    assert.deepEqual(planMounts(copy).copies, [
      { source: '/srv/napbox/data/tenants/acme/materialized', target: '/group/.napbox', folder: true },
      { source: '/srv/napbox/groups/global', target: '/global', folder: true },
    ]);
    assert.deepEqual(planMounts(base).copies, [], 'bind mode copies nothing');
  });

  it('refuses every extra mount of a host folder, saying why and what to do instead', () => {
    const request = { hostPath: '/srv/shared/docs', containerPath: 'docs' };
    const plan = planMounts({ ...copy, extras: [allowed(request, '/srv/shared/docs')] });
    assert.equal(plan.mounts.length, 3);
    assert.equal(plan.refused.length, 1);
    assert.match(plan.refused[0]!.reason, /remote .*NAPBOX_MOUNTS=copy.*group folder/);
  });

  it('needs the install id to name its volumes', () => {
    assert.throws(() => planMounts({ ...base, mode: 'copy' }), /install id/);
  });
});
