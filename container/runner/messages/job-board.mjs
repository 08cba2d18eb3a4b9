// The messages in flight in this container, across every channel connection.
// Invariants:
// - One run per message id. A delivery of an id that is already running
//   (napbox reconnected and delivered it again) joins that run: its frames
//   from then on go to the new connection as well.
// - One message per session at a time. A delivery for a session busy with
//   another id is answered with a retryable error, not run beside it (napbox
//   never does this; a runner that allowed it would let two agents share one
//   session folder).
// - A reply is kept for a while (bounded by count and age), so a message
//   answered while no connection was listening is answered again from memory
//   when napbox delivers it again, without running the agent twice. Errors are
//   not kept: delivering a failed message again runs it again.
// - A listener always gets exactly one outcome, after its progress chunks;
//   `run` never rejects (it returns error outcomes).

export class JobBoard {
  #running = new Map(); // id -> { session, listeners: Set, controller }
  #busySessions = new Map(); // session -> id
  #replies = new Map(); // id -> { text, at }, oldest first

  constructor({ run, now = Date.now, keepRepliesMs = 15 * 60_000, keepReplies = 256 }) {
    this.run = run;
    this.now = now;
    this.keepRepliesMs = keepRepliesMs;
    this.keepReplies = keepReplies;
  }

  /** Ids being processed now, oldest first. */
  working() {
    return [...this.#running.keys()];
  }

  /**
   * Takes a delivery for `listener` ({ progress(text), settle(outcome) }).
   * Returns what happened: 'started', 'joined', 'replayed' or 'busy'.
   */
  submit(delivery, listener) {
    this.#forgetOldReplies();
    const kept = this.#replies.get(delivery.id);
    if (kept) {
      listener.settle({ kind: 'reply', text: kept.text });
      return 'replayed';
    }
    const running = this.#running.get(delivery.id);
    if (running) {
      running.listeners.add(listener);
      return 'joined';
    }
    const busyWith = this.#busySessions.get(delivery.session);
    if (busyWith !== undefined) {
      listener.settle({
        kind: 'error',
        message: `session ${delivery.session} is busy with message ${busyWith}: deliver one message per session at a time`,
        retryable: true,
      });
      return 'busy';
    }
    this.#start(delivery, listener);
    return 'started';
  }

  /** Aborts every run (the runner is stopping); their listeners get retryable errors. */
  abortAll() {
    for (const job of this.#running.values()) job.controller.abort();
  }

  #start(delivery, listener) {
    const job = { session: delivery.session, listeners: new Set([listener]), controller: new AbortController() };
    this.#running.set(delivery.id, job);
    this.#busySessions.set(delivery.session, delivery.id);
    const onProgress = (text) => {
      for (const l of job.listeners) l.progress(text);
    };
    void Promise.resolve()
      .then(() => this.run(delivery, { signal: job.controller.signal, onProgress }))
      .catch((err) => ({ kind: 'error', message: `the runner failed: ${err instanceof Error ? err.message : String(err)}`, retryable: true }))
      .then((outcome) => {
        this.#running.delete(delivery.id);
        this.#busySessions.delete(delivery.session);
        if (outcome.kind === 'reply') this.#keep(delivery.id, outcome.text);
        for (const l of job.listeners) l.settle(outcome);
      });
  }

  #keep(id, text) {
    this.#replies.set(id, { text, at: this.now() });
    while (this.#replies.size > this.keepReplies) this.#replies.delete(this.#replies.keys().next().value);
  }

  #forgetOldReplies() {
    const oldest = this.now() - this.keepRepliesMs;
    for (const [id, kept] of this.#replies) {
      if (kept.at >= oldest) break;
      this.#replies.delete(id);
    }
  }
}
