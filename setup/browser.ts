// The browser the dashboard's test drives: Debian's chromium (playwright-core
// drives it; nothing downloads a browser of its own). Only `npm test` asks for
// it. NAPBOX_TEST_BROWSER points the test at another Chromium binary.

import fs from 'node:fs';
import { aptInstall, canInstallHere } from './docker-engine.js';

export const DEFAULT_BROWSER = '/usr/bin/chromium';

export async function ensureBrowser(): Promise<string> {
  const wanted = process.env.NAPBOX_TEST_BROWSER ?? DEFAULT_BROWSER;
  if (fs.existsSync(wanted)) return `${wanted} present`;
  if (process.env.NAPBOX_TEST_BROWSER) throw new Error(`NAPBOX_TEST_BROWSER=${wanted} does not exist`);
  const cannot = canInstallHere();
  if (cannot) throw new Error(`no ${wanted} for the dashboard's browser test, and it cannot be installed here (${cannot.split(':')[0]}): install Chromium and set NAPBOX_TEST_BROWSER to its path`);
  // fonts-liberation: without a font, every screenshot shows boxes instead of text.
  await aptInstall(['chromium', 'fonts-liberation']);
  return `installed ${wanted} (Debian's chromium)`;
}
