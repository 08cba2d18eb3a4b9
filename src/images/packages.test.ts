import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { NapboxError } from '../errors.js';
import { MAX_PACKAGES, addPackages, normalize, parsePackageLists, removePackages } from './packages.js';

function refusal(input: unknown): NapboxError {
  try {
    parsePackageLists(input);
  } catch (err) {
    assert.ok(err instanceof NapboxError, `a NapboxError, not ${String(err)}`);
    assert.equal(err.code, 'bad_request');
    return err;
  }
  assert.fail(`${JSON.stringify(input)} was accepted`);
}

describe('package lists', () => {
  it('accepts Debian names, with versions in the strict grammar', () => {
    const apt = ['jq', 'libstdc++6', 'python3.11', 'g++', 'yq=4.30.8-1', 'tzdata=2024a-0+deb12u1', 'foo=1:2.3~rc1-1', 'ca-certificates'];
    assert.deepEqual(parsePackageLists({ apt, npm: [] }).apt, [...apt].sort());
  });

  it('accepts npm names, scopes and conservative ranges', () => {
    const npm = [
      'is-number',
      '@types/node',
      'lodash@^4.17.21',
      'is-odd@3',
      '@scope/pkg@>=1.2.0',
      'x@latest',
      'a@7||8',
      'left-pad@1.x',
      'lodash.get',
      'under_score',
      'pre@1.0.0-RC.1',
    ];
    assert.deepEqual(parsePackageLists({ npm }).npm, [...npm].sort());
  });

  const badApt = [
    'jq; rm -rf /',
    '../x',
    '',
    ' jq',
    'jq ',
    'JQ',
    '-jq',
    '--allow-unauthenticated',
    'a',
    'jq=',
    'jq=$(id)',
    'jq=`id`',
    'jq=1.0-',
    'libc6-',
    'a..b',
    'jq=v1',
    'jq=1 2',
    'jq/bookworm',
    'jq:amd64',
    'jq*',
    "jq'",
    'jq"',
    'jq\nfoo',
    'jq&&id',
    'jq|id',
    '$HOME',
    'x'.repeat(101),
  ];
  for (const entry of badApt) {
    it(`refuses the apt entry ${JSON.stringify(entry.slice(0, 30))}, naming it`, () => {
      const err = refusal({ apt: ['curl', entry], npm: ['is-number'] });
      assert.ok(err.message.includes(JSON.stringify(entry.slice(0, 80)).slice(0, 40)), err.message);
      assert.match(err.message, /^apt package /);
    });
  }

  const badNpm = [
    '../x',
    '',
    'foo bar',
    'Foo',
    '.hidden',
    '_private',
    '-g',
    '--prefix=/',
    '@scope',
    '@scope/',
    '@/x',
    '@a/b/c',
    'a/b',
    'user/repo',
    'github:user/repo',
    'http://evil.example/x.tgz',
    'x.tgz',
    'x.tar.gz',
    'x@1 <2',
    'x@$(id)',
    'x@`id`',
    'x@;ls',
    'x@"1"',
    "x@'1'",
    'x@1..2',
    'foo..bar',
    'x@',
    'x@file:../y',
    'x@npm:y',
    'node_modules',
    'a;b',
    'x'.repeat(215),
  ];
  for (const entry of badNpm) {
    it(`refuses the npm entry ${JSON.stringify(entry.slice(0, 30))}, naming it`, () => {
      const err = refusal({ apt: ['jq'], npm: ['is-number', entry] });
      assert.ok(err.message.includes(JSON.stringify(entry.slice(0, 80)).slice(0, 40)), err.message);
      assert.match(err.message, /^npm package /);
    });
  }

  it('refuses a package named twice, with or without a version', () => {
    assert.match(refusal({ apt: ['jq', 'jq'] }).message, /"jq" names the same package/);
    assert.match(refusal({ apt: ['jq', 'jq=1.6-2.1'] }).message, /"jq=1.6-2.1" is refused: "jq" names the same package/);
    assert.match(refusal({ npm: ['@a/b', '@a/b@2'] }).message, /"@a\/b@2"/);
  });

  it(`refuses more than ${MAX_PACKAGES} of a kind, and takes exactly ${MAX_PACKAGES}`, () => {
    const names = (n: number) => Array.from({ length: n }, (_, i) => `pkg${i}`);
    assert.equal(parsePackageLists({ apt: names(MAX_PACKAGES), npm: names(MAX_PACKAGES) }).apt.length, MAX_PACKAGES);
    assert.match(refusal({ apt: names(MAX_PACKAGES + 1) }).message, /more than 50/);
    assert.match(refusal({ npm: names(MAX_PACKAGES + 1) }).message, /more than 50/);
  });

  it('refuses the wrong shapes: unknown keys, strings for lists, non-string entries', () => {
    refusal({ pip: ['requests'] });
    refusal({ apt: 'jq' });
    assert.match(refusal({ apt: [1] }).message, /must be a string/);
    refusal(null);
    refusal(['jq']);
  });

  it('takes a missing list as empty, and normalizes: sorted, exact duplicates gone', () => {
    assert.deepEqual(parsePackageLists({}), { apt: [], npm: [] });
    assert.deepEqual(parsePackageLists({ npm: ['b', 'a'] }), { apt: [], npm: ['a', 'b'] });
    assert.deepEqual(normalize({ apt: ['z', 'a', 'z'], npm: [] }), { apt: ['a', 'z'], npm: [] });
  });

  it('adds (replacing the same package) and removes by name, checking the result whole', () => {
    const start = parsePackageLists({ apt: ['jq', 'curl'], npm: ['is-number'] });
    assert.deepEqual(addPackages(start, { apt: ['jq=1.6-2.1'], npm: ['left-pad'] }), { apt: ['curl', 'jq=1.6-2.1'], npm: ['is-number', 'left-pad'] });
    assert.deepEqual(removePackages(start, { apt: ['jq=9'], npm: ['is-number'] }), { apt: ['curl'], npm: [] });
    assert.throws(() => addPackages(start, { apt: ['jq; rm -rf /'] }), /"jq; rm -rf \/"/);
  });
});
