// napbox's end of the channel to a tenant's runner (docs/container-contract.md):
// a WebSocket napbox opens to the container's control port, authenticated by
// a short-lived HS256 JWT signed with the tenant's own channel key. napbox
// dials the container, never the reverse, so the channel works wherever the
// proxy works, remote engines included, and the container holds no
// credential for anything but its own channel.
//
// A channel is declared dead when it closes, or when the engine says the
// container stopped while messages were in flight; the pool then reports the
// message ids that were in flight, which go back to pending. A runner that is
// alive but silent (no timer heartbeat) is the sweep's to judge and restart.

import { signToken } from '../tokens.js';
import WebSocket from 'ws';
import { z } from 'zod';
import type { Logger } from '../log.js';
import type { Endpoint } from '../runtime/container-driver.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { TypedEvents } from '../typed-events.js';

export interface Delivery {
  readonly id: string;
  readonly session: string;
  readonly text: string;
  readonly attempt: number;
  readonly history: ReadonlyArray<{ role: 'user' | 'assistant'; text: string }>;
}

const MAX_TEXT = 1024 * 1024;
/** How long a runner may refuse its channel after its tenant was found ready (it starts beside the app). */
const CONNECT_RETRY_MS = 10_000;
const FrameSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello'), tenant: z.string(), runner: z.string().optional(), protocol: z.number().optional() }),
  z.object({ type: z.literal('heartbeat'), at: z.string().optional(), working: z.array(z.string()).optional() }),
  z.object({ type: z.literal('progress'), id: z.string(), text: z.string().max(MAX_TEXT) }),
  z.object({ type: z.literal('reply'), id: z.string(), text: z.string().max(MAX_TEXT) }),
  z.object({ type: z.literal('error'), id: z.string(), message: z.string().max(MAX_TEXT), retryable: z.boolean() }),
  z.object({ type: z.literal('protocol-error'), message: z.string(), id: z.string().optional() }),
  z.object({
    type: z.literal('lease'),
    name: z.string().regex(/^[A-Za-z0-9_. -]{1,64}$/),
    ttlMs: z
      .number()
      .int()
      .min(1)
      .max(24 * 3_600_000),
  }),
  z.object({ type: z.literal('release'), name: z.string().max(64) }),
]);
export type RunnerFrame = z.infer<typeof FrameSchema>;

interface ChannelEventMap {
  /** A valid frame from a tenant's runner (hello is the pool's own). */
  readonly frame: { readonly slug: string; readonly frame: RunnerFrame };
  /** The channel is gone; `inFlight` were delivered on it and never answered. */
  readonly closed: { readonly slug: string; readonly inFlight: string[]; readonly why: string };
}

export interface ChannelPoolDeps {
  readonly channelKey: (slug: string) => string;
  /** False once the tenant's container is known to be no longer running. */
  readonly stillRunning: (slug: string) => Promise<boolean>;
  readonly logger: Logger;
  readonly checkEveryMs: number;
  readonly clock?: () => number;
}

function channelToken(slug: string, keyBase64url: string, nowMs: number): Promise<string> {
  return signToken(new Uint8Array(Buffer.from(keyBase64url, 'base64url')), { audience: 'napbox-runner', subject: slug, ttlSeconds: 300, nowMs });
}

export class RunnerChannel {
  readonly inFlight = new Set<string>();
  lastFrameAt: number;
  private closedWhy: string | undefined;

  constructor(
    readonly slug: string,
    readonly containerId: string,
    private readonly ws: WebSocket,
    now: number,
  ) {
    this.lastFrameAt = now;
  }

  get open(): boolean {
    return this.closedWhy === undefined && this.ws.readyState === WebSocket.OPEN;
  }

  deliver(delivery: Delivery): void {
    this.inFlight.add(delivery.id);
    this.ws.send(JSON.stringify({ type: 'deliver', ...delivery }));
  }

  /** Ends the channel; the first reason given is the one reported. */
  kill(why: string): void {
    this.closedWhy ??= why;
    this.ws.terminate();
  }

  get why(): string {
    return this.closedWhy ?? 'runner closed the channel';
  }
}

export class ChannelPool {
  private readonly channels = new Map<string, RunnerChannel>();
  private readonly connecting = new Map<string, Promise<RunnerChannel>>();
  private readonly clock: () => number;
  private watchdog: NodeJS.Timeout | undefined;
  /** What the runners say, and which channels closed (the dispatcher listens). */
  readonly events: TypedEvents<ChannelEventMap>;

  constructor(private readonly deps: ChannelPoolDeps) {
    this.clock = deps.clock ?? Date.now;
    this.events = new TypedEvents<ChannelEventMap>((kind, err) => deps.logger.error({ err, event: kind }, 'a runner channel listener failed'));
  }

  /** Starts the watchdog that declares channels dead whose container stopped. */
  start(): void {
    this.watchdog ??= setInterval(() => void this.check(), this.deps.checkEveryMs);
    this.watchdog.unref();
  }

  /** An open channel to the tenant's current container, connecting when needed. */
  get(slug: string, containerId: string, control: Endpoint): Promise<RunnerChannel> {
    const existing = this.channels.get(slug);
    if (existing?.open && existing.containerId === containerId) return Promise.resolve(existing);
    if (existing) existing.kill('replaced by a channel to a new container');
    const pending = this.connecting.get(slug);
    if (pending !== undefined) return pending;
    const attempt = this.connect(slug, containerId, control).finally(() => this.connecting.delete(slug));
    this.connecting.set(slug, attempt);
    return attempt;
  }

  /**
   * Connects, trying again while the runner refuses connections: napbox may find a tenant ready (its app
   * accepts) while the runner beside it is still starting, for up to CONNECT_RETRY_MS.
   */
  private async connect(slug: string, containerId: string, control: Endpoint): Promise<RunnerChannel> {
    const deadline = this.clock() + CONNECT_RETRY_MS;
    for (;;) {
      try {
        return await this.open(slug, containerId, control);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED' || this.clock() >= deadline) throw err;
        await sleep(10);
      }
    }
  }

  private async open(slug: string, containerId: string, control: Endpoint): Promise<RunnerChannel> {
    const token = await channelToken(slug, this.deps.channelKey(slug), this.clock());
    const ws = new WebSocket(`ws://${control.host}:${control.port}/channel`, {
      headers: { authorization: `Bearer ${token}` },
      handshakeTimeout: 5000,
      maxPayload: 4 * MAX_TEXT,
    });
    const channel = new RunnerChannel(slug, containerId, ws, this.clock());
    let opened = false;
    await new Promise<void>((resolve, reject) => {
      const fail = (err: Error): void =>
        reject(Object.assign(new Error(`runner channel of ${slug}: ${err.message}`), { code: (err as NodeJS.ErrnoException).code }));
      ws.once('error', fail);
      ws.once('unexpected-response', (_req, res) => fail(new Error(`runner refused the channel with HTTP ${res.statusCode}`)));
      ws.on('message', (data) => {
        channel.lastFrameAt = this.clock();
        const frame = this.parse(slug, data);
        if (!frame) return;
        if (frame.type === 'hello') {
          if (frame.tenant !== slug) return channel.kill(`runner says it serves ${frame.tenant}, not ${slug}`);
          opened = true;
          ws.off('error', fail);
          ws.on('error', () => undefined);
          resolve();
          return;
        }
        if (frame.type === 'reply' || frame.type === 'error') channel.inFlight.delete(frame.id);
        this.events.emit('frame', { slug, frame });
      });
      ws.once('close', () => {
        reject(new Error(`runner channel of ${slug} closed before hello`));
        if (!opened) return; // never open: the caller hears of it from connect(), nothing was delivered on it
        if (this.channels.get(slug) === channel) this.channels.delete(slug);
        const inFlight = [...channel.inFlight];
        channel.inFlight.clear();
        this.events.emit('closed', { slug, inFlight, why: channel.why });
      });
    });
    this.channels.set(slug, channel);
    return channel;
  }

  private parse(slug: string, data: WebSocket.RawData): RunnerFrame | undefined {
    let value: unknown;
    try {
      value = JSON.parse(data.toString());
    } catch {
      this.deps.logger.warn({ tenant: slug }, 'runner sent a frame that is not JSON');
      return undefined;
    }
    const parsed = FrameSchema.safeParse(value);
    if (!parsed.success) {
      this.deps.logger.warn({ tenant: slug, type: (value as { type?: unknown })?.type }, 'runner sent an invalid frame');
      return undefined;
    }
    return parsed.data;
  }

  /**
   * Declares channels dead whose container stopped under messages in flight.
   * Silence alone is not judged here: the sweep reads heartbeats (liveness)
   * and restarts a runner that is stuck.
   */
  private async check(): Promise<void> {
    for (const channel of this.channels.values()) {
      if (channel.inFlight.size > 0 && !(await this.deps.stillRunning(channel.slug).catch(() => true))) {
        channel.kill('container stopped while processing');
      }
    }
  }

  close(slug: string, why: string): void {
    this.channels.get(slug)?.kill(why);
  }

  closeAll(): void {
    clearInterval(this.watchdog);
    this.watchdog = undefined;
    for (const channel of this.channels.values()) channel.kill('napbox shutting down');
  }
}
