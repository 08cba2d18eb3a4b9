// A tenant's code, as its own user inside its own container (`docker exec -u
// 10001`), tries to change what napbox trusts about it: its settings, napbox's
// environment, host files through links, and coming back after a delete.
// Issue 12, items 3 to 6; each of these worked before the group folder was
// split into the tenant's files (mounted) and its settings (never mounted).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { api, removeInstall, startNapbox, tempDataDir, type NapboxProcess } from '../helpers/napbox-process.js';
import { until } from '../helpers/wait.js';

const run = promisify(execFile);
const SECRET = 'napbox-only-value-3141';

/** Runs a shell line in the tenant's container as the tenant's user; its stdout, or the error text. */
async function asTenant(containerId: string, line: string): Promise<string> {
  try {
    const { stdout } = await run('docker', ['exec', '-u', '10001', containerId, 'sh', '-c', line], { timeout: 20_000 });
    return stdout;
  } catch (err) {
    return `failed: ${(err as { stderr?: string }).stderr ?? String(err)}`;
  }
}

async function wake(nb: NapboxProcess, slug: string): Promise<string> {
  const res = await api(nb, 'POST', `/api/tenants/${slug}/wake`);
  assert.equal(res.status, 200, JSON.stringify(res.json));
  const view = await api(nb, 'GET', `/api/tenants/${slug}`);
  return view.json.containerId as string;
}

async function restart(nb: NapboxProcess, slug: string): Promise<string> {
  assert.equal((await api(nb, 'POST', `/api/tenants/${slug}/stop`)).status, 200);
  return wake(nb, slug);
}

const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 2500)); // past the groups watcher's debounce

describe('a tenant cannot reach past its own files', () => {
  let nb: NapboxProcess;
  let dataDir: string;
  let groups: string;
  before(async () => {
    dataDir = tempDataDir();
    groups = `${dataDir}-groups`;
    nb = await startNapbox({ dataDir, env: { ANY_VARIABLE: SECRET, NAPBOX_LOG_LEVEL: 'info' } });
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('3: writing /group/tenant.json from inside changes none of its settings', async () => {
    const limits = { memoryMiB: 256, cpus: 0.5, pids: 128 };
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'priv3', visibility: 'private', limits })).status, 201);
    const id = await wake(nb, 'priv3');
    const wrote = await asTenant(id, `echo '{"visibility":"public","limits":{"memoryMiB":65536,"cpus":64,"pids":32768}}' > /group/tenant.json && echo wrote`);
    assert.equal(wrote.trim(), 'wrote', 'the tenant may write its own folder');
    await settle();
    const view = await api(nb, 'GET', '/api/tenants/priv3');
    assert.equal(view.json.config.visibility, 'private');
    assert.deepEqual(view.json.config.limits, limits);
    assert.ok(fs.existsSync(path.join(groups, 'priv3', 'files', 'tenant.json')), "it lands among the tenant's files");
    assert.ok(!fs.existsSync(path.join(groups, 'priv3', 'tenant.json')), 'not where napbox reads settings');
    const again = await restart(nb, 'priv3');
    const memory = await run('docker', ['inspect', '-f', '{{.HostConfig.Memory}}', again]);
    assert.equal(Number(memory.stdout.trim()), 256 * 1024 * 1024, 'the next container keeps its limits');
  });

  it("4: a provider written from inside cannot carry napbox's environment into the container", async () => {
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'env4' })).status, 201);
    const id = await wake(nb, 'env4');
    const file = { provider: { kind: 'openai', baseUrl: 'https://api.example.com/v1', model: 'm', apiKeyEnv: 'ANY_VARIABLE' } };
    await asTenant(id, `echo '${JSON.stringify(file)}' > /group/tenant.json`);
    await settle();
    const again = await restart(nb, 'env4');
    const env = await asTenant(again, 'env');
    assert.ok(!env.includes(SECRET), "napbox's variable is not in the tenant's environment");
    const inspect = await run('docker', ['inspect', '-f', '{{json .Config.Env}}', again]);
    assert.ok(!inspect.stdout.includes(SECRET));
  });

  it('5: a link planted in its folder never makes the engine mount a host file', async () => {
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'link5' })).status, 201);
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'other5' })).status, 201);
    const other = await wake(nb, 'other5');
    await asTenant(other, 'echo other-private > /workspace/secret.txt');
    const otherData = JSON.parse((await run('docker', ['volume', 'inspect', `napbox-${nb.installId}-other5-workspace`])).stdout)[0].Mountpoint as string;
    const id = await wake(nb, 'link5');
    const wal = path.join(dataDir, 'napbox.db-wal');
    assert.ok(fs.existsSync(wal), 'the database has a write-ahead log to steal');
    await asTenant(id, `ln -s ${wal} /group/tenant.json; ln -s ${otherData} /group/other; ln -s / /group/root; echo done`);
    await settle();
    const again = await restart(nb, 'link5');
    const seen = await asTenant(
      again,
      'cat /group/tenant.json 2>&1 | head -c 200; echo; ls /group/other/ 2>&1; echo; grep -c napbox.db /proc/self/mountinfo; grep -c -- -workspace/_data /proc/self/mountinfo',
    );
    assert.ok(!seen.includes('SQLite') && !seen.includes('other-private') && !seen.includes('secret.txt'), seen);
    const mountinfo = await asTenant(again, 'cat /proc/self/mountinfo');
    assert.ok(!/tenant\.json|napbox\.db/.test(mountinfo), 'nothing is mounted at or from the planted link');
    assert.equal((await api(nb, 'GET', '/api/tenants/link5')).status, 200);
  });

  it('6: a deleted tenant stays deleted across a restart; its folder is archived', async () => {
    fs.mkdirSync(path.join(groups, 'gone6'), { recursive: true });
    fs.writeFileSync(path.join(groups, 'gone6', 'tenant.json'), JSON.stringify({ instructions: 'From a folder.' }));
    await until(async () => (await api(nb, 'GET', '/api/tenants/gone6')).status === 200, 10_000, 'gone6 registered from its folder', 100);
    const id = await wake(nb, 'gone6');
    await asTenant(id, `echo '{"visibility":"public"}' > /group/tenant.json`);
    assert.equal((await api(nb, 'DELETE', '/api/tenants/gone6')).status, 200);
    await nb.stop();
    nb = await startNapbox({ dataDir, env: { ANY_VARIABLE: SECRET } });
    await settle();
    assert.equal((await api(nb, 'GET', '/api/tenants/gone6')).status, 404);
    assert.ok(!fs.existsSync(path.join(groups, 'gone6')), 'the folder left groups/');
    const archived = fs.readdirSync(path.join(groups, '.deleted')).filter((n) => n.startsWith('gone6-'));
    assert.equal(archived.length, 1);
    assert.ok(fs.existsSync(path.join(groups, '.deleted', archived[0]!, 'tenant.json')), "the operator's file is kept in the archive");
    assert.ok(!fs.existsSync(path.join(dataDir, 'tenants', 'gone6')), "napbox's own files for it are removed");
  });
});
