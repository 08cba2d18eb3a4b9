// A client for the napbox <-> runner channel (docs/container-contract.md),
// for tests and the bench: it plays napbox. It mints the channel token with
// jose, opens the WebSocket with it, waits for hello, delivers messages and
// collects what comes back. Every frame the runner sends is checked against
// the contract's schemas; a frame that does not fit, or a frame for a
// message after its final frame, is recorded in `violations` rather than
// thrown, so a test can assert on it at a point of its choosing.

import crypto from 'node:crypto';
import http from 'node:http';
import { SignJWT } from 'jose';
import WebSocket from 'ws';
import { z } from 'zod';

const TOKEN_ISSUER = 'napbox';
const TOKEN_AUDIENCE = 'napbox-runner';

const MessageId = z.string().min(1);

export const HelloFrame = z.object({ type: z.literal('hello'), tenant: z.string(), runner: z.string().min(1), protocol: z.literal(1) }).strict();
export const HeartbeatFrame = z
  .object({ type: z.literal('heartbeat'), at: z.string().refine((s) => !Number.isNaN(Date.parse(s)), 'an ISO time'), working: z.array(MessageId) })
  .strict();
const ProgressFrame = z.object({ type: z.literal('progress'), id: MessageId, text: z.string() }).strict();
const ReplyFrame = z.object({ type: z.literal('reply'), id: MessageId, text: z.string() }).strict();
const ErrorFrame = z.object({ type: z.literal('error'), id: MessageId, message: z.string().min(1), retryable: z.boolean() }).strict();
/** `id` is optional: a runner may name the message a bad deliver frame carried. */
export const ProtocolErrorFrame = z.object({ type: z.literal('protocol-error'), message: z.string().min(1), id: MessageId.optional() }).strict();

export const RunnerFrame = z.discriminatedUnion('type', [HelloFrame, HeartbeatFrame, ProgressFrame, ReplyFrame, ErrorFrame, ProtocolErrorFrame]);
export type RunnerFrame = z.infer<typeof RunnerFrame>;
export type HelloFrame = z.infer<typeof HelloFrame>;
export type HeartbeatFrame = z.infer<typeof HeartbeatFrame>;
export type ProtocolErrorFrame = z.infer<typeof ProtocolErrorFrame>;

interface HistoryEntry {
  readonly role: 'user' | 'assistant';
  readonly text: string;
}

export interface Delivery {
  readonly id: string;
  readonly session: string;
  readonly text: string;
  readonly attempt?: number;
  readonly history?: readonly HistoryEntry[];
}

export interface DeliveryOutcome {
  readonly progress: string[];
  readonly reply?: string;
  readonly error?: { readonly message: string; readonly retryable: boolean };
  /** Milliseconds from sending the deliver frame to the final frame. */
  readonly ms: number;
}

export interface TokenOptions {
  readonly key: Uint8Array;
  readonly tenant: string;
  readonly issuer?: string;
  readonly audience?: string;
  /** Seconds since the epoch; default now + 5 minutes, as napbox does. */
  readonly expiresAt?: number;
  readonly issuedAt?: number;
  readonly alg?: 'HS256' | 'HS384' | 'HS512';
}

/** A channel token as napbox mints it; the options exist to mint bad ones too. */
export async function mintChannelToken(options: TokenOptions): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({})
    .setProtectedHeader({ alg: options.alg ?? 'HS256' })
    .setIssuer(options.issuer ?? TOKEN_ISSUER)
    .setAudience(options.audience ?? TOKEN_AUDIENCE)
    .setSubject(options.tenant)
    .setIssuedAt(options.issuedAt ?? now)
    .setExpirationTime(options.expiresAt ?? now + 300)
    .sign(options.key);
}

/** A fresh channel key: 32 random bytes, and their unpadded base64url for NAPBOX_CHANNEL_KEY. */
export function newChannelKey(): { bytes: Uint8Array; env: string } {
  const bytes = crypto.randomBytes(32);
  return { bytes, env: bytes.toString('base64url') };
}

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export interface UpgradeAttempt {
  /** The HTTP status of the answer, or 101 when the runner accepted the WebSocket. */
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly body: string;
}

/** Asks for the channel WebSocket with the given headers and reports the raw answer; an accepted socket is closed at once. */
export function attemptUpgrade(endpoint: Endpoint, headers: Record<string, string>, path = '/channel'): Promise<UpgradeAttempt> {
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: endpoint.host,
      port: endpoint.port,
      path,
      agent: false,
      timeout: 5000,
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': crypto.randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.once('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: 101, headers: res.headers, body: '' });
    });
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      res.on('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error('no answer to the upgrade within 5s')));
    req.once('error', reject);
    req.end();
  });
}

interface Pending {
  readonly progress: string[];
  readonly started: number;
  readonly resolve: (outcome: DeliveryOutcome) => void;
}

export interface ConnectOptions {
  readonly endpoint: Endpoint;
  readonly key: Uint8Array;
  readonly tenant: string;
  /** Milliseconds to wait for the socket and the hello frame. */
  readonly timeoutMs?: number;
}

export class RunnerChannelClient {
  readonly frames: RunnerFrame[] = [];
  readonly heartbeats: HeartbeatFrame[] = [];
  readonly protocolErrors: ProtocolErrorFrame[] = [];
  readonly violations: string[] = [];
  hello: HelloFrame | undefined;

  private readonly pending = new Map<string, Pending[]>();
  private readonly finished = new Set<string>();
  private readonly waiters = new Set<{ test: (f: RunnerFrame) => boolean; resolve: (f: RunnerFrame) => void }>();
  private readonly closed: Promise<number>;

  private constructor(private readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => ws.once('close', (code) => resolve(code)));
    ws.on('message', (data, isBinary) => this.receive(data as Buffer, isBinary));
  }

  /** Opens the channel with a fresh valid token and resolves once hello arrived. */
  static async connect(options: ConnectOptions): Promise<RunnerChannelClient> {
    const token = await mintChannelToken({ key: options.key, tenant: options.tenant });
    const ws = new WebSocket(`ws://${options.endpoint.host}:${options.endpoint.port}/channel`, { headers: { authorization: `Bearer ${token}` } });
    const client = new RunnerChannelClient(ws);
    const timeoutMs = options.timeoutMs ?? 5000;
    const hello = client.next((f) => f.type === 'hello', timeoutMs);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`the runner refused the channel: HTTP ${res.statusCode}`)));
    });
    client.hello = (await hello) as HelloFrame;
    return client;
  }

  /** Sends a deliver frame; resolves with the progress chunks and the final frame for that id. */
  deliver(message: Delivery): Promise<DeliveryOutcome> {
    return new Promise((resolve) => {
      const list = this.pending.get(message.id) ?? [];
      list.push({ progress: [], started: Date.now(), resolve });
      this.pending.set(message.id, list);
      this.finished.delete(message.id);
      this.send({ type: 'deliver', attempt: 1, history: [], ...message });
    });
  }

  /** Sends any JSON value as a frame. */
  send(frame: unknown): void {
    this.ws.send(JSON.stringify(frame));
  }

  /** Sends raw data as a text (or binary) frame, for malformed-frame tests. */
  sendRaw(data: string | Buffer, binary = false): void {
    this.ws.send(data, { binary });
  }

  /** The next frame (from now on) that passes `test`. */
  next(test: (frame: RunnerFrame) => boolean, timeoutMs = 5000): Promise<RunnerFrame> {
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (frame: RunnerFrame) => {
          clearTimeout(timer);
          resolve(frame);
        },
      };
      const timer = setTimeout(() => {
        this.waiters.delete(waiter);
        reject(new Error(`no matching frame within ${timeoutMs}ms; last frames: ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  get isOpen(): boolean {
    return this.ws.readyState === WebSocket.OPEN;
  }

  /** Resolves with the close code once the socket closed (whoever closed it). */
  whenClosed(): Promise<number> {
    return this.closed;
  }

  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(1000);
    const timer = setTimeout(() => this.ws.terminate(), 1000);
    await this.closed;
    clearTimeout(timer);
  }

  private receive(data: Buffer, isBinary: boolean): void {
    if (isBinary) {
      this.violations.push('binary frame from the runner');
      return;
    }
    let json: unknown;
    try {
      json = JSON.parse(data.toString('utf8'));
    } catch {
      this.violations.push(`frame is not JSON: ${data.toString('utf8').slice(0, 100)}`);
      return;
    }
    const parsed = RunnerFrame.safeParse(json);
    if (!parsed.success) {
      this.violations.push(`frame off contract: ${JSON.stringify(json).slice(0, 200)}: ${parsed.error.issues[0]?.message ?? ''}`);
      return;
    }
    const frame = parsed.data;
    this.frames.push(frame);
    if (frame.type === 'heartbeat') this.heartbeats.push(frame);
    if (frame.type === 'protocol-error') this.protocolErrors.push(frame);
    if (frame.type === 'progress' || frame.type === 'reply' || frame.type === 'error') this.track(frame);
    for (const waiter of [...this.waiters]) {
      if (waiter.test(frame)) {
        this.waiters.delete(waiter);
        waiter.resolve(frame);
      }
    }
  }

  private track(frame: Extract<RunnerFrame, { type: 'progress' | 'reply' | 'error' }>): void {
    const current = this.pending.get(frame.id)?.[0];
    if (!current) {
      this.violations.push(`${frame.type} for ${frame.id}, which is not in flight${this.finished.has(frame.id) ? ' (after its final frame)' : ''}`);
      return;
    }
    if (frame.type === 'progress') {
      current.progress.push(frame.text);
      return;
    }
    const list = this.pending.get(frame.id)!;
    list.shift();
    if (list.length === 0) {
      this.pending.delete(frame.id);
      this.finished.add(frame.id);
    }
    const ms = Date.now() - current.started;
    current.resolve(
      frame.type === 'reply'
        ? { progress: current.progress, reply: frame.text, ms }
        : { progress: current.progress, error: { message: frame.message, retryable: frame.retryable }, ms },
    );
  }
}
