import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CliError, EXIT } from './exit-codes.js';
import { type SettingFlags, type SettingsIo, settingsPatch } from './tenant-settings.js';

const io = (over: Partial<SettingsIo> = {}): SettingsIo => ({
  readFile: (file) => `instructions from ${file}`,
  readStdin: () => 'sk-from-stdin\n',
  env: { OPENAI_KEY: 'sk-from-env' },
  ...over,
});

const patch = (flags: SettingFlags, argv: string[] = [], current: Record<string, unknown> = {}, inputs = io()) => settingsPatch(flags, argv, current, inputs);

function refused(flags: SettingFlags, argv: string[], pattern: RegExp, current: Record<string, unknown> = {}): void {
  assert.throws(
    () => patch(flags, argv, current),
    (err: unknown) => err instanceof CliError && err.exitCode === EXIT.usage && pattern.test(err.message) && !err.message.includes('\n'),
  );
}

describe('tenants set flags -> PATCH body', () => {
  it('takes the argv after -- whole for --app, and --builtin-app goes back to the built-in page (null)', () => {
    assert.deepEqual(patch({ app: true }, ['sh', '-c', 'exec python3 -m http.server $PORT']), {
      app: { command: ['sh', '-c', 'exec python3 -m http.server $PORT'] },
    });
    assert.deepEqual(patch({ app: true }, ['python3', '-m', 'http.server']), { app: { command: ['python3', '-m', 'http.server'] } });
    assert.deepEqual(patch({ builtinApp: true }), { app: null });
    refused({ app: true }, [], /--app needs the app's argv after --/);
    refused({}, ['sh'], /a command after -- goes with --app or --provider command/);
    refused({ app: true, builtinApp: true }, ['sh'], /give one/);
  });

  it('sets visibility', () => {
    assert.deepEqual(patch({ public: true }), { visibility: 'public' });
    assert.deepEqual(patch({ private: true }), { visibility: 'private' });
    refused({ public: true, private: true }, [], /--public and --private/);
  });

  it('sets each provider, the openai key from an environment variable or stdin only', () => {
    assert.deepEqual(patch({ provider: 'echo' }), { provider: { kind: 'echo' } });
    assert.deepEqual(patch({ provider: 'command', commandTimeout: '5m' }, ['python3', '-u', 'agent.py']), {
      provider: { kind: 'command', command: ['python3', '-u', 'agent.py'], timeoutMs: 300_000 },
    });
    const openai = { provider: 'openai', baseUrl: 'https://api.example.com/v1', model: 'gpt-x' };
    assert.deepEqual(patch({ ...openai, apiKeyEnv: 'OPENAI_KEY' }), {
      provider: { kind: 'openai', baseUrl: 'https://api.example.com/v1', model: 'gpt-x', apiKey: 'sk-from-env' },
    });
    assert.deepEqual(patch({ ...openai, apiKeyStdin: true }), {
      provider: { kind: 'openai', baseUrl: 'https://api.example.com/v1', model: 'gpt-x', apiKey: 'sk-from-stdin' },
    });
    refused(openai, [], /--api-key-env NAME or --api-key-stdin/);
    refused({ ...openai, apiKeyEnv: 'MISSING' }, [], /MISSING: that environment variable is not set/);
    refused({ provider: 'openai', apiKeyEnv: 'OPENAI_KEY' }, [], /needs --base-url and --model/);
    refused({ model: 'gpt-x' }, [], /go with --provider openai/);
    refused({ provider: 'command' }, [], /needs the command's argv after --/);
    refused({ provider: 'command', commandTimeout: 'soon' }, ['x'], /--command-timeout soon/);
    refused({ commandTimeout: '5m' }, [], /goes with --provider command/);
    refused({ provider: 'claude' }, [], /must be echo, command or openai/);
    refused({ app: true, provider: 'command' }, ['x'], /two calls/);
  });

  it('merges limits with the stored ones, "default" removing one, all removed as null', () => {
    const current = { limits: { memoryMiB: 512, pids: 128 } };
    assert.deepEqual(patch({ memory: '2g' }, [], current), { limits: { memoryMiB: 2048, pids: 128 } });
    assert.deepEqual(patch({ memory: '768', cpus: '0.5' }, [], current), { limits: { memoryMiB: 768, pids: 128, cpus: 0.5 } });
    assert.deepEqual(patch({ pids: '64' }), { limits: { pids: 64 } });
    assert.deepEqual(patch({ memory: 'default', pids: 'default' }, [], current), { limits: null });
    refused({ memory: 'lots' }, [], /--memory lots/);
    refused({ memory: '1m' }, [], /from 64m to 64g/);
    refused({ cpus: '0' }, [], /--cpus 0/);
    refused({ pids: '2.5' }, [], /--pids 2.5: must be a whole number/);
  });

  it('reads instructions from a file (or stdin) and sets the read-only root filesystem either way', () => {
    assert.deepEqual(patch({ instructionsFile: 'notes.md' }), { instructions: 'instructions from notes.md' });
    assert.deepEqual(patch({ instructionsFile: '-' }), { instructions: 'sk-from-stdin\n' });
    refused({ instructionsFile: '-', provider: 'openai', baseUrl: 'https://a.example', model: 'm', apiKeyStdin: true }, [], /both read stdin/);
    assert.deepEqual(patch({ readOnlyRootfs: true }), { readOnlyRootfs: true });
    assert.deepEqual(patch({ readOnlyRootfs: false }), { readOnlyRootfs: false });
  });

  it('merges env with the stored variables: --env sets, --unset-env removes, none left is null', () => {
    const current = { env: { KEEP: '1', DROP: '2' } };
    assert.deepEqual(patch({ env: ['GREETING=hello=world', 'EMPTY='] }, [], current), { env: { KEEP: '1', DROP: '2', GREETING: 'hello=world', EMPTY: '' } });
    assert.deepEqual(patch({ unsetEnv: ['DROP'] }, [], current), { env: { KEEP: '1' } });
    assert.deepEqual(patch({ unsetEnv: ['KEEP', 'DROP'] }, [], current), { env: null });
    refused({ env: ['NOVALUE'] }, [], /--env NOVALUE: give NAME=VALUE/);
    refused({ env: ['1BAD=x'] }, [], /--env 1BAD/);
    refused({ env: ['A=1'], unsetEnv: ['A'] }, [], /A is named twice/);
    refused({ env: ['A=x\0y'] }, [], /must not contain NUL/);
  });

  it('sets port, wake timeout, readiness path and the starting page, "default" resetting the first three', () => {
    assert.deepEqual(patch({ port: '3000', wakeTimeout: '90s', readinessPath: '/healthz', startingPage: false }), {
      port: 3000,
      wakeTimeout: '90s',
      readinessPath: '/healthz',
      startingPage: false,
    });
    assert.deepEqual(patch({ startingPage: true }), { startingPage: true });
    assert.deepEqual(patch({ port: 'default', wakeTimeout: 'default', readinessPath: 'default' }), { port: null, wakeTimeout: null, readinessPath: null });
    refused({ port: '80' }, [], /--port 80: must be a whole number from 1024 to 65535/);
    refused({ wakeTimeout: '90' }, [], /--wake-timeout 90/);
    refused({ wakeTimeout: '31m' }, [], /from 1s to 30m/);
    refused({ readinessPath: 'healthz' }, [], /starting with \//);
    refused({ readinessPath: '/a b' }, [], /without spaces/);
  });

  it('merges extra mounts by container path: --mount adds or replaces, --unmount removes, none left is null', () => {
    const current = {
      mounts: [
        { hostPath: '/srv/docs', containerPath: 'docs' },
        { hostPath: '/srv/old', containerPath: 'old' },
      ],
    };
    assert.deepEqual(patch({ mount: ['/srv/new docs:docs:rw', 'C:/data:x/y'] }, [], current), {
      mounts: [
        { hostPath: '/srv/old', containerPath: 'old' },
        { hostPath: '/srv/new docs', containerPath: 'docs', readWrite: true },
        { hostPath: 'C:/data', containerPath: 'x/y' },
      ],
    });
    assert.deepEqual(patch({ mount: ['/srv/ro:ro-docs:ro'] }), { mounts: [{ hostPath: '/srv/ro', containerPath: 'ro-docs' }] });
    assert.deepEqual(patch({ unmount: ['old'] }, [], current), { mounts: [{ hostPath: '/srv/docs', containerPath: 'docs' }] });
    assert.deepEqual(patch({ unmount: ['old', 'docs'] }, [], current), { mounts: null });
    refused({ mount: ['docs'] }, [], /--mount docs: give <host path>:<container path>/);
    refused({ mount: ['/srv:../etc'] }, [], /has a "\.\." segment/);
    refused({ mount: ['/srv:/abs'] }, [], /must be relative/);
    refused({ mount: ['/a:x'], unmount: ['x'] }, [], /named twice/);
  });

  it('names nothing it was not asked to change', () => {
    assert.deepEqual(patch({}, [], { limits: { pids: 64 }, env: { A: '1' }, app: { command: ['x'] } }), {});
  });
});
