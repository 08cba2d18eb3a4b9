// A Docker engine of the test's own, for tests that kill or restart an engine:
// never the one the machine's other containers run on. It has its own socket,
// data root, exec root (so its own containerd) and pid file under one temp
// folder, and runs in a network namespace of its own (its docker0, bridges
// and iptables rules are its own), reached through a veth pair and a route to
// its address pool, which no default engine uses. Images it needs are copied in from the machine
// engine (`docker save | docker load`). `remove()` takes everything away:
// its containers, the daemon, the folder.

import { spawn, execFile, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
/** The own engine's networks; routed to its namespace. One own engine at a time. */
const POOL = '10.199.0.0/16';

async function setUpNamespace(ns: string, id: string): Promise<void> {
  const outside = `nbh-${id}`.slice(0, 15);
  const inside = `nbc-${id}`.slice(0, 15);
  const inNs = (...argv: string[]) => run('ip', ['netns', 'exec', ns, ...argv]);
  await run('ip', ['netns', 'add', ns]);
  await run('ip', ['link', 'add', outside, 'type', 'veth', 'peer', 'name', inside]);
  await run('ip', ['link', 'set', inside, 'netns', ns]);
  await run('ip', ['addr', 'add', '10.197.0.1/30', 'dev', outside]);
  await run('ip', ['link', 'set', outside, 'up']);
  await inNs('ip', 'addr', 'add', '10.197.0.2/30', 'dev', inside);
  await inNs('ip', 'link', 'set', inside, 'up');
  await inNs('ip', 'link', 'set', 'lo', 'up');
  await inNs('ip', 'route', 'add', 'default', 'via', '10.197.0.1');
  await inNs('sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
  await run('ip', ['route', 'replace', POOL, 'via', '10.197.0.2']);
}

export interface OwnEngine {
  /** DOCKER_HOST for napbox and the docker CLI. */
  readonly host: string;
  readonly dir: string;
  /** SIGKILL, as a crash: no chance to tidy up. Resolves once the process is gone. */
  kill(): Promise<void>;
  /** Starts the daemon again on the same folders; resolves once it answers. */
  start(): Promise<void>;
  remove(): Promise<void>;
}

export function canRunOwnEngine(): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root to run a second dockerd';
  if (process.env.DOCKER_HOST) return 'runs beside the local engine only (DOCKER_HOST is set)';
  try {
    fs.accessSync('/usr/sbin/dockerd', fs.constants.X_OK);
  } catch {
    return 'needs dockerd (Debian docker.io)';
  }
  return undefined;
}

export async function startOwnEngine(images: readonly string[]): Promise<OwnEngine> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nbe-'));
  const host = `unix://${path.join(dir, 'docker.sock')}`;
  // Its own network namespace: its docker0, bridges and iptables rules are its own (dockerd deletes or rewrites
  // docker0 and its chains at start, so it must not share the machine engine's namespace). A veth pair and a
  // route make its containers' addresses reachable from here, as the machine engine's are.
  const id = path
    .basename(dir)
    .slice(4)
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '0');
  const ns = `nbe-${id}`;
  await setUpNamespace(ns, id);
  const args = [
    `--net=/var/run/netns/${ns}`,
    'dockerd',
    `--host=${host}`,
    `--data-root=${path.join(dir, 'root')}`,
    `--exec-root=${path.join(dir, 'exec')}`,
    `--pidfile=${path.join(dir, 'docker.pid')}`,
    `--default-address-pool=base=${POOL},size=24`,
  ];
  const log = path.join(dir, 'dockerd.log');
  let daemon: ChildProcess | undefined;
  const cli = (argv: string[]) => run('docker', argv, { env: { ...process.env, DOCKER_HOST: host }, maxBuffer: 16 * 1024 * 1024 });

  const start = async (): Promise<void> => {
    staleContainerdPid(dir);
    const out = fs.openSync(log, 'a');
    // nsenter, not `ip netns exec`: that one remounts /sys, hiding the cgroup mounts dockerd needs.
    daemon = spawn('nsenter', args, { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      if (daemon.exitCode !== null) break;
      if (
        await cli(['version', '--format', '{{.Server.Version}}']).then(
          () => true,
          () => false,
        )
      )
        return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`the test's own dockerd did not answer within 60s:\n${fs.readFileSync(log, 'utf8').slice(-2000)}`);
  };
  const kill = async (): Promise<void> => {
    const proc = daemon;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const gone = new Promise((r) => proc.once('exit', r));
    proc.kill('SIGKILL');
    await gone;
  };
  const engine: OwnEngine = {
    host,
    dir,
    kill,
    start,
    remove: async () => {
      try {
        const ids = (await cli(['ps', '-aq']).catch(() => ({ stdout: '' }))).stdout.split('\n').filter(Boolean);
        if (ids.length) await cli(['rm', '-f', ...ids]).catch(() => undefined);
        const proc = daemon;
        if (proc && proc.exitCode === null && proc.signalCode === null) {
          const gone = new Promise((r) => proc.once('exit', r));
          proc.kill('SIGTERM');
          await Promise.race([gone, new Promise((r) => setTimeout(r, 20_000))]);
          await kill();
        }
      } finally {
        // Mounts a killed daemon left behind go first, so the folder can go.
        const mounts = fs
          .readFileSync('/proc/self/mounts', 'utf8')
          .split('\n')
          .map((l) => l.split(' ')[1] ?? '')
          .filter((m) => m.startsWith(dir))
          .sort()
          .reverse();
        for (const m of mounts) await run('umount', ['-l', m]).catch(() => undefined);
        fs.rmSync(dir, { recursive: true, force: true });
        await run('ip', ['route', 'delete', POOL]).catch(() => undefined);
        await run('ip', ['link', 'delete', `nbh-${id}`.slice(0, 15)]).catch(() => undefined);
        await run('ip', ['netns', 'delete', ns]).catch(() => undefined);
      }
    },
  };
  try {
    await start();
    if (images.length > 0) {
      // From the machine's engine (DOCKER_HOST unset: the local socket), in one archive: the images share layers.
      const { DOCKER_HOST: _machine, ...machineEnv } = process.env;
      const save = spawn('docker', ['save', ...images], { env: machineEnv, stdio: ['ignore', 'pipe', 'inherit'] });
      const load = spawn('docker', ['load', '-q'], { env: { ...process.env, DOCKER_HOST: host }, stdio: ['pipe', 'ignore', 'inherit'] });
      save.stdout.pipe(load.stdin);
      const code = await new Promise<number | null>((r) => load.once('exit', r));
      if (code !== 0) throw new Error(`could not copy ${images.join(', ')} into the test's own engine`);
    }
  } catch (err) {
    await engine.remove();
    throw err;
  }
  return engine;
}

/**
 * dockerd kills its containerd when it dies, but leaves containerd's pid file: a restarted dockerd that
 * finds that pid taken by another process waits for a containerd that is not there. Such a file goes.
 */
function staleContainerdPid(dir: string): void {
  const file = path.join(dir, 'exec', 'containerd', 'containerd.pid');
  let pid: number;
  try {
    pid = Number(fs.readFileSync(file, 'utf8').trim());
  } catch {
    return;
  }
  let cmdline = '';
  try {
    cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    /* gone */
  }
  if (!cmdline.includes(dir)) fs.rmSync(file, { force: true });
}
