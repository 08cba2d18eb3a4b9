// What a started napbox holds open, closed in the reverse order it was
// opened. The composition root registers each resource the moment it exists
// (the database as it opens, a timer as its service starts), so a start-up
// that fails half-way closes exactly what was opened, and a normal close
// runs the same list. A closer that throws is reported; the rest still run.

type Closer = () => void | Promise<void>;

export class Lifetime {
  private readonly closers: Array<{ readonly name: string; readonly close: Closer }> = [];
  private closing: Promise<void> | undefined;

  /** @param onCloseError told of each closer that threw, by name. */
  constructor(private readonly onCloseError: (name: string, err: unknown) => void) {}

  /** Registers `close` to run when this lifetime ends (before everything registered earlier). */
  defer(name: string, close: Closer): void {
    if (this.closing !== undefined) throw new Error(`${name} opened while napbox is closing`);
    this.closers.push({ name, close });
  }

  /** The names of what is open, oldest first. */
  get open(): string[] {
    return this.closers.map((c) => c.name);
  }

  /** Closes everything, newest first; a second call waits for the first. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      for (const { name, close } of [...this.closers].reverse()) {
        try {
          await close();
        } catch (err) {
          this.onCloseError(name, err);
        }
      }
    })();
    return this.closing;
  }
}
