// Who is listening to which session, live: the chat sockets subscribe, the
// dispatcher publishes progress, replies and failures, and long-polling API
// calls wait on a message's outcome. In memory only: the database is the
// record, this is just the doorbell.

import { EventEmitter } from 'node:events';

export type ChatEvent =
  | { readonly type: 'accepted'; readonly id: string; readonly session: string; readonly text: string }
  | { readonly type: 'progress'; readonly id: string; readonly session: string; readonly text: string }
  | { readonly type: 'reply'; readonly id: string; readonly session: string; readonly text: string }
  | { readonly type: 'failed'; readonly id: string; readonly session: string; readonly message: string };

type Listener = (event: ChatEvent) => void;

export class ChatHub {
  private readonly sessions = new Map<string, Set<Listener>>();
  private readonly settled = new EventEmitter();

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
    if (event.type === 'reply' || event.type === 'failed') this.settled.emit(event.id, event);
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
