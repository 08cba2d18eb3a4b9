import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TenantConfigSchema, wakeTimeoutOf } from './tenant-config.js';

/** The first problem of `config`, as the API's 400 names it: "<field>: <message>". */
function problem(config: unknown): string {
  const parsed = TenantConfigSchema.safeParse(config);
  assert.equal(parsed.success, false, `expected ${JSON.stringify(config)} to be refused`);
  const issue = parsed.error!.issues[0]!;
  return `${issue.path.map(String).join('.')}: ${issue.message}`;
}

describe('tenant app settings', () => {
  it('accepts env, port, wakeTimeout, readinessPath and startingPage', () => {
    const config = {
      env: { NODE_ENV: 'production', greeting: 'hé "quoted" $x\nline', _X1: '' },
      port: 3000,
      wakeTimeout: '90s',
      readinessPath: '/healthz?deep=1',
      startingPage: false,
    };
    assert.deepEqual(TenantConfigSchema.parse(config), config);
  });

  it('refuses bad variable names, names napbox or its runner set, and bad values, naming the field', () => {
    assert.match(problem({ env: { '1X': 'a' } }), /^env\.1X: .*not a valid variable name/);
    assert.match(problem({ env: { 'A-B': 'a' } }), /^env\.A-B: /);
    assert.match(problem({ env: { 'A=B': 'a' } }), /^env\.A=B: /);
    for (const name of [
      'PORT',
      'port',
      'NAPBOX_CHANNEL_KEY',
      'napbox_x',
      'HOME',
      'PATH',
      'NODE_OPTIONS',
      'LD_PRELOAD',
      'NODE_TLS_REJECT_UNAUTHORIZED',
      'NODE_EXTRA_CA_CERTS',
      'OPENSSL_CONF',
      'GLIBC_TUNABLES',
      'BASH_ENV',
    ]) {
      assert.match(problem({ env: { [name]: 'x' } }), new RegExp(`^env\\.${name}: .*set by napbox or its runner`), name);
    }
    assert.match(problem({ env: { A: 'x'.repeat(4097) } }), /^env\.A: a value may be at most 4096 characters/);
    assert.match(problem({ env: { A: 'a\0b' } }), /^env\.A: a value must not contain NUL/);
    assert.match(problem({ env: { A: 1 } }), /^env\.A: /);
    assert.match(problem({ env: Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`V${i}`, ''])) }), /^env: at most 64 variables/);
    assert.match(problem({ env: { ['A'.repeat(129)]: 'x' } }), /not a valid variable name/);
  });

  it("refuses ports outside 1024-65535, fractions, and the runner's control port", () => {
    for (const port of [80, 1023, 65536, 3000.5, '3000']) assert.match(problem({ port }), /^port: /, String(port));
    assert.match(problem({ port: 8081 }), /^port: 8081 is the runner's own control port/);
  });

  it('refuses wake timeouts outside 1s-30m, and bad readiness paths', () => {
    for (const wakeTimeout of ['500ms', '31m', 'soon', '', 90]) assert.match(problem({ wakeTimeout }), /^wakeTimeout: /, String(wakeTimeout));
    for (const readinessPath of ['healthz', '//evil.example/x', '/a b', '/a\r\nX: y', '/é', '/#x', '', `/${'a'.repeat(512)}`]) {
      assert.match(problem({ readinessPath }), /^readinessPath: /, JSON.stringify(readinessPath));
    }
    assert.match(problem({ startingPage: 'no' }), /^startingPage: /);
  });

  it("a tenant's wake timeout, else the global one", () => {
    assert.equal(wakeTimeoutOf({ wakeTimeout: '2m' }, 60_000), 120_000);
    assert.equal(wakeTimeoutOf({}, 60_000), 60_000);
  });
});
