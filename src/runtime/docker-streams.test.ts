import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import Docker from 'dockerode';
import { followStream } from './docker-streams.js';

/** The engine's events for a build step that writes `E: ` and the rest of its error in two writes, as captured from dockerd. */
const SPLIT_ERROR = [
  { stream: 'Step 2/2 : RUN apt-get install -y x' },
  { stream: '\n' },
  { stream: ' ---> Running in 094540a3de57\n' },
  { stream: '\u001b[91mE: \u001b[0m' },
  { stream: '\u001b[91mUnable to locate package x\n\u001b[0m' },
  { stream: 'Removing intermediate container 094540a3de57\r\n' },
  { errorDetail: { code: 100, message: 'returned a non-zero code: 100' }, error: 'returned a non-zero code: 100' },
];

function follow(events: readonly object[]): Promise<{ lines: string[]; error?: Error }> {
  const lines: string[] = [];
  const stream = Readable.from(events.map((e) => `${JSON.stringify(e)}\r\n`));
  // no connection is made: followProgress only reads the stream it is given
  return followStream(new Docker({ socketPath: '/nonexistent' }), stream, (line) => lines.push(line)).then(
    () => ({ lines }),
    (error: Error) => ({ lines, error }),
  );
}

describe('following an engine stream', () => {
  it('logs whole lines, however the engine cut the output into events', async () => {
    const { lines, error } = await follow(SPLIT_ERROR);
    const plain = lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
    assert.deepEqual(plain, [
      'Step 2/2 : RUN apt-get install -y x',
      ' ---> Running in 094540a3de57',
      'E: Unable to locate package x',
      'Removing intermediate container 094540a3de57',
      'returned a non-zero code: 100',
    ]);
    assert.equal(error?.message, 'returned a non-zero code: 100');
  });

  it('logs a last line that has no newline once the stream ends', async () => {
    const { lines, error } = await follow([{ stream: 'Successfully built 1d40b30a6392\n' }, { stream: 'Successfully tagged x:1' }]);
    assert.deepEqual(lines, ['Successfully built 1d40b30a6392', 'Successfully tagged x:1']);
    assert.equal(error, undefined);
  });
});
