// A throwaway sshd on 127.0.0.1 for tests of ssh:// engines: its own host key,
// one client key held by its own ssh-agent, a known_hosts file naming it, and
// the local Docker engine behind it (the docker CLI's `docker system
// dial-stdio`). Needs OpenSSH's sshd (Debian's openssh-server) and root, since
// sshd logs in as the user running the test. Everything lives in a temp
// folder; `stop()` ends the two processes it started, by their pids.

import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { until } from './wait.js';

const SSHD = '/usr/sbin/sshd';

export interface LocalSshd {
  readonly port: number;
  readonly user: string;
  /** Env for napbox or the driver: SSH_AUTH_SOCK and NAPBOX_SSH_KNOWN_HOSTS. */
  readonly env: Record<string, string>;
  stop(): Promise<void>;
}

/** Why a local sshd cannot run here, or undefined. */
export function sshdUnavailable(): string | undefined {
  if (!fs.existsSync(SSHD)) return `no ${SSHD} (Debian's openssh-server)`;
  if (process.getuid?.() !== 0) return 'not root';
  for (const tool of ['ssh-keygen', 'ssh-agent', 'ssh-add', 'docker']) {
    try {
      execFileSync('sh', ['-c', 'command -v "$1"', 'sh', tool], { stdio: 'ignore' });
    } catch {
      return `no ${tool}`;
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startLocalSshd(): Promise<LocalSshd> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-sshd-'));
  const file = (name: string): string => path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file('host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file('client_key')]);
  fs.copyFileSync(file('client_key.pub'), file('authorized_keys'));
  fs.mkdirSync('/run/sshd', { recursive: true }); // sshd's privilege separation folder
  const port = await freePort();
  fs.writeFileSync(
    file('sshd_config'),
    [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${file('host_key')}`,
      `AuthorizedKeysFile ${file('authorized_keys')}`,
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PermitRootLogin prohibit-password',
      'StrictModes no',
      'UsePAM no',
      `PidFile ${file('sshd.pid')}`,
      '',
    ].join('\n'),
  );
  const sshd = spawn(SSHD, ['-D', '-f', file('sshd_config'), '-E', file('sshd.log')], { stdio: 'ignore' });
  const agentSock = file('agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', agentSock], { stdio: 'ignore' });
  const stop = async (): Promise<void> => {
    for (const child of [sshd, agent]) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    await until(() => fs.existsSync(agentSock), 5000, 'ssh-agent');
    execFileSync('ssh-add', [file('client_key')], { env: { ...process.env, SSH_AUTH_SOCK: agentSock }, stdio: 'ignore' });
    await until(
      () =>
        new Promise<boolean>((resolve) => {
          const s = net.connect(port, '127.0.0.1', () => {
            s.destroy();
            resolve(true);
          });
          s.on('error', () => resolve(false));
        }),
      5000,
      'sshd listening',
    );
    const [type, key] = fs.readFileSync(file('host_key.pub'), 'utf8').trim().split(/\s+/);
    fs.writeFileSync(file('known_hosts'), `[127.0.0.1]:${port} ${type} ${key}\n`);
  } catch (err) {
    await stop();
    throw err;
  }
  return { port, user: os.userInfo().username, env: { SSH_AUTH_SOCK: agentSock, NAPBOX_SSH_KNOWN_HOSTS: file('known_hosts') }, stop };
}
