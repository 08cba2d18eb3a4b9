// What only `npm test` needs besides napbox's own set-up: the browser the
// dashboard's test drives (Debian's chromium; playwright-core drives it and
// downloads nothing) and OpenSSH's server, which the ssh:// engine test runs
// on a loopback port of its own (installed without starting the system's
// sshd), docker-compose for the test of compose.yaml, and strace, with which
// the database's test counts the disk syncs of its commits. NAPBOX_TEST_BROWSER
// points the browser test at another Chromium.

import fs from 'node:fs';
import { aptInstall, canInstallHere } from './docker-engine.js';

export const DEFAULT_BROWSER = '/usr/bin/chromium';
const SSHD = '/usr/sbin/sshd';
/** Debian's docker-compose (v1): the test of compose.yaml runs napbox's own image with it. */
const COMPOSE = '/usr/bin/docker-compose';
const STRACE = '/usr/bin/strace';

export async function ensureTestTools(): Promise<string> {
  const browser = process.env.NAPBOX_TEST_BROWSER ?? DEFAULT_BROWSER;
  if (process.env.NAPBOX_TEST_BROWSER && !fs.existsSync(browser)) throw new Error(`NAPBOX_TEST_BROWSER=${browser} does not exist`);
  const missing: string[] = [];
  // fonts-liberation: without a font, every screenshot shows boxes instead of text.
  if (!fs.existsSync(browser)) missing.push('chromium', 'fonts-liberation');
  if (!fs.existsSync(SSHD)) missing.push('openssh-server', 'openssh-client');
  if (!fs.existsSync(COMPOSE)) missing.push('docker-compose');
  if (!fs.existsSync(STRACE)) missing.push('strace');
  if (missing.length === 0) return `${browser}, ${SSHD}, ${COMPOSE} and ${STRACE} present`;
  const cannot = canInstallHere();
  if (cannot) {
    if (!fs.existsSync(browser))
      throw new Error(
        `no ${browser} for the dashboard's browser test, and it cannot be installed here (${cannot.split(':')[0]}): install Chromium and set NAPBOX_TEST_BROWSER to its path`,
      );
    return `${browser} present; no ${SSHD}: the ssh:// engine test will be skipped`;
  }
  await aptInstall(missing, { startServices: false });
  return `installed ${missing.join(', ')} from Debian`;
}
