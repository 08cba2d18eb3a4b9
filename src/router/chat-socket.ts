// The chat WebSocket at /_napbox/chat on a tenant's host (and
// /t/<slug>/_napbox/chat): napbox's own, never the container's. A client joins
// one session (?session=<id>), gets its history, sends
// {"type":"send","text","session"?,"id"?} frames and receives every event of
// the session live, as every other client of that session does.
//
// Invariant: a browser page may open it only from the tenant's own origin.
// Browsers send Origin on every WebSocket handshake and sibling tenant hosts
// are one site, so without this check a page on `evil.<base>` would chat on
// `priv.<base>` with the operator's session cookie. Accepted: no Origin (not
// a browser), the request's own host (the tenant's host, or napbox's base
// host for /t/), and `null` (the sandboxed, opaque-origin page under
// /t/<slug>/, tenant-proxy.ts) for a public tenant only, where no credential
// is at stake.

import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { asNapboxError, NapboxError } from '../errors.js';
import { refuseSocket } from '../api/error-response.js';
import { originKind } from '../api/request-origin.js';
import type { Logger } from '../log.js';
import { MAX_TEXT_BYTES, SESSION, type MessageService } from '../messages/message-service.js';

export class ChatSocket {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: MAX_TEXT_BYTES * 2 });

  constructor(
    private readonly messages: MessageService,
    private readonly logger: Logger,
    /** The tenant's visibility; undefined for no such tenant. */
    private readonly visibilityOf: (slug: string) => 'public' | 'private' | undefined,
  ) {}

  /** Handles an upgrade for `path` (the part after the tenant prefix, `/t/<slug>` or '' on the tenant's host). */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, slug: string, path: string, prefix: string): void {
    const url = new URL(path, 'http://tenant');
    const session = url.searchParams.get('session') ?? 'default';
    const refuse = (code: 'bad_request' | 'forbidden' | 'not_found', message: string): void => void refuseSocket(socket, new NapboxError(code, message));
    const visibility = this.visibilityOf(slug);
    if (visibility === undefined) return refuse('not_found', `no tenant ${slug}`);
    const origin = originKind(req);
    if (origin === 'other' || (origin === 'null' && !(prefix && visibility === 'public'))) {
      this.logger.info({ tenant: slug, origin: req.headers.origin }, 'chat socket refused: another origin');
      return refuse('forbidden', `the chat socket of ${slug} is opened only from ${slug}'s own pages`);
    }
    if (!SESSION.test(session)) return refuse('bad_request', 'session must be 1-64 letters, digits, _ or -');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.serve(ws, slug, session));
  }

  private serve(ws: WebSocket, slug: string, session: string): void {
    const send = (frame: object): void => {
      if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
    };
    const unsubscribe = this.messages.subscribe(slug, session, (event) => send(event));
    ws.once('close', unsubscribe);
    ws.on('error', () => undefined);
    send({ type: 'history', session, messages: this.messages.history(slug, session) });
    ws.on('message', (data) => {
      let frame: unknown;
      try {
        frame = JSON.parse(data.toString());
      } catch {
        return send({ type: 'error', error: 'bad_request', message: 'frames are JSON objects like {"type":"send","text":"hi"}' });
      }
      if (typeof frame !== 'object' || frame === null || (frame as { type?: unknown }).type !== 'send') {
        return send({ type: 'error', error: 'bad_request', message: 'the only frame a client sends is {"type":"send","text":...}' });
      }
      const { type: _type, ...input } = frame as Record<string, unknown>;
      try {
        // A new message reaches every client of the session (this one too) through the hub.
        const { message, created } = this.messages.accept(slug, { session, ...input });
        if (!created) send({ type: 'accepted', id: message.id, session: message.session, text: message.text, duplicate: true });
      } catch (err) {
        const error = asNapboxError(err);
        if (error.isServerFault) this.logger.error({ err: error, tenant: slug }, 'chat message not accepted');
        send({ type: 'error', ...error.toJSON() });
      }
    });
  }

  close(): void {
    for (const client of this.wss.clients) client.terminate();
    this.wss.close();
  }
}
