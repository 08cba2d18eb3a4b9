// The admin CLI as an operator runs it (`napbox <verb>`, a process of its
// own) against napbox running as a real process with the real engine: the
// settings it sends, the tables and JSON it prints, the exit code of each
// kind of failure, and `logs -f` across a tenant's sleep and wake.

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { api, type NapboxProcess, ROOT, removeInstall, request, startNapbox, tempDataDir, tenantHost } from '../helpers/napbox-process.js';

interface Run {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function napbox(dataDir: string, args: string[], options: { stdin?: string; env?: Record<string, string> } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), ...args], {
      cwd: ROOT,
      env: { ...process.env, NAPBOX_DATA_DIR: dataDir, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    proc.stdin.end(options.stdin ?? '');
    proc.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

// An app of its own, run with an argv full of dashes: node -e '<script>' hello.
const APP = ['node', '-e', "require('http').createServer((q, s) => s.end('app says ' + process.argv[1])).listen(process.env.PORT)", 'hello'];

describe('the CLI does what the API does', () => {
  let nb: NapboxProcess;
  const extraDirs: string[] = [];
  const shared = path.join(os.tmpdir(), `napbox-cli-shared-${process.pid}`);
  extraDirs.push(shared);
  before(async () => {
    const dataDir = tempDataDir();
    fs.mkdirSync(shared);
    fs.writeFileSync(`${dataDir}-allowlist.json`, JSON.stringify({ roots: [{ path: shared, allowWrite: false }] }));
    extraDirs.push(`${dataDir}-allowlist.json`);
    nb = await startNapbox({ dataDir, env: { NAPBOX_WAKE_TIMEOUT: '20s', NAPBOX_IDLE_TIMEOUT: '1h' } });
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
    for (const dir of extraDirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it('creates a tenant whose app argv comes whole after --, and changes its settings without wiping the others', async () => {
    const added = await napbox(nb.dataDir, ['tenants', 'add', 'web', '--app', '--', ...APP]);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /^created web: http/);
    const page = await request(nb.port, { host: tenantHost(nb, 'web') });
    assert.equal(page.body, 'app says hello');

    let run = await napbox(nb.dataDir, ['tenants', 'set', 'web', '--private', '--memory', '256m', '--read-only-rootfs']);
    assert.equal(run.code, 0, run.stderr);
    run = await napbox(nb.dataDir, [
      'tenants',
      'set',
      'web',
      '--pids',
      '100',
      '--provider',
      'command',
      '--command-timeout',
      '30s',
      '--',
      'sh',
      '-c',
      'tr a-z A-Z',
    ]);
    assert.equal(run.code, 0, run.stderr);
    fs.writeFileSync(path.join(nb.dataDir, 'notes.md'), 'be brief');
    run = await napbox(nb.dataDir, ['tenants', 'set', 'web', '--instructions-file', path.join(nb.dataDir, 'notes.md')]);
    assert.equal(run.code, 0, run.stderr);
    let config = (await api(nb, 'GET', '/api/tenants/web')).json.config;
    assert.deepEqual(config, {
      app: { command: APP },
      visibility: 'private',
      limits: { memoryMiB: 256, pids: 100 },
      readOnlyRootfs: true,
      provider: { kind: 'command', command: ['sh', '-c', 'tr a-z A-Z'], timeoutMs: 30_000 },
      instructions: 'be brief',
    });

    run = await napbox(nb.dataDir, ['tenants', 'set', 'web', '--builtin-app', '--public', '--memory', 'default', '--no-read-only-rootfs']);
    assert.equal(run.code, 0, run.stderr);
    config = (await api(nb, 'GET', '/api/tenants/web')).json.config;
    assert.deepEqual(config.app, undefined, 'back to the built-in page');
    assert.deepEqual([config.visibility, config.limits, config.readOnlyRootfs], ['public', { pids: 100 }, false]);

    run = await napbox(nb.dataDir, ['tenants', 'set', 'web', '--mount', `${shared}:docs`]);
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await api(nb, 'GET', '/api/tenants/web')).json.config.mounts, [{ hostPath: shared, containerPath: 'docs' }]);
    run = await napbox(nb.dataDir, ['tenants', 'set', 'web', '--mount', `${os.homedir()}:home`]);
    assert.equal(run.code, 2, `a mount the allowlist refuses is a 400: ${run.stderr}`);
    run = await napbox(nb.dataDir, ['tenants', 'set', 'web', '--unmount', 'docs']);
    assert.equal(run.code, 0, run.stderr);
    assert.equal((await api(nb, 'GET', '/api/tenants/web')).json.config.mounts, undefined);

    run = await napbox(
      nb.dataDir,
      ['tenants', 'set', 'web', '--provider', 'openai', '--base-url', 'https://llm.example/v1', '--model', 'm1', '--api-key-stdin'],
      {
        stdin: 'sk-secret-1\n',
      },
    );
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual((await api(nb, 'GET', '/api/tenants/web')).json.config.provider, {
      kind: 'openai',
      baseUrl: 'https://llm.example/v1',
      model: 'm1',
      apiKey: '[set]',
    });
  });

  it('prints tables for people and the API’s JSON with --json', async () => {
    const list = await napbox(nb.dataDir, ['tenants', 'list']);
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^TENANT +STATE +SINCE +WHY\ndemo +stopped +.*\nweb +\w+ +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(\d+\w ago\) +\S/);
    const json = await napbox(nb.dataDir, ['tenants', 'list', '--json']);
    assert.deepEqual(
      JSON.parse(json.stdout).map((t: { slug: string }) => t.slug),
      ['demo', 'web'],
    );
    const packages = await napbox(nb.dataDir, ['packages', 'list', 'web']);
    assert.equal(packages.code, 0, packages.stderr);
    assert.match(packages.stdout, /^tenant +web\napt +-\nnpm +-\nimage +napbox-agent:\S+\nprevious image +-\nlatest build +-\n$/);
    const packagesJson = JSON.parse((await napbox(nb.dataDir, ['packages', 'list', 'web', '--json'])).stdout);
    assert.deepEqual(packagesJson, (await api(nb, 'GET', '/api/tenants/web/packages')).json);
    const status = await napbox(nb.dataDir, ['status', 'web']);
    assert.match(status.stdout, /^provider +openai \(m1\)$/m);
    assert.match(status.stdout, /^image +napbox-agent:/m);
  });

  it('exits with the code of what failed, its reason in one line', async () => {
    const cases: Array<[string, string[], number, RegExp]> = [
      ['bad usage', ['tenants', 'add', 'x', '--app', 'sh', '-c', 'true'], 2, /unknown option '-c'/],
      ['bad input, refused by the CLI', ['tenants', 'set', 'web', '--port', '80'], 2, /--port 80: must be a whole number from 1024 to 65535/],
      ['bad input, refused by the server (400)', ['logs', 'web', '--tail', '0'], 2, /^napbox: 400: tail must be/m],
      ['not found (404)', ['status', 'nope'], 3, /^napbox: 404: .*nope/m],
      ['conflict (409)', ['tenants', 'add', 'web'], 4, /^napbox: 409: /m],
    ];
    for (const [what, args, code, said] of cases) {
      const run = await napbox(nb.dataDir, args);
      assert.equal(run.code, code, `${what}: ${run.stderr}`);
      assert.match(run.stderr, said, what);
      assert.doesNotMatch(run.stderr, /unexpected/, what);
    }

    const notRunning = await napbox(path.join(nb.dataDir, 'nowhere'), ['tenants', 'list']);
    assert.equal(notRunning.code, 5, notRunning.stderr);
    assert.match(notRunning.stderr, /^napbox: napbox is not running for .*\n$/);
    const badAndNotRunning = await napbox(path.join(nb.dataDir, 'nowhere'), ['tenants', 'set', 'web', '--port', '80']);
    assert.equal(badAndNotRunning.code, 2, `bad flags are told before napbox is looked for: ${badAndNotRunning.stderr}`);

    // Another data dir naming this server, with an admin key of its own: the server refuses its tokens.
    const stranger = tempDataDir();
    extraDirs.push(stranger);
    fs.copyFileSync(path.join(nb.dataDir, 'install-id'), path.join(stranger, 'install-id'));
    fs.cpSync(path.join(nb.dataDir, 'servers'), path.join(stranger, 'servers'), { recursive: true });
    const refused = await napbox(stranger, ['tenants', 'list']);
    assert.equal(refused.code, 6, refused.stderr);
    assert.match(refused.stderr, /^napbox: 401: /);

    const gone = tempDataDir();
    extraDirs.push(gone);
    fs.copyFileSync(path.join(nb.dataDir, 'install-id'), path.join(gone, 'install-id'));
    fs.writeFileSync(
      path.join(gone, 'server.json'),
      JSON.stringify({ url: 'http://127.0.0.1:9', pid: 1, installId: nb.installId, baseDomain: 'localhost', port: 9 }),
    );
    const unreachable = await napbox(gone, ['tenants', 'list']);
    assert.equal(unreachable.code, 5, unreachable.stderr);
    assert.match(unreachable.stderr, /^napbox: napbox does not answer at http:\/\/127\.0\.0\.1:9/);

    assert.equal((await napbox(nb.dataDir, ['tenants', 'add', 'broken', '--app', '--', 'false'])).code, 0);
    const failed = await napbox(nb.dataDir, ['wake', 'broken']);
    assert.equal(failed.code, 7, failed.stderr);
    const [reason, ...details] = failed.stderr.trimEnd().split('\n');
    assert.match(reason ?? '', /^napbox: 503: tenant broken: container exited before it was ready; exit code 1/);
    assert.ok(details.length && details.every((line) => line.startsWith('  ')), `its last log lines below the reason, indented:\n${failed.stderr}`);
  });

  /** `napbox logs -f <slug>` running: its output so far, a wait for it, and its exit. */
  function follow(slug: string) {
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'logs', '-f', slug], {
      cwd: ROOT,
      env: { ...process.env, NAPBOX_DATA_DIR: nb.dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const waitFor = async (what: string, check: () => boolean): Promise<void> => {
      for (let i = 0; i < 300 && !check(); i += 1) await new Promise((r) => setTimeout(r, 100));
      assert.ok(check(), `${what}; output so far:\n${out}`);
    };
    return { proc, out: () => out, exited, waitFor };
  }

  it('follows a tenant’s logs across its sleep and wake until interrupted', async () => {
    assert.equal((await napbox(nb.dataDir, ['tenants', 'add', 'sleepy'])).code, 0);
    assert.equal((await napbox(nb.dataDir, ['wake', 'sleepy'])).code, 0);
    const proc = spawn(process.execPath, ['--import', 'tsx', path.join(ROOT, 'src/cli/main.ts'), 'logs', '-f', 'sleepy'], {
      cwd: ROOT,
      env: { ...process.env, NAPBOX_DATA_DIR: nb.dataDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
    const waitFor = async (what: string, check: () => boolean): Promise<void> => {
      for (let i = 0; i < 300 && !check(); i += 1) await new Promise((r) => setTimeout(r, 100));
      assert.ok(check(), `${what}; output so far:\n${out}`);
    };
    try {
      const ready = (): number => out.split('\n').filter((l) => /runner ready/.test(l)).length;
      await waitFor('the first start', () => ready() === 1);
      assert.equal((await napbox(nb.dataDir, ['stop', 'sleepy'])).code, 0);
      await waitFor('the stop marker', () => /^-- sleepy stopped \(.+\) --$/m.test(out));
      assert.equal(proc.exitCode, null, 'still following while the tenant sleeps');
      assert.equal((await napbox(nb.dataDir, ['wake', 'sleepy'])).code, 0);
      await waitFor('the second start', () => ready() === 2);
      assert.match(out, /-- sleepy started --\n/);
      await new Promise((r) => setTimeout(r, 1000));
      assert.equal(ready(), 2, `the first start's lines are not sent again:\n${out}`);
    } finally {
      proc.kill('SIGINT');
    }
    await exited;
  });

  it('ends logs -f when the tenant is removed (exit 0) or when napbox stops (exit 5)', async () => {
    assert.equal((await napbox(nb.dataDir, ['tenants', 'add', 'gone'])).code, 0);
    const removed = follow('gone');
    await removed.waitFor('the tenant asleep', () => /^-- gone stopped \(.+\) --$/m.test(removed.out()));
    assert.equal((await napbox(nb.dataDir, ['tenants', 'rm', 'gone'])).code, 0);
    assert.equal(await removed.exited, 0, removed.out());
    assert.match(removed.out(), /-- gone removed --\n$/);

    const cut = follow('sleepy');
    await cut.waitFor('the stream open', () => /runner ready/.test(cut.out()));
    await nb.stop();
    assert.equal(await cut.exited, 5, cut.out());
    assert.match(cut.out(), /napbox: napbox ended the log stream: it stopped or restarted\n$/);
  });
});
