import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { APT_SCRIPT, NPM_SCRIPT, STRIP_SETID_SCRIPT, prepareTenantBuildContext, tenantDockerfile, tenantImageLabels, tenantImageTag } from './tenant-image.js';

const BASE_ID = `sha256:${'a'.repeat(64)}`;
const lists = { apt: ['jq', 'curl'], npm: ['is-number', '@types/node@^20'] };

/** The argv of each exec-form RUN line; fails on any shell-form RUN. */
function runArgvs(dockerfile: string): string[][] {
  return dockerfile
    .split('\n')
    .filter((l) => l.startsWith('RUN '))
    .map((l) => {
      const argv: unknown = JSON.parse(l.slice(4));
      assert.ok(Array.isArray(argv) && argv.every((a) => typeof a === 'string'), `exec form: ${l}`);
      return argv as string[];
    });
}

describe('tenant image tag', () => {
  it('is napbox-tenant:<16 hex>, stable, and blind to the order of the lists', () => {
    const tag = tenantImageTag(BASE_ID, lists, 'inst1');
    assert.match(tag, /^napbox-tenant:[0-9a-f]{16}$/);
    assert.equal(tenantImageTag(BASE_ID, { apt: ['curl', 'jq'], npm: ['@types/node@^20', 'is-number'] }, 'inst1'), tag);
  });

  it('changes with the base image, the lists, the kind of a package and the install', () => {
    const tag = tenantImageTag(BASE_ID, lists, 'inst1');
    assert.notEqual(tenantImageTag(`sha256:${'b'.repeat(64)}`, lists, 'inst1'), tag, 'a new base makes tenant images stale');
    assert.notEqual(tenantImageTag(BASE_ID, { ...lists, apt: ['jq'] }, 'inst1'), tag);
    assert.notEqual(tenantImageTag(BASE_ID, { apt: ['jq'], npm: [] }, 'inst1'), tenantImageTag(BASE_ID, { apt: [], npm: ['jq'] }, 'inst1'));
    assert.notEqual(tenantImageTag(BASE_ID, lists, 'inst2'), tag, 'installs sharing an engine never share (or prune) each other');
  });

  it('labels the image with the install, the role and the hash, never a tenant', () => {
    assert.deepEqual(tenantImageLabels('inst1', 'abc'), { 'napbox.install': 'inst1', 'napbox.role': 'tenant', 'napbox.packages-hash': 'abc' });
  });
});

describe('tenant Dockerfile', () => {
  const dockerfile = tenantDockerfile('napbox-agent:0123456789abcdef', lists);

  it('builds FROM the base, installs as root, and ends as the agent user in /workspace', () => {
    const lines = dockerfile.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.equal(lines[0], 'FROM napbox-agent:0123456789abcdef');
    assert.equal(lines[1], 'USER root');
    assert.deepEqual(lines.slice(-2), ['USER 10001:10001', 'WORKDIR /workspace']);
    assert.ok(!/ENTRYPOINT|CMD /.test(dockerfile), 'the base entrypoint is inherited');
    assert.ok(dockerfile.includes('ENV NODE_PATH=/usr/local/lib/node_modules'), 'require() finds global npm packages');
  });

  it('passes every package as its own exec-form argument to a constant script', () => {
    const [apt, npm] = runArgvs(dockerfile);
    assert.deepEqual(apt, ['/bin/sh', '-c', APT_SCRIPT, 'napbox-apt-install', 'curl', 'jq']);
    assert.deepEqual(npm, ['/bin/sh', '-c', NPM_SCRIPT, 'napbox-npm-install', '@types/node@^20', 'is-number']);
    assert.match(APT_SCRIPT, /apt-get install -y --no-install-recommends "\$@" && rm -rf \/var\/lib\/apt\/lists\/\*$/);
    assert.match(NPM_SCRIPT, /^npm install --global --prefix \/usr\/local --cache \/tmp\/napbox-npm-cache "\$@"/);
    const outside = dockerfile.split('\n').filter((l) => !l.startsWith('RUN '));
    for (const name of [...lists.apt, ...lists.npm]) assert.ok(!outside.some((l) => l.includes(name)), `${name} appears only inside a RUN array`);
  });

  it('has no apt step for an empty apt list, and no npm step for an empty npm list', () => {
    const installs = (d: string) =>
      runArgvs(d)
        .filter((a) => a[2] !== STRIP_SETID_SCRIPT)
        .map((a) => a[3]);
    assert.deepEqual(installs(tenantDockerfile('napbox-agent:x', { apt: [], npm: ['is-number'] })), ['napbox-npm-install']);
    const aptOnly = tenantDockerfile('napbox-agent:x', { apt: ['jq'], npm: [] });
    assert.deepEqual(installs(aptOnly), ['napbox-apt-install']);
    assert.ok(!aptOnly.includes('NODE_PATH'));
  });

  it('strips setuid and setgid bits from what the packages installed, as root, before it switches back', () => {
    const argvs = runArgvs(dockerfile);
    assert.deepEqual(argvs.at(-1), ['/bin/sh', '-c', STRIP_SETID_SCRIPT]);
    const lines = dockerfile.split('\n').filter((l) => l && !l.startsWith('#'));
    assert.equal(lines.at(-3), `RUN ${JSON.stringify(['/bin/sh', '-c', STRIP_SETID_SCRIPT])}`);
  });

  it('refuses a bad name itself, whoever calls it', () => {
    assert.throws(() => tenantDockerfile('napbox-agent:x', { apt: ['jq; rm -rf /'], npm: [] }), /refused/);
    assert.throws(() => tenantDockerfile('napbox-agent:x', { apt: [], npm: ['../x'] }), /refused/);
    assert.throws(() => tenantDockerfile('napbox-agent:x\nRUN id', { apt: ['jq'], npm: [] }), /not a plain image tag/);
  });

  it('prepares a context folder holding only the Dockerfile', async () => {
    const dir = await prepareTenantBuildContext('napbox-agent:x', lists);
    try {
      assert.deepEqual(fs.readdirSync(dir), ['Dockerfile']);
      assert.equal(fs.readFileSync(path.join(dir, 'Dockerfile'), 'utf8'), tenantDockerfile('napbox-agent:x', lists));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
