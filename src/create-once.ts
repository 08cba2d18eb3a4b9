// Files napbox makes once in the data dir (install id, keys) and every
// process of that data dir then reads: created atomically, so two napbox
// processes starting at the same moment never read a half-written file, and
// both end up with the same content.

import crypto from 'node:crypto';
import fs from 'node:fs';

/**
 * Writes `content` to `file` unless it exists: whole, to a private temporary
 * file first, then linked into place (link refuses a name that is taken).
 */
export function createOnce(file: string, content: string): void {
  if (fs.existsSync(file)) return;
  const temp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  fs.writeFileSync(temp, content, { flag: 'wx', mode: 0o600 });
  try {
    fs.linkSync(temp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(temp, { force: true });
  }
}
