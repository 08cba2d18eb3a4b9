// Set-up step: a reachable Docker engine. DOCKER_HOST is honoured as it is;
// only the local default may be installed and started here, and only on a
// Debian-like machine as root (Debian's docker.io, dockerd in the background,
// a stale pid file cleared first). Anywhere else it says what to do. An engine
// elsewhere (tcp://, ssh://, another socket) is never installed or started
// from here: set-up says that it does not answer, and why.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { WorkloadDriver } from '../src/runtime/container-driver.js';
import { onPath, runLogged } from './run-command.js';
import { pidExists } from '../src/cluster/peers.js';

const PID_FILE = '/var/run/docker.pid';
const DOCKERD_LOG = '/var/log/napbox-dockerd.log';
const APT_LOG = '/var/log/napbox-setup-apt.log';

/** Undefined when the engine answers, else why not. */
async function whyNoAnswer(driver: WorkloadDriver): Promise<string | undefined> {
  try {
    await driver.ping();
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

async function answers(driver: WorkloadDriver): Promise<boolean> {
  return (await whyNoAnswer(driver)) === undefined;
}

const POLICY_RC = '/usr/sbin/policy-rc.d';

/**
 * Installs Debian packages. With `startServices: false`, a package's service
 * (openssh-server's sshd, say) is not started by the install: a temporary
 * policy-rc.d refuses it, unless the machine already has its own policy.
 */
export async function aptInstall(packages: readonly string[], options: { startServices?: boolean } = {}): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  let ownPolicy = false;
  if (options.startServices === false && !fs.existsSync(POLICY_RC)) {
    fs.writeFileSync(POLICY_RC, '#!/bin/sh\n# napbox set-up: no service starts during this install\nexit 101\n', { mode: 0o755, flag: 'wx' });
    ownPolicy = true;
  }
  try {
    await runLogged('apt-get', ['update', '-q'], APT_LOG, env);
    await runLogged('apt-get', ['install', '-y', '-q', '--no-install-recommends', ...packages], APT_LOG, env);
  } finally {
    if (ownPolicy) fs.rmSync(POLICY_RC, { force: true });
  }
}

export function canInstallHere(): string | undefined {
  if (process.platform !== 'linux') return 'this is not Linux: start Docker Desktop (or another Docker engine) and run again';
  if (process.getuid?.() !== 0)
    return 'not root: start a Docker engine yourself (e.g. `sudo dockerd &`) and give your user access to its socket, or run set-up as root once';
  if (!fs.existsSync('/etc/debian_version') || !onPath('apt-get'))
    return 'not a Debian-like machine: install Docker for your system and start it, then run again';
  return undefined;
}

/** Returns what it did, for the set-up line. */
export async function ensureDockerEngine(driver: WorkloadDriver, dockerHost: string | undefined): Promise<string> {
  const where = dockerHost ?? 'unix:///var/run/docker.sock';
  const why = await whyNoAnswer(driver);
  if (why === undefined) return `reachable at ${where}`;
  if (dockerHost !== undefined && dockerHost !== 'unix:///var/run/docker.sock') {
    throw new Error(
      `the Docker engine at DOCKER_HOST=${dockerHost} does not answer (${why}). Set-up starts no engine for an address other than the local socket: start it there (for tcp://, a dockerd listening on that address, with DOCKER_TLS_VERIFY and DOCKER_CERT_PATH when it uses TLS; for ssh://, an ssh agent holding your key and the docker CLI on that host), or unset DOCKER_HOST to use a local engine`,
    );
  }
  const refusal = canInstallHere();
  if (refusal) throw new Error(`no Docker engine answers at ${where}, and set-up cannot start one: ${refusal}`);

  let did = 'started dockerd';
  if (!onPath('dockerd')) {
    await aptInstall(['docker.io', 'iptables', 'ca-certificates']);
    did = "installed Debian's docker.io and started dockerd";
  }
  if (fs.existsSync(PID_FILE)) {
    const pid = Number(fs.readFileSync(PID_FILE, 'utf8').trim());
    if (!Number.isInteger(pid) || pid <= 0 || !pidExists(pid)) fs.rmSync(PID_FILE, { force: true });
    else did = 'waited for the running dockerd';
  }
  if (!fs.existsSync(PID_FILE)) {
    const log = fs.openSync(DOCKERD_LOG, 'a');
    const child = spawn('dockerd', [], { detached: true, stdio: ['ignore', log, log] });
    child.unref();
    fs.closeSync(log);
  }
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await answers(driver)) return `${did} (log: ${DOCKERD_LOG})`;
    await new Promise((r) => setTimeout(r, 250));
  }
  const tail = fs.existsSync(DOCKERD_LOG) ? fs.readFileSync(DOCKERD_LOG, 'utf8').split('\n').slice(-10).join('\n') : '';
  throw new Error(`dockerd did not answer within 60s; the end of ${DOCKERD_LOG}:\n${tail}`);
}
