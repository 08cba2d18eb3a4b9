// What only `npm test` needs besides napbox's own set-up: the browser the
// dashboard's test drives (Debian's chromium; playwright-core drives it and
// downloads nothing) and OpenSSH's server, which the ssh:// engine test runs
// on a loopback port of its own (installed without starting the system's
// sshd), docker-compose for the test of compose.yaml, and strace, with which
// the database's test counts the disk syncs of its commits, and Debian's nginx
// and Caddy, which the front-proxy test runs as plain processes on loopback
// ports (installed with no service started: nothing listens on 80 or 443
// because of them). NAPBOX_TEST_BROWSER
// points the browser test at another Chromium.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { aptInstall, canInstallHere } from './docker-engine.js';
import { onPath } from './run-command.js';

export const DEFAULT_BROWSER = '/usr/bin/chromium';
const SSHD = '/usr/sbin/sshd';
/** Debian's docker-compose (v1): the test of compose.yaml runs napbox's own image with it. */
const COMPOSE = '/usr/bin/docker-compose';
const STRACE = '/usr/bin/strace';
/** Debian's nginx (1.22 on bookworm) and Caddy (2.6): test/integration/front-proxy.test.ts runs docs/front-proxy.md's configurations with them. */
export const NGINX = '/usr/sbin/nginx';
export const CADDY = '/usr/bin/caddy';

export async function ensureTestTools(): Promise<string> {
  const browser = process.env.NAPBOX_TEST_BROWSER ?? DEFAULT_BROWSER;
  if (process.env.NAPBOX_TEST_BROWSER && !fs.existsSync(browser)) throw new Error(`NAPBOX_TEST_BROWSER=${browser} does not exist`);
  const missing: string[] = [];
  // fonts-liberation: without a font, every screenshot shows boxes instead of text.
  if (!fs.existsSync(browser)) missing.push('chromium', 'fonts-liberation');
  if (!fs.existsSync(SSHD)) missing.push('openssh-server', 'openssh-client');
  if (!fs.existsSync(COMPOSE)) missing.push('docker-compose');
  if (!fs.existsSync(STRACE)) missing.push('strace');
  if (!fs.existsSync(NGINX)) missing.push('nginx');
  if (!fs.existsSync(CADDY)) missing.push('caddy');
  if (missing.length === 0) return `${browser}, ${SSHD}, ${COMPOSE}, ${STRACE}, ${NGINX} and ${CADDY} present`;
  const cannot = canInstallHere();
  if (cannot) {
    if (!fs.existsSync(browser))
      throw new Error(
        `no ${browser} for the dashboard's browser test, and it cannot be installed here (${cannot.split(':')[0]}): install Chromium and set NAPBOX_TEST_BROWSER to its path`,
      );
    const absent = [SSHD, NGINX, CADDY].filter((file) => !fs.existsSync(file));
    return `${browser} present; missing ${absent.join(', ') || 'nothing else'}: the ssh:// engine test is skipped without sshd, the front-proxy test fails without nginx and caddy`;
  }
  await aptInstall(missing, { startServices: false });
  stopInstalledServices(missing);
  return `installed ${missing.join(', ')} from Debian`;
}

/**
 * On a systemd machine whose policy-rc.d allowed starts (its own policy, kept), a web server just
 * installed may be running as a service, on port 80: stop it and keep it from starting at boot.
 * Without systemd, invoke-rc.d obeys the policy and nothing was started.
 * The tests run their own nginx and caddy processes.
 */
function stopInstalledServices(installed: readonly string[]): void {
  for (const service of ['nginx', 'caddy'].filter((name) => installed.includes(name))) {
    if (onPath('systemctl')) spawnSync('systemctl', ['disable', '--now', service], { stdio: 'ignore' });
  }
}
