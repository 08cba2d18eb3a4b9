// Accepting chat messages, from any ingress (admin API, chat socket, CLI):
// validate, store durably, then hand to the dispatcher. A sender hears
// "accepted" only after the message is in the database.

import { z } from 'zod';
import { firstIssue, NapboxError } from '../errors.js';
import type { ActivityTracker } from '../tenants/activity.js';
import { assertSlug } from '../model/slug.js';
import type { TenantStore } from '../tenants/tenant-store.js';
import type { ChatHub, ChatEvent } from './chat-hub.js';
import type { Dispatcher } from './dispatcher.js';
import type { Message, MessageStore } from './message-store.js';

export const MAX_TEXT_BYTES = 64 * 1024;
const SETTLED_POLL_MS = 250;
export const SESSION = /^[A-Za-z0-9_-]{1,64}$/;
/** C0 controls but tab, newline and carriage return: never part of a message a person or an agent writes, and NUL ends strings in C. */
const CONTROL = /[\u0000-\u0008\u000B\u000C\u000E-\u001F]/;

const SendSchema = z
  .object({
    text: z
      .string()
      .min(1, 'text must not be empty')
      .refine((t) => Buffer.byteLength(t) <= MAX_TEXT_BYTES, `text must be at most ${MAX_TEXT_BYTES} bytes`)
      .refine((t) => t.trim().length > 0, 'text must not be blank')
      .refine((t) => !CONTROL.test(t), 'text must not contain control characters (NUL and other C0 controls) other than tab, newline and carriage return'),
    session: z.string().regex(SESSION, 'session must be 1-64 letters, digits, _ or -').default('default'),
    id: z
      .string()
      .regex(/^[A-Za-z0-9_.:-]{1,128}$/, 'id must be 1-128 letters, digits or _.:-')
      .optional(),
  })
  .strict();

export interface MessageView {
  readonly id: string;
  readonly session: string;
  readonly state: string;
  readonly text: string;
  readonly reply: string | null;
  readonly tries: number;
  readonly reason: string | null;
  readonly createdAt: string;
  readonly repliedAt: string | null;
}

function messageView(m: Message): MessageView {
  return {
    id: m.id,
    session: m.session,
    state: m.state,
    text: m.text,
    reply: m.reply,
    tries: m.tries,
    reason: m.reason,
    createdAt: new Date(m.createdAt).toISOString(),
    repliedAt: m.repliedAt === null ? null : new Date(m.repliedAt).toISOString(),
  };
}

/** A session's messages as a conversation: each message in, and its reply out once there is one. */
export function conversation(messages: readonly Message[]): Array<{ id: string; direction: 'in' | 'out'; text: string; state: string }> {
  return messages.flatMap((m) => [
    { id: m.id, direction: 'in' as const, text: m.text, state: m.state },
    ...(m.reply === null ? [] : [{ id: m.id, direction: 'out' as const, text: m.reply, state: m.state }]),
  ]);
}

export interface MessageServiceDeps {
  readonly messages: MessageStore;
  readonly tenants: TenantStore;
  readonly dispatcher: Dispatcher;
  readonly activity: ActivityTracker;
  readonly hub: ChatHub;
  readonly clock?: () => number;
}

export class MessageService {
  private readonly clock: () => number;

  constructor(private readonly deps: MessageServiceDeps) {
    this.clock = deps.clock ?? Date.now;
  }

  /** Validates and stores a message; resolves once it is durable. */
  accept(slugInput: string, input: unknown): { message: MessageView; created: boolean } {
    const slug = assertSlug(slugInput);
    this.deps.tenants.require(slug);
    const parsed = SendSchema.safeParse(input);
    if (!parsed.success) {
      throw new NapboxError('bad_request', `invalid ${firstIssue(parsed.error, 'message')}`);
    }
    const { text, session, id } = parsed.data;
    const { message, created } = this.deps.messages.accept({ tenant: slug, session, text, clientId: id }, this.clock());
    if (created) {
      this.deps.activity.touch(slug, 'message');
      this.deps.hub.publish(slug, { type: 'accepted', id: message.id, session, text });
      this.deps.dispatcher.kick(slug);
    }
    return { message: messageView(message), created };
  }

  /** A failed message delivered again, as if new (its tries start over); 409 when it is not failed. */
  retry(slugInput: string, id: string): MessageView {
    const slug = assertSlug(slugInput);
    const message = this.deps.messages.get(id);
    if (!message || message.tenant !== slug) throw new NapboxError('not_found', `no message ${id} for tenant ${slug}`);
    if (!this.deps.messages.retry(id, this.clock()))
      throw new NapboxError('conflict', `message ${id} is ${message.state}, not failed: only a failed message can be retried`);
    this.deps.dispatcher.kick(slug);
    return messageView(this.deps.messages.require(id));
  }

  list(slugInput: string, session: string | null): MessageView[] {
    const slug = assertSlug(slugInput);
    this.deps.tenants.require(slug);
    if (session === null || !SESSION.test(session)) throw new NapboxError('bad_request', 'give ?session=<id>: 1-64 letters, digits, _ or -');
    return this.deps.messages.listSession(slug, session).map(messageView);
  }

  /** The message, waiting up to `waitMs` for its reply or failure. */
  async get(slugInput: string, id: string, waitMs: number): Promise<MessageView> {
    const slug = assertSlug(slugInput);
    const message = this.deps.messages.get(id);
    if (!message || message.tenant !== slug) throw new NapboxError('not_found', `no message ${id} for tenant ${slug}`);
    if (waitMs > 0 && (message.state === 'pending' || message.state === 'processing')) await this.waitSettled(id, waitMs);
    return messageView(this.deps.messages.require(id));
  }

  /**
   * Until the message is settled or `waitMs` passed: this process's hub rings
   * at once; a reply stored by another napbox process on the same database
   * (docs/scale-out.md) is seen by reading the row every SETTLED_POLL_MS.
   */
  private async waitSettled(id: string, waitMs: number): Promise<void> {
    const deadline = Date.now() + waitMs;
    let rang = false;
    const settled = this.deps.hub.waitSettled(id, waitMs).then(() => (rang = true));
    while (!rang && Date.now() < deadline) {
      await Promise.race([settled, new Promise((resolve) => setTimeout(resolve, Math.min(SETTLED_POLL_MS, deadline - Date.now())))]);
      const state = this.deps.messages.get(id)?.state;
      if (state !== 'pending' && state !== 'processing') return;
    }
  }

  subscribe(slug: string, session: string, listener: (event: ChatEvent) => void): () => void {
    return this.deps.hub.subscribe(slug, session, listener);
  }

  history(slug: string, session: string): ReturnType<typeof conversation> {
    return conversation(this.deps.messages.listSession(slug, session));
  }
}
