// The smallest tar (ustar) napbox needs to put files into a container and read
// one back through the engine's archive API: regular files only, written with
// an owner of root and the mode given, and a reader of the first entry of an
// archive. Pure (buffers in, buffers out). Folders are not written: the engine
// makes missing ones (root-owned, 0755), and writing an entry for a folder
// that exists would change that folder's owner and mode (a volume's root).

const BLOCK = 512;

export interface TarFile {
  /** Relative path inside the archive, `/`-separated, no `.` or `..` parts. */
  readonly name: string;
  readonly content: Uint8Array;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
}

export interface TarEntry {
  readonly name: string;
  readonly type: 'file' | 'folder' | 'other';
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly content: Buffer;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function splitName(name: string): { prefix: string; name: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', name };
  // ustar keeps up to 155 bytes of leading folders in `prefix`, split at a `/`.
  for (let i = name.lastIndexOf('/'); i > 0; i = name.lastIndexOf('/', i - 1)) {
    const prefix = name.slice(0, i);
    const rest = name.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(rest) <= 100) return { prefix, name: rest };
  }
  throw new Error(`tar: the path ${JSON.stringify(name)} is too long`);
}

function header(file: TarFile): Buffer {
  if (file.name === '' || file.name.startsWith('/') || file.name.split('/').some((p) => p === '' || p === '.' || p === '..')) {
    throw new Error(`tar: ${JSON.stringify(file.name)} is not a plain relative path`);
  }
  const { prefix, name } = splitName(file.name);
  const h = Buffer.alloc(BLOCK, 0);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(file.mode & 0o7777, 8), 100, 'ascii');
  h.write(octal(file.uid, 8), 108, 'ascii');
  h.write(octal(file.gid, 8), 116, 'ascii');
  h.write(octal(file.content.length, 12), 124, 'ascii');
  h.write(octal(0, 12), 136, 'ascii'); // mtime: fixed, so the same files make the same archive
  h.write('        ', 148, 'ascii'); // checksum field counts as spaces while summing
  h.write('0', 156, 'ascii');
  h.write('ustar\0', 257, 'ascii');
  h.write('00', 263, 'ascii');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return h;
}

export function packTar(files: readonly TarFile[]): Buffer {
  const parts: Buffer[] = [];
  for (const file of files) {
    parts.push(header(file), Buffer.from(file.content));
    const pad = (BLOCK - (file.content.length % BLOCK)) % BLOCK;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0));
  return Buffer.concat(parts);
}

function field(h: Buffer, start: number, length: number): string {
  const raw = h.subarray(start, start + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end === -1 ? length : end).toString('utf8');
}

function number(h: Buffer, start: number, length: number): number {
  const text = field(h, start, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

/** The first entry of an archive (pax extended headers skipped), or undefined for an empty one. */
export function firstTarEntry(archive: Buffer): TarEntry | undefined {
  let offset = 0;
  while (offset + BLOCK <= archive.length) {
    const h = archive.subarray(offset, offset + BLOCK);
    if (h.every((b) => b === 0)) return undefined;
    const size = number(h, 124, 12);
    const typeflag = String.fromCharCode(h[156] ?? 48);
    const body = offset + BLOCK;
    offset = body + Math.ceil(size / BLOCK) * BLOCK;
    if (typeflag === 'x' || typeflag === 'g' || typeflag === 'L' || typeflag === 'K') continue; // pax / GNU long-name headers
    const prefix = field(h, 345, 155);
    const name = field(h, 0, 100);
    return {
      name: prefix ? `${prefix}/${name}` : name,
      type: typeflag === '0' || typeflag === '\0' ? 'file' : typeflag === '5' ? 'folder' : 'other',
      mode: number(h, 100, 8) & 0o7777, // Go's archive/tar also writes the file type bits here
      uid: number(h, 108, 8),
      gid: number(h, 116, 8),
      content: Buffer.from(archive.subarray(body, body + size)),
    };
  }
  return undefined;
}
