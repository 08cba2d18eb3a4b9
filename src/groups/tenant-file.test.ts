import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseTenantFile } from './tenant-file.js';

function problem(text: string, folder = 'acme'): string {
  const result = parseTenantFile(text, folder);
  assert.equal(result.ok, false, `expected ${text} to be refused`);
  return result.ok ? '' : result.problem;
}

describe('parseTenantFile', () => {
  it('accepts {} with visibility defaulting to public', () => {
    assert.deepEqual(parseTenantFile('{}', 'acme'), { ok: true, slug: 'acme', config: { visibility: 'public' } });
  });

  it('accepts a full file', () => {
    const text = JSON.stringify({
      visibility: 'private',
      provider: { kind: 'openai', baseUrl: 'https://api.example.com/v1', model: 'm', apiKeyEnv: 'NAPBOX_SECRET_ACME_OPENAI_KEY' },
      app: { command: ['node', 'server.js'] },
      limits: { memoryMiB: 1024, cpus: 0.5, pids: 128 },
      readOnlyRootfs: true,
      instructions: 'Be brief.',
      mounts: [{ hostPath: '/srv/shared/docs', containerPath: 'docs', readWrite: false }],
      env: { NODE_ENV: 'production' },
      port: 3000,
      wakeTimeout: '2m',
      readinessPath: '/healthz',
      startingPage: false,
    });
    const result = parseTenantFile(`\uFEFF${text}`, 'acme');
    assert.equal(result.ok, true, result.ok ? '' : result.problem);
  });

  it('refuses an unknown key, naming it and the file', () => {
    assert.equal(problem('{"visiblity":"private"}'), 'groups/acme/tenant.json: unknown key "visiblity": remove it or correct the spelling');
    assert.match(problem('{"limits":{"memory":512}}'), /^groups\/acme\/tenant\.json: unknown key "memory" in "limits"/);
  });

  it('refuses an API key in the file: secrets never live in groups/', () => {
    const withKey = { kind: 'openai', baseUrl: 'https://api.example.com/v1', model: 'm', apiKey: 'sk-secret', apiKeyEnv: 'NAPBOX_SECRET_K' };
    const text = problem(JSON.stringify({ provider: withKey }));
    assert.match(text, /unknown key "apiKey" in "provider"/);
    assert.doesNotMatch(text, /sk-secret/);
    assert.match(
      problem(JSON.stringify({ provider: { ...withKey, apiKey: undefined, apiKeyEnv: 'sk-secret' } })),
      /"provider\.apiKeyEnv": must name an environment variable of napbox that starts with NAPBOX_SECRET_/,
    );
  });

  it('names the field of an out-of-range value', () => {
    assert.match(problem('{"limits":{"memoryMiB":100000}}'), /^groups\/acme\/tenant\.json: "limits\.memoryMiB": .*65536/);
    assert.match(problem('{"limits":{"cpus":100}}'), /"limits\.cpus"/);
    assert.match(problem('{"limits":{"pids":8}}'), /"limits\.pids"/);
    assert.match(problem('{"visibility":"secret"}'), /"visibility"/);
    assert.match(problem('{"readOnlyRootfs":"yes"}'), /"readOnlyRootfs": Invalid input: expected boolean, received string/);
    assert.match(problem('{"mounts":[{"hostPath":"/x"}]}'), /"mounts\.0\.containerPath" is required/);
    assert.match(
      problem('{"mounts":[{"hostPath":"/x","containerPath":"../etc"}]}'),
      /"mounts\.0\.containerPath": the container path "\.\.\/etc" has a "\.\." segment/,
    );
    assert.match(problem('{"mounts":[{"hostPath":"/x","containerPath":"a:b"}]}'), /"mounts\.0\.containerPath": .* contains ":"/);
  });

  it('names the field of a bad app setting (env, port, wakeTimeout, readinessPath, startingPage)', () => {
    assert.match(problem('{"env":{"NAPBOX_SECRET_KEY":"x"}}'), /^groups\/acme\/tenant\.json: "env\.NAPBOX_SECRET_KEY": .*set by napbox/);
    assert.match(problem('{"env":{"a b":"x"}}'), /"env\.a b": .*not a valid variable name/);
    assert.match(problem('{"port":8081}'), /"port": 8081 is the runner's own control port/);
    assert.match(problem('{"port":80}'), /"port"/);
    assert.match(problem('{"wakeTimeout":"1h"}'), /"wakeTimeout": must be a duration from 1s to 30m/);
    assert.match(problem('{"readinessPath":"health"}'), /"readinessPath": must be a path/);
    assert.match(problem('{"startingPage":1}'), /"startingPage"/);
  });

  it('refuses instructions over 64 KiB of UTF-8', () => {
    assert.equal(parseTenantFile(JSON.stringify({ instructions: 'a'.repeat(65536) }), 'acme').ok, true);
    assert.match(problem(JSON.stringify({ instructions: 'é'.repeat(32769) })), /"instructions": must be at most 65536 bytes/);
  });

  it('refuses broken JSON and non-objects', () => {
    assert.match(problem('{"visibility":'), /^groups\/acme\/tenant\.json: not valid JSON/);
    assert.match(problem('[]'), /^groups\/acme\/tenant\.json: "\(top level\)"/);
  });

  it('lets apiKeyEnv name only the variables set aside for tenants (NAPBOX_SECRET_*)', () => {
    for (const name of ['ANY_VARIABLE', 'HOME', 'NAPBOX_ADMIN_TOKEN', 'NAPBOX_SECRET_', 'napbox_secret_x']) {
      const text = JSON.stringify({ provider: { kind: 'openai', baseUrl: 'https://api.example.com/v1', model: 'm', apiKeyEnv: name } });
      assert.match(problem(text), /"provider\.apiKeyEnv": must name an environment variable of napbox that starts with NAPBOX_SECRET_/, name);
    }
  });

  it('refuses a folder name that is not a valid slug', () => {
    for (const folder of ['Acme', 'my_tenant', 'a--b', 'global', '-x', 'a'.repeat(41)]) {
      assert.match(problem('{}', folder), /the folder name .* is not a valid tenant slug: rename the folder/, folder);
    }
  });
});
