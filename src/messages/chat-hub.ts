// Who is listening to which session, live: the chat sockets subscribe, the
// dispatcher publishes progress, replies and failures, and long-polling API
// calls wait on a message's outcome. In memory only: the database is the
// record, this is just the doorbell. It remembers the ids it announced as
// settled (bounded), so replies stored by another napbox process can be
// relayed once (reply-relay.ts).

import { EventEmitter } from 'node:events';

export type ChatEvent =
  | { readonly type: 'accepted'; readonly id: string; readonly session: string; readonly text: string }
  | { readonly type: 'progress'; readonly id: string; readonly session: string; readonly text: string }
  | { readonly type: 'reply'; readonly id: string; readonly session: string; readonly text: string }
  | { readonly type: 'failed'; readonly id: string; readonly session: string; readonly message: string };

type Listener = (event: ChatEvent) => void;

/** How many settled ids are remembered; far more than are settled in a relay's look-back window. */
const SETTLED_MEMORY = 10_000;

export class ChatHub {
  private readonly sessions = new Map<string, Set<Listener>>();
  private readonly settled = new EventEmitter();
  private readonly announced = new Set<string>();

  constructor() {
    this.settled.setMaxListeners(0);
  }

  subscribe(tenant: string, session: string, listener: Listener): () => void {
    const key = `${tenant}\0${session}`;
    let set = this.sessions.get(key);
    if (!set) {
      set = new Set();
      this.sessions.set(key, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.sessions.delete(key);
    };
  }

  publish(tenant: string, event: ChatEvent): void {
    for (const listener of this.sessions.get(`${tenant}\0${event.session}`) ?? []) listener(event);
    if (event.type === 'reply' || event.type === 'failed') {
      this.announced.add(event.id);
      if (this.announced.size > SETTLED_MEMORY) this.announced.delete(this.announced.values().next().value!);
      this.settled.emit(event.id, event);
    }
  }

  /** Whether this hub announced the message as settled (replied or failed). */
  hasAnnounced(id: string): boolean {
    return this.announced.has(id);
  }

  /** The sessions someone listens to now, as [tenant, session]. */
  listening(): Array<[string, string]> {
    return [...this.sessions.keys()].map((key) => key.split('\0') as [string, string]);
  }

  /** Resolves with the message's reply or failure, or undefined after `ms`. */
  waitSettled(id: string, ms: number): Promise<ChatEvent | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.settled.off(id, done);
        resolve(undefined);
      }, ms);
      const done = (event: ChatEvent): void => {
        clearTimeout(timer);
        resolve(event);
      };
      this.settled.once(id, done);
    });
  }
}
