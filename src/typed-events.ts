// A typed, synchronous event stream: the way napbox's parts tell each other
// what happened without holding one another (the composition root subscribes
// one part to another's events once both exist, instead of patching
// callbacks in later). A listener that throws is reported and does not keep
// the others from hearing the event, nor the emitter from going on.

export type Unsubscribe = () => void;

export class TypedEvents<M extends object> {
  private readonly listeners = new Map<keyof M, Set<(event: never) => void>>();

  /** @param onListenerError told of each listener that threw (the logger, in napbox). */
  constructor(private readonly onListenerError: (kind: keyof M, err: unknown) => void = () => undefined) {}

  on<K extends keyof M>(kind: K, listener: (event: M[K]) => void): Unsubscribe {
    let set = this.listeners.get(kind);
    if (!set) {
      set = new Set();
      this.listeners.set(kind, set);
    }
    const stored = listener as (event: never) => void;
    set.add(stored);
    return () => set.delete(stored);
  }

  emit<K extends keyof M>(kind: K, event: M[K]): void {
    for (const listener of [...(this.listeners.get(kind) ?? [])]) {
      try {
        (listener as (event: M[K]) => void)(event);
      } catch (err) {
        this.onListenerError(kind, err);
      }
    }
  }
}
