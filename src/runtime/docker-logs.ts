// Docker multiplexes stdout and stderr of a container without a TTY into
// frames: 1 byte stream id, 3 bytes padding, 4 bytes big-endian length.

import type { PassThrough } from 'node:stream';

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

/**
 * A followed log stream from the engine (stdout and stderr multiplexed) as
 * plain text into `text`, which ends when the engine's stream ends or fails,
 * or when `signal` aborts (the engine's stream is then closed too).
 */
export function pipeFollowedLogs(
  modem: { demuxStream(stream: NodeJS.ReadableStream, out: NodeJS.WritableStream, err: NodeJS.WritableStream): void },
  raw: NodeJS.ReadableStream & { destroy(): void },
  text: PassThrough,
  signal: AbortSignal,
): PassThrough {
  modem.demuxStream(raw, text, text);
  raw.on('end', () => text.end());
  raw.on('error', () => text.end());
  signal.addEventListener('abort', () => {
    raw.destroy();
    text.end();
  });
  return text;
}

/** Epoch ms as the engine's `since` takes it: seconds with a fraction ("1733255000.123"). */
export function engineSince(ms: number): string {
  return (ms / 1000).toFixed(3);
}
