// A build's log: the file in the data dir it is appended to, line by line
// (terminal colour codes removed), and the failure summary made from its last
// lines (apt's `E:` and npm's errors lead, since they say what went wrong).

import fs from 'node:fs';

const HINT = /^(E: |npm ERR! |npm error )/;
/** Colour codes the engine puts around a step's stderr. */
const ANSI = /\x1b\[[0-9;]*[A-Za-z]/g;

/** Milliseconds as a person reads them in a message. */
export function showMs(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

/** The build's message, led by the lines of the log that say what went wrong (apt's `E:`, npm's errors). */
export function describeFailure(message: string, recentLines: readonly string[]): string {
  const hints = recentLines.filter((l) => HINT.test(l)).slice(-3);
  return hints.length > 0 ? `${hints.join('; ')} (${message})` : message;
}

/** A build's log file, appended in order; each line is announced once it is written. */
export class BuildLog {
  readonly recent: string[] = [];
  private readonly stream: fs.WriteStream;
  private failed = false;

  constructor(
    file: string,
    private readonly written: (line: string) => void,
  ) {
    this.stream = fs.createWriteStream(file, { flags: 'a', mode: 0o600 });
    this.stream.on('error', () => {
      this.failed = true; // the build goes on without its log (disk full); the state still says how it ended
    });
  }

  line(raw: string): void {
    const text = raw.replace(ANSI, '');
    if (text.trim() === '') return;
    this.recent.push(text);
    if (this.recent.length > 200) this.recent.shift();
    if (this.failed) return;
    this.stream.write(`${text}\n`, () => this.written(text));
  }

  close(): Promise<void> {
    if (this.failed) return Promise.resolve();
    return new Promise((resolve) => this.stream.end(() => resolve()));
  }
}
