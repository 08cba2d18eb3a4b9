// Docker multiplexes stdout and stderr of a container without a TTY into
// frames: 1 byte stream id, 3 bytes padding, 4 bytes big-endian length.

export function demuxLogs(raw: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= raw.length) {
    const stream = raw[offset];
    const length = raw.readUInt32BE(offset + 4);
    if (stream === undefined || stream > 2 || offset + 8 + length > raw.length) {
      // not multiplexed (a TTY container): the bytes are the text
      return raw.toString('utf8');
    }
    parts.push(raw.subarray(offset + 8, offset + 8 + length));
    offset += 8 + length;
  }
  return offset === 0 && raw.length > 0 ? raw.toString('utf8') : Buffer.concat(parts).toString('utf8');
}
