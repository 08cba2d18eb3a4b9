// Reading a file napbox trusts without following a symbolic link to it: the
// file is opened with O_NOFOLLOW and must be a regular file within a size
// budget, checked on the open descriptor (fstat), so a link or a swap between
// a check and the read cannot make napbox read something else of the host.

import fs from 'node:fs';
import { NapboxError } from './errors.js';

/** The file's text; undefined when it does not exist. Throws 'bad_request' for a link, a non-file or an oversize file. */
export function readPlainFile(file: string, maxBytes: number): string | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    if (code === 'ELOOP')
      throw new NapboxError('bad_request', `${file} is a symbolic link: napbox never follows links to the files it reads; put a plain file there`);
    throw err;
  }
  try {
    const stat = fs.fstatSync(fd);
    if (!stat.isFile()) throw new NapboxError('bad_request', `${file} is not a plain file`);
    if (stat.size > maxBytes) throw new NapboxError('bad_request', `${file} is larger than ${maxBytes} bytes`);
    const buf = Buffer.alloc(stat.size);
    let read = 0;
    while (read < buf.length) {
      const n = fs.readSync(fd, buf, read, buf.length - read, read);
      if (n === 0) break;
      read += n;
    }
    return buf.toString('utf8', 0, read);
  } finally {
    fs.closeSync(fd);
  }
}
