// Set-up's steps say that they are still working: a step that takes longer
// than a few seconds (debootstrap, an image build, apt) prints a line every
// `everyMs` (5 s), so set-up is never silent for long. The step's own output
// goes to its log file, which its error names when it fails.

interface ProgressOptions {
  readonly everyMs?: number;
  readonly print?: (line: string) => void;
  readonly clock?: () => number;
}

/** Runs `run`, printing "setup: <name>: still working (<n> s)" every `everyMs` until it settles. */
export async function withProgress<T>(name: string, run: () => Promise<T>, options: ProgressOptions = {}): Promise<T> {
  const { everyMs = 5000, print = (line: string) => console.log(line), clock = Date.now } = options;
  const started = clock();
  const ticker = setInterval(() => print(`setup: ${name}: still working (${Math.round((clock() - started) / 1000)} s)`), everyMs);
  try {
    return await run();
  } finally {
    clearInterval(ticker);
  }
}
