// The install id: a random name for one napbox installation (one data dir),
// carried by every container, image, volume and network it creates as the
// `napbox.install` label, so they can always be found, adopted or removed.
// Kept in a plain file so set-up and the CLI can read it without the database.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { NapboxError } from './errors.js';
import { createOnce } from './create-once.js';

const INSTALL_ID = /^[a-z0-9]{6,32}$/;

export function loadInstallId(dataDir: string, generate: () => string = () => crypto.randomBytes(5).toString('hex')): string {
  const file = path.join(dataDir, 'install-id');
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  createOnce(file, `${generate()}\n`); // atomic: another napbox process starting now reads the same id
  const id = fs.readFileSync(file, 'utf8').trim();
  if (!INSTALL_ID.test(id)) {
    throw new NapboxError(
      'config_invalid',
      `${file} holds ${JSON.stringify(id.slice(0, 40))}, not an install id: restore it, or remove it to start a new install`,
    );
  }
  return id;
}
