// `npm pack` makes a package that installs on a clean folder and runs
// (`npx napbox --help`) from compiled JavaScript, with neither tsx nor the
// TypeScript compiler there (issue 15). Install scripts are skipped here to keep
// the suite short (better-sqlite3 compiles from source for about 2 minutes on
// this machine, and the CLI never loads it); a full install was checked by hand.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, it } from 'node:test';
import { ROOT } from '../helpers/napbox-process.js';

const run = promisify(execFile);
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-pack-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

it('packs, installs in a clean folder and answers --help without tsx or tsc', async () => {
  await run('npm', ['run', 'build', '--silent'], { cwd: ROOT });
  const { stdout } = await run('npm', ['pack', '--pack-destination', dir, '--loglevel=error'], { cwd: ROOT });
  const tarball = path.join(dir, stdout.trim().split('\n').at(-1)!);
  const listing = (await run('tar', ['-tzf', tarball])).stdout;
  assert.match(listing, /package\/dist\/src\/cli\/main\.js/);
  assert.doesNotMatch(listing, /package\/src\/.*\.ts\n/, 'no TypeScript sources shipped');
  const app = path.join(dir, 'app');
  fs.mkdirSync(app);
  fs.writeFileSync(path.join(app, 'package.json'), '{"name":"try-napbox","private":true}\n');
  await run('npm', ['install', tarball, '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, timeout: 240_000 });
  const installed = fs.readdirSync(path.join(app, 'node_modules'));
  assert.ok(!installed.includes('tsx') && !installed.includes('typescript'), 'no tsx or TypeScript at run time');
  const help = await run('npx', ['--no-install', 'napbox', '--help'], { cwd: app });
  assert.match(help.stdout, /Usage: napbox/);
  assert.match(help.stdout, /tenants/);
});
