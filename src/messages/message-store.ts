// The messages table: the durable inbox and the record of every reply.
//
// Invariants:
// - A message is acknowledged to its sender only after its INSERT committed
//   (the database runs with synchronous=FULL).
// - A reply is stored at most once per message: `complete` only writes a
//   message that has none, so a message delivered twice (after a crash) keeps
//   its first reply.
// - Per session, only the oldest open message can be delivered, and only when
//   none of the session is being processed: one at a time, in order.
// - A message is claimed for delivery by one guarded UPDATE (pending ->
//   processing) that also records which napbox process claimed it, so of
//   several processes sharing the database exactly one delivers it, and only
//   the messages of a process that died are requeued (docs/scale-out.md).

import crypto from 'node:crypto';
import { z } from 'zod';
import type { Db } from '../db/database.js';
import { NapboxError } from '../errors.js';
import { IdRow, StateCountRow, row as dbRow, rows, type StateCount } from '../db/rows.js';

const AtRow = z.object({ at: z.number().nullable() });
const TenantRow = z.object({ tenant: z.string() });
const OwnedRow = z.object({ id: z.string(), tenant: z.string(), owner: z.string().nullable() });

const MESSAGE_STATES = ['pending', 'processing', 'done', 'failed'] as const;
type MessageState = (typeof MESSAGE_STATES)[number];

const RowSchema = z.object({
  seq: z.number().int(),
  id: z.string(),
  tenant: z.string(),
  session: z.string(),
  client_id: z.string().nullable(),
  text: z.string(),
  state: z.enum(MESSAGE_STATES),
  tries: z.number().int().min(0),
  reason: z.string().nullable(),
  created_at: z.number().int(),
  updated_at: z.number().int(),
  next_attempt_at: z.number().int(),
  reply: z.string().nullable(),
  replied_at: z.number().int().nullable(),
});

export interface Message {
  readonly seq: number;
  readonly id: string;
  readonly tenant: string;
  readonly session: string;
  readonly clientId: string | null;
  readonly text: string;
  readonly state: MessageState;
  readonly tries: number;
  readonly reason: string | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly nextAttemptAt: number;
  readonly reply: string | null;
  readonly repliedAt: number | null;
}

function toMessage(raw: unknown): Message {
  const r = RowSchema.parse(raw);
  return {
    seq: r.seq,
    id: r.id,
    tenant: r.tenant,
    session: r.session,
    clientId: r.client_id,
    text: r.text,
    state: r.state,
    tries: r.tries,
    reason: r.reason,
    createdAt: r.created_at,
    updatedAt: r.updated_at,
    nextAttemptAt: r.next_attempt_at,
    reply: r.reply,
    repliedAt: r.replied_at,
  };
}

export interface NewMessage {
  readonly tenant: string;
  readonly session: string;
  readonly text: string;
  readonly clientId?: string | undefined;
}

export class MessageStore {
  constructor(
    private readonly db: Db,
    private readonly newId: () => string = () => `m_${crypto.randomBytes(9).toString('base64url')}`,
  ) {}

  /** Stores a message; with a client id already used, returns the stored one (created: false). */
  accept(input: NewMessage, now: number): { message: Message; created: boolean } {
    return this.db
      .transaction(() => {
        if (input.clientId !== undefined) {
          const existing = this.db.prepare('SELECT * FROM messages WHERE tenant = ? AND client_id = ?').get(input.tenant, input.clientId);
          if (existing) {
            const message = toMessage(existing);
            if (message.session !== input.session || message.text !== input.text) {
              throw new NapboxError('conflict', `message id ${input.clientId} was already used for a different message`);
            }
            return { message, created: false };
          }
        }
        const id = this.newId();
        this.db
          .prepare(
            `INSERT INTO messages (id, tenant, session, client_id, text, state, created_at, updated_at, next_attempt_at)
             VALUES (?, ?, ?, ?, ?, 'pending', ?, ?, ?)`,
          )
          .run(id, input.tenant, input.session, input.clientId ?? null, input.text, now, now, now);
        return { message: this.require(id), created: true };
      })
      .immediate();
  }

  get(id: string): Message | undefined {
    const row = this.db.prepare('SELECT * FROM messages WHERE id = ?').get(id);
    return row === undefined ? undefined : toMessage(row);
  }

  require(id: string): Message {
    const message = this.get(id);
    if (!message) throw new NapboxError('not_found', `no message ${id}`);
    return message;
  }

  listSession(tenant: string, session: string, limit = 200): Message[] {
    return this.db
      .prepare('SELECT * FROM (SELECT * FROM messages WHERE tenant = ? AND session = ? ORDER BY seq DESC LIMIT ?) ORDER BY seq')
      .all(tenant, session, limit)
      .map(toMessage);
  }

  /** The session's messages replied to or failed after `since` (by any napbox process), oldest first. */
  settledSince(tenant: string, session: string, since: number): Message[] {
    return this.db
      .prepare("SELECT * FROM messages WHERE tenant = ? AND session = ? AND state IN ('done', 'failed') AND updated_at > ? ORDER BY seq")
      .all(tenant, session, since)
      .map(toMessage);
  }

  /** Per session, its oldest open message when that one is pending and due. */
  deliverable(tenant: string, now: number): Message[] {
    return this.db
      .prepare(
        `SELECT m.* FROM messages m
         WHERE m.tenant = ? AND m.state = 'pending' AND m.next_attempt_at <= ?
           AND m.seq = (SELECT min(x.seq) FROM messages x
                        WHERE x.tenant = m.tenant AND x.session = m.session AND x.state IN ('pending', 'processing'))
         ORDER BY m.seq`,
      )
      .all(tenant, now)
      .map(toMessage);
  }

  /** When the next pending message of the tenant that is waiting out a backoff falls due, if any. */
  nextDueAt(tenant: string, after: number): number | undefined {
    const row = this.db
      .prepare("SELECT min(next_attempt_at) AS at FROM messages WHERE tenant = ? AND state = 'pending' AND next_attempt_at > ?")
      .get(tenant, after);
    return dbRow(AtRow, row, 'messages').at ?? undefined;
  }

  /** Tenants with a pending message that is due now: the sweep's safety net kicks them. */
  tenantsWithDueMessages(now: number): string[] {
    return rows(TenantRow, this.db.prepare("SELECT DISTINCT tenant FROM messages WHERE state = 'pending' AND next_attempt_at <= ?").all(now), 'messages').map(
      (r) => r.tenant,
    );
  }

  tenantsWithOpenMessages(): string[] {
    return rows(TenantRow, this.db.prepare("SELECT DISTINCT tenant FROM messages WHERE state IN ('pending', 'processing')").all(), 'messages').map(
      (r) => r.tenant,
    );
  }

  /** How many messages are in each state (metrics). */
  countByState(): StateCount[] {
    return rows(StateCountRow, this.db.prepare('SELECT state, count(*) AS n FROM messages GROUP BY state').all(), 'messages');
  }

  countOpen(tenant: string): { pending: number; processing: number } {
    const counts = rows(
      StateCountRow,
      this.db.prepare("SELECT state, count(*) AS n FROM messages WHERE tenant = ? AND state IN ('pending','processing') GROUP BY state").all(tenant),
      'messages',
    );
    return { pending: counts.find((r) => r.state === 'pending')?.n ?? 0, processing: counts.find((r) => r.state === 'processing')?.n ?? 0 };
  }

  processingIds(tenant: string): string[] {
    return rows(IdRow, this.db.prepare("SELECT id FROM messages WHERE tenant = ? AND state = 'processing' ORDER BY seq").all(tenant), 'messages').map(
      (r) => r.id,
    );
  }

  /** pending -> processing, counting a try, claimed by `owner` (a napbox process). False when it was not pending (someone else took it). */
  markProcessing(id: string, now: number, owner: string | null = null): boolean {
    return (
      this.db
        .prepare("UPDATE messages SET state = 'processing', tries = tries + 1, updated_at = ?, reason = NULL, owner = ? WHERE id = ? AND state = 'pending'")
        .run(now, owner, id).changes > 0
    );
  }

  /** Messages being processed by a napbox process not in `live` (it died) go back to pending; returns them. */
  requeueOrphaned(live: readonly string[], reason: string, now: number): Array<{ id: string; tenant: string }> {
    return this.db
      .transaction(() => {
        const found = rows(OwnedRow, this.db.prepare("SELECT id, tenant, owner FROM messages WHERE state = 'processing'").all(), 'messages').filter(
          (r) => r.owner === null || !live.includes(r.owner),
        );
        const update = this.db.prepare(
          "UPDATE messages SET state = 'pending', reason = ?, next_attempt_at = ?, updated_at = ? WHERE id = ? AND state = 'processing'",
        );
        for (const r of found) update.run(reason, now, now, r.id);
        return found.map((r) => ({ id: r.id, tenant: r.tenant }));
      })
      .immediate();
  }

  /** This process's messages being processed go back to pending (it is shutting down); returns their ids. */
  requeueOwned(owner: string, reason: string, now: number): string[] {
    return this.db
      .prepare("UPDATE messages SET state = 'pending', reason = ?, next_attempt_at = ?, updated_at = ? WHERE state = 'processing' AND owner = ? RETURNING id")
      .all(reason, now, now, owner)
      .map((r) => (r as { id: string }).id);
  }

  /** Stores the reply unless one is stored already; true when this call stored it. */
  complete(id: string, reply: string, now: number): boolean {
    return (
      this.db
        .prepare(
          "UPDATE messages SET state = 'done', reply = ?, replied_at = ?, updated_at = ?, reason = NULL WHERE id = ? AND reply IS NULL AND state IN ('pending', 'processing')",
        )
        .run(reply, now, now, id).changes > 0
    );
  }

  /** A try failed: back to pending until `retryAt`, or failed for good when `retryAt` is undefined. */
  fail(id: string, reason: string, retryAt: number | undefined, now: number): void {
    if (retryAt === undefined) {
      this.db
        .prepare("UPDATE messages SET state = 'failed', reason = ?, updated_at = ? WHERE id = ? AND state IN ('pending', 'processing')")
        .run(reason, now, id);
    } else {
      this.db
        .prepare("UPDATE messages SET state = 'pending', reason = ?, next_attempt_at = ?, updated_at = ? WHERE id = ? AND state IN ('pending', 'processing')")
        .run(reason, retryAt, now, id);
    }
  }

  /** A failed message goes back to pending with its tries reset (an admin's retry); false when it is not failed. */
  retry(id: string, now: number): boolean {
    return (
      this.db
        .prepare("UPDATE messages SET state = 'pending', tries = 0, reason = NULL, next_attempt_at = ?, updated_at = ? WHERE id = ? AND state = 'failed'")
        .run(now, now, id).changes > 0
    );
  }

  /** Messages being processed go back to pending (their runner or napbox went away); returns their ids. */
  requeueProcessing(tenant: string | undefined, reason: string, now: number): string[] {
    return this.db
      .transaction(() => {
        const found = rows(
          IdRow,
          tenant === undefined
            ? this.db.prepare("SELECT id FROM messages WHERE state = 'processing'").all()
            : this.db.prepare("SELECT id FROM messages WHERE state = 'processing' AND tenant = ?").all(tenant),
          'messages',
        );
        const update = this.db.prepare(
          "UPDATE messages SET state = 'pending', reason = ?, next_attempt_at = ?, updated_at = ? WHERE id = ? AND state = 'processing'",
        );
        for (const r of found) update.run(reason, now, now, r.id);
        return found.map((r) => r.id);
      })
      .immediate();
  }

  /** The session's finished exchanges before `seq`, oldest first, for providers that keep a conversation. */
  history(tenant: string, session: string, beforeSeq: number, limit = 50): Array<{ role: 'user' | 'assistant'; text: string }> {
    const rows = this.db
      .prepare("SELECT * FROM (SELECT * FROM messages WHERE tenant = ? AND session = ? AND seq < ? AND state = 'done' ORDER BY seq DESC LIMIT ?) ORDER BY seq")
      .all(tenant, session, beforeSeq, limit)
      .map(toMessage);
    return rows.flatMap((m) => [
      { role: 'user' as const, text: m.text },
      { role: 'assistant' as const, text: m.reply ?? '' },
    ]);
  }
}
