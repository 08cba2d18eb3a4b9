import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { containerPathProblem } from '../model/container-path.js';
import { sleep, until } from '../../test/helpers/wait.js';
import { AllowlistWatcher, checkMount, credentialSegment, loadAllowlist, type Allowlist } from './allowlist.js';

let tmp: string;
let home: string;
let shared: string;
let listFile: string;

function writeList(value: unknown): void {
  fs.writeFileSync(listFile, typeof value === 'string' ? value : JSON.stringify(value));
}

beforeEach(() => {
  // realpath: on some systems the temp dir itself is behind a symlink (/tmp -> /private/tmp).
  tmp = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-allowlist-')));
  home = path.join(tmp, 'home');
  shared = path.join(tmp, 'srv', 'shared');
  fs.mkdirSync(path.join(home, '.ssh'), { recursive: true });
  fs.writeFileSync(path.join(home, '.ssh', 'id_ed25519'), 'PRIVATE KEY');
  fs.mkdirSync(path.join(shared, 'docs'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'srv', 'writable', 'out'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'elsewhere'), { recursive: true });
  fs.mkdirSync(path.join(tmp, 'config'), { recursive: true });
  listFile = path.join(tmp, 'config', 'mount-allowlist.json');
  writeList({
    roots: [
      { path: shared, allowWrite: false },
      { path: path.join(tmp, 'srv', 'writable'), allowWrite: true },
    ],
  });
});

afterEach(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

const list = (): Allowlist => loadAllowlist(listFile, home);

describe('loadAllowlist', () => {
  it('reads the roots, allowWrite defaulting to false', () => {
    writeList({ roots: [{ path: shared }] });
    assert.deepEqual(list(), { ok: true, file: listFile, roots: [{ path: shared, allowWrite: false }] });
  });

  it('says how to create a missing file', () => {
    fs.rmSync(listFile);
    const result = list();
    assert.equal(result.ok, false);
    assert.match(!result.ok ? result.problem : '', /does not exist: create .*mount-allowlist\.json with \{"roots":\[\.\.\.\]\}/);
  });

  it('names broken JSON, and a schema error by its field', () => {
    writeList('{"roots": [');
    assert.match((list() as { problem: string }).problem, /is not valid JSON/);
    writeList({ roots: [{ path: shared, allowWrite: 'yes' }] });
    assert.match((list() as { problem: string }).problem, /"roots\.0\.allowWrite"/);
    writeList({ roots: [{ path: shared, readOnly: true }] });
    assert.match((list() as { problem: string }).problem, /"roots\.0".*readOnly/);
    writeList({ roots: [{ path: 'relative/dir' }] });
    assert.match((list() as { problem: string }).problem, /"roots\.0\.path" "relative\/dir" must be an absolute path/);
  });

  it('never caches a parse error: fixing the file is seen at the next call', () => {
    writeList('not json');
    assert.equal(list().ok, false);
    writeList({ roots: [{ path: shared }] });
    assert.equal(list().ok, true);
  });

  it('expands ~/ in roots', () => {
    writeList({ roots: [{ path: '~/projects' }] });
    assert.deepEqual(list(), { ok: true, file: listFile, roots: [{ path: path.join(home, 'projects'), allowWrite: false }] });
  });
});

describe('checkMount', () => {
  it('mounts a folder under an allowed root read-only at /extra/<path>', () => {
    const decision = checkMount({ hostPath: path.join(shared, 'docs'), containerPath: 'docs' }, list(), { home });
    assert.deepEqual(decision, { allowed: true, mount: { type: 'bind', source: path.join(shared, 'docs'), target: '/extra/docs', readOnly: true } });
  });

  it('mounts read-write only when the root allows writes and the request asks', () => {
    const out = path.join(tmp, 'srv', 'writable', 'out');
    const rw = checkMount({ hostPath: out, containerPath: 'out', readWrite: true }, list(), { home });
    assert.equal(rw.allowed && rw.mount.readOnly, false);
    const notAsked = checkMount({ hostPath: out, containerPath: 'out' }, list(), { home });
    assert.equal(notAsked.allowed && notAsked.mount.readOnly, true);
  });

  it('mounts read-only, with a warning, when readWrite is asked under a root without allowWrite', () => {
    const decision = checkMount({ hostPath: path.join(shared, 'docs'), containerPath: 'docs', readWrite: true }, list(), { home });
    assert.equal(decision.allowed, true);
    assert.ok(decision.allowed);
    assert.equal(decision.mount.readOnly, true);
    assert.match(decision.warning ?? '', /mounted read-only: readWrite was asked, but the allowlist root .* has "allowWrite": false/);
  });

  it('refuses a symlink inside an allowed root that points at ~/.ssh, naming where it resolves', () => {
    fs.symlinkSync(path.join(home, '.ssh'), path.join(shared, 'innocent'));
    const decision = checkMount({ hostPath: path.join(shared, 'innocent'), containerPath: 'innocent' }, list(), { home });
    assert.equal(decision.allowed, false);
    assert.match(!decision.allowed ? decision.reason : '', /resolves to ".*home\/\.ssh"\) is a credential path \("\.ssh"\)/);
  });

  it('refuses a symlink inside an allowed root that points outside every root', () => {
    fs.symlinkSync(path.join(tmp, 'elsewhere'), path.join(shared, 'link'));
    const decision = checkMount({ hostPath: path.join(shared, 'link'), containerPath: 'link' }, list(), { home });
    assert.match(!decision.allowed ? decision.reason : '', /resolves to .*elsewhere.*is not under any root of the mount allowlist/);
  });

  it('resolves the root through symlinks too', () => {
    fs.symlinkSync(shared, path.join(tmp, 'shared-link'));
    writeList({ roots: [{ path: path.join(tmp, 'shared-link') }] });
    const decision = checkMount({ hostPath: path.join(shared, 'docs'), containerPath: 'docs' }, list(), { home });
    assert.equal(decision.allowed, true);
  });

  it('refuses a host path outside every root, and says where to add one', () => {
    const decision = checkMount({ hostPath: path.join(tmp, 'elsewhere'), containerPath: 'x' }, list(), { home });
    assert.match(
      !decision.allowed ? decision.reason : '',
      /is not under any root of the mount allowlist .*mount-allowlist\.json \(roots: .*\): add a root there/,
    );
  });

  it('does not let a sibling with a common prefix pass for a folder under the root', () => {
    fs.mkdirSync(`${shared}-evil`);
    const decision = checkMount({ hostPath: `${shared}-evil`, containerPath: 'x' }, list(), { home });
    assert.equal(decision.allowed, false);
  });

  it('refuses credential paths even when they are under an allowed root', () => {
    writeList({ roots: [{ path: tmp }] });
    for (const name of ['.ssh', '.aws', '.env', '.env.production', '.npmrc', 'credentials', 'id_rsa']) {
      fs.mkdirSync(path.join(shared, 'docs', name), { recursive: true });
      const decision = checkMount({ hostPath: path.join(shared, 'docs', name), containerPath: 'x' }, list(), { home });
      assert.match(!decision.allowed ? decision.reason : '', /credential path/, name);
      fs.rmSync(path.join(shared, 'docs', name), { recursive: true });
    }
    const asHome = checkMount({ hostPath: '~/.ssh', containerPath: 'x' }, list(), { home });
    assert.match(!asHome.allowed ? asHome.reason : '', /"~\/\.ssh" is a credential path/);
  });

  it('refuses a folder that directly holds a credential file', () => {
    fs.writeFileSync(path.join(shared, 'docs', '.env'), 'TOKEN=1');
    const decision = checkMount({ hostPath: path.join(shared, 'docs'), containerPath: 'docs' }, list(), { home });
    assert.match(!decision.allowed ? decision.reason : '', /holds a credential path \("\.env"\): mount a subfolder without it instead/);
  });

  it('refuses a host path that does not exist, or is relative', () => {
    const missing = checkMount({ hostPath: path.join(shared, 'nope'), containerPath: 'x' }, list(), { home });
    assert.match(!missing.allowed ? missing.reason : '', /does not exist: create it or correct the path/);
    const relative = checkMount({ hostPath: 'srv/shared', containerPath: 'x' }, list(), { home });
    assert.match(!relative.allowed ? relative.reason : '', /must be absolute/);
  });

  it('refuses bad container paths: "..", ":", absolute, empty, NUL, odd characters', () => {
    const host = path.join(shared, 'docs');
    const cases: [string, RegExp][] = [
      ['../etc', /has a "\.\." segment/],
      ['a/../../b', /has a "\.\." segment/],
      ['a:b', /contains ":"/],
      ['/etc', /must be relative/],
      ['', /is empty/],
      ['a\0b', /NUL/],
      ['a b', /characters other than/],
      ['a//b', /empty or "\." segment/],
      ['./a', /empty or "\." segment/],
    ];
    for (const [containerPath, reason] of cases) {
      const decision = checkMount({ hostPath: host, containerPath }, list(), { home });
      assert.equal(decision.allowed, false, containerPath);
      assert.match(!decision.allowed ? decision.reason : '', reason, containerPath);
    }
    assert.equal(containerPathProblem('data/v1.2_x-y'), undefined);
  });

  it('refuses every extra mount while the allowlist is missing or broken, with its problem', () => {
    const request = { hostPath: path.join(shared, 'docs'), containerPath: 'docs' };
    fs.rmSync(listFile);
    const missing = checkMount(request, list(), { home });
    assert.match(!missing.allowed ? missing.reason : '', /^extra mounts are refused: mount allowlist .* does not exist: create/);
    writeList('{');
    const broken = checkMount(request, list(), { home });
    assert.match(!broken.allowed ? broken.reason : '', /^extra mounts are refused: .*not valid JSON/);
  });
});

describe('credentialSegment', () => {
  it('finds blocked names anywhere in a path, and .config/gcloud as a pair', () => {
    assert.equal(credentialSegment('/home/me/.aws/config'), '.aws');
    assert.equal(credentialSegment('/home/me/.config/gcloud/x'), '.config/gcloud');
    assert.equal(credentialSegment('/srv/app/.env.local'), '.env.local');
    assert.equal(credentialSegment('/home/me/.kube'), '.kube');
    assert.equal(credentialSegment('/srv/shared/docs'), undefined);
    assert.equal(credentialSegment('/home/me/.config/nvim'), undefined);
    assert.equal(credentialSegment('/srv/environment'), undefined);
  });
});

describe('AllowlistWatcher', () => {
  const WATCHER_MS = 5000;

  it('re-reads the file when it changes, and never keeps a broken one', async () => {
    const changes: Allowlist[] = [];
    const watcher = new AllowlistWatcher(listFile, { home, onChange: (a) => changes.push(a) });
    try {
      await watcher.start();
      const first = watcher.current();
      assert.equal(first.ok && first.roots.length, 2);
      writeList('{ broken');
      await until(() => !watcher.current().ok, WATCHER_MS, 'the broken file to be refused', 25);
      assert.match((watcher.current() as { problem: string }).problem, /not valid JSON/);
      writeList({ roots: [{ path: shared }] });
      // current() re-reads while broken, so the fix is seen even before the event
      await until(() => watcher.current().ok, WATCHER_MS, 'the fixed file to be read', 25);
      fs.rmSync(listFile);
      await until(() => !watcher.current().ok, WATCHER_MS, 'the removed file to be refused', 25);
      assert.match((watcher.current() as { problem: string }).problem, /does not exist/);
      assert.ok(changes.length >= 1);
    } finally {
      await watcher.close();
    }
  });

  it('follows a file whose folder did not exist when it started', async () => {
    const late = path.join(tmp, 'late', 'mount-allowlist.json');
    const watcher = new AllowlistWatcher(late, { home });
    try {
      await watcher.start();
      assert.match((watcher.current() as { problem: string }).problem, /does not exist/);
      fs.mkdirSync(path.dirname(late));
      fs.writeFileSync(late, JSON.stringify({ roots: [] }));
      assert.equal(watcher.current().ok, true);
      await sleep(200); // let the new watch settle
      fs.writeFileSync(late, JSON.stringify({ roots: [{ path: shared }] }));
      await until(
        () => {
          const now = watcher.current();
          return now.ok && now.roots.length === 1;
        },
        WATCHER_MS,
        'the watcher to read the new root',
        25,
      );
    } finally {
      await watcher.close();
    }
  });

  it('sees a file created after it started', async () => {
    fs.rmSync(listFile);
    const watcher = new AllowlistWatcher(listFile, { home });
    try {
      await watcher.start();
      assert.equal(watcher.current().ok, false);
      writeList({ roots: [{ path: shared }] });
      await until(() => watcher.current().ok, WATCHER_MS, 'the new file to be read', 25);
    } finally {
      await watcher.close();
    }
  });
});
