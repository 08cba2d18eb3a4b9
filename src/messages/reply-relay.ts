// Replies stored by another napbox process on the same database
// (docs/scale-out.md) reach this process's chat sockets: while peers are
// alive, every `intervalMs` the sessions someone listens to here are read for
// messages settled in the last `lookBackMs`, and those this process's hub did
// not announce are announced once. Alone, it reads nothing.

import type { ChatHub } from './chat-hub.js';
import type { MessageStore } from './message-store.js';

export interface ReplyRelayDeps {
  readonly messages: MessageStore;
  readonly hub: ChatHub;
  /** True while another napbox process shares the database. */
  readonly hasPeers: () => boolean;
  readonly intervalMs?: number;
  readonly lookBackMs?: number;
  readonly clock?: () => number;
}

export class ReplyRelay {
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: () => number;

  constructor(private readonly deps: ReplyRelayDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  start(): void {
    this.timer = setInterval(() => {
      try {
        this.poll();
      } catch {
        // The database busy past its timeout: the next poll looks back far enough to catch up.
      }
    }, this.deps.intervalMs ?? 250);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** Announces the settled messages of listened-to sessions that this process has not announced. */
  poll(): void {
    const { hub, messages } = this.deps;
    const sessions = hub.listening();
    if (sessions.length === 0 || !this.deps.hasPeers()) return;
    const since = this.clock() - (this.deps.lookBackMs ?? 5000);
    for (const [tenant, session] of sessions) {
      for (const m of messages.settledSince(tenant, session, since)) {
        if (hub.hasAnnounced(m.id)) continue;
        if (m.state === 'done') hub.publish(tenant, { type: 'reply', id: m.id, session, text: m.reply ?? '' });
        else hub.publish(tenant, { type: 'failed', id: m.id, session, message: m.reason ?? 'failed' });
      }
    }
  }
}
