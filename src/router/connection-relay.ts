// The fast path for warm tenants: a client connection whose requests are all
// for one running tenant's host is relayed to the container as bytes, with
// each request head read strictly (request-head.ts) and rewritten
// (forwarded-headers.ts), and each response's framing followed
// (response-framing.ts), but no HTTP objects built per request. Everything
// else (base host, /t/<slug>/, /_napbox/, upgrades, chunked bodies, sleeping
// or private tenants) is handed to Node's HTTP server, which holds, wakes and
// proxies as usual.
//
// Invariants:
// - A connection is relayed only from a request boundary, and handed back
//   only at one, once every request relayed before has been answered in full:
//   no byte is forwarded twice or lost, and pipelined requests are answered
//   in order.
// - Only well-formed heads are forwarded; a malformed one is answered 400
//   (431 if too large) and the connection closed, so an app can never read a
//   request napbox did not check.
// - /_napbox/ paths never reach a container (decided on the normalised path):
//   a request for one ends the relay and goes to napbox's own handler.
// - A request head must be complete within headTimeoutMs of the connection
//   opening or of its first byte (else 408 and close); an idle keep-alive
//   connection is closed after idleTimeoutMs.
// - Requests in flight on relayed connections hold their tenant, as on the
//   slow path: from the first request forwarded until every response ended.
// - Nothing a client sends can throw out of here: a bug is logged and only
//   its connection closed.
// Not kept here: the app's Set-Cookie headers are relayed as sent
// (tenant-set-cookie.ts's rule applies on the HTTP forward only), since
// responses go on as bytes, their heads unparsed. A warm public tenant's
// answer on its own host can so set a cookie for the parent domain, which
// its page's script can anyway (document.cookie): napbox's cookie readers
// skip such planted cookies, and behind https its names are `__Host-` ones.
// Measured on this 2-core machine: a byte relay serves about 0.6 of what the
// container serves directly; a Node HTTP-level proxy about 0.3 to 0.4.

import net from 'node:net';
import type { Logger } from '../log.js';
import type { ActivityTracker } from '../tenants/activity.js';
import type { Lifecycle } from '../tenants/lifecycle.js';
import { forwardedHeaders, type TrustedProxies } from './forwarded-headers.js';
import { closeAfter, refuseSocket } from '../api/error-response.js';
import { NapboxError } from '../errors.js';
import { MAX_HEAD, bareLineEnd, headEnd, isTchar, parseHead, serializeHead, type RequestHead } from './request-head.js';
import { resolveTarget, type Target } from './resolve-target.js';
import { ResponseFraming } from './response-framing.js';

export const DEFAULT_HEAD_TIMEOUT_MS = 10_000;
const CR = 13;
const LF = 10;
const EMPTY = Buffer.alloc(0);
const REFUSAL = { 400: 'bad_request', 408: 'request_timeout', 431: 'head_too_large' } as const;

export interface RelayDeps {
  readonly baseDomain: string;
  readonly lifecycle: Pick<Lifecycle, 'endpointOf' | 'forget'>;
  readonly activity: ActivityTracker;
  /** Gives a connection, with bytes already read pushed back, to the HTTP server. */
  readonly handOff: (socket: net.Socket) => void;
  /** Whether requests of this tenant may skip napbox's per-request checks (private tenants may not). */
  readonly mayRelay?: (slug: string) => boolean;
  readonly idleTimeoutMs?: number;
  /** How long a request head may take to arrive in full. */
  readonly headTimeoutMs?: number;
  /** Peers whose X-Forwarded-* are kept (appended to). */
  readonly trustedProxies?: TrustedProxies;
  /** Told of each relayed request's time to the first byte of its answer. */
  readonly answered?: (seconds: number) => void;
  readonly logger?: Logger;
}

export class ConnectionRelay {
  private readonly live = new Set<RelayedConnection>();
  private readonly headTimeoutMs: number;
  private sweep: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RelayDeps) {
    this.headTimeoutMs = deps.headTimeoutMs ?? DEFAULT_HEAD_TIMEOUT_MS;
  }

  accept(client: net.Socket): void {
    const connection = new RelayedConnection(client, this.deps, this.live, this.headTimeoutMs);
    this.live.add(connection);
    if (!this.sweep) {
      this.sweep = setInterval(() => this.expireHeads(), Math.max(25, Math.min(1000, this.headTimeoutMs / 4)));
      this.sweep.unref();
    }
    connection.start();
  }

  /** Closes the connections relayed to `slug` (it just became private: its next requests must be checked). */
  closeTenant(slug: string): number {
    let closed = 0;
    for (const connection of this.live) {
      if (connection.slug !== slug) continue;
      connection.destroy();
      closed += 1;
    }
    return closed;
  }

  /** Ends every connection still in the relay (shutdown). */
  closeAll(): void {
    clearInterval(this.sweep);
    this.sweep = undefined;
    for (const connection of this.live) connection.destroy();
    this.live.clear();
  }

  /** One timer for all connections: per-request work stays a field write. */
  private expireHeads(): void {
    const now = Date.now();
    for (const connection of this.live) {
      if (connection.headSince !== 0 && now - connection.headSince >= this.headTimeoutMs) connection.headTimedOut();
    }
  }
}

class RelayedConnection {
  /** When the head now awaited began (the connection's start, or its first byte); 0 while none is awaited. */
  headSince = Date.now();
  slug: string | undefined;
  private pending: Buffer = EMPTY;
  /** Bytes of an incomplete head at the front of `pending` already checked. */
  private scanned = 0;
  private bodyLeft = 0;
  private upstream: net.Socket | undefined;
  private connected = false;
  private readonly framing = new ResponseFraming(() => this.onAnswered());
  /** What to do once every relayed request is answered: hand back, or answer and close. */
  private finish: (() => void) | undefined;
  private endHold: (() => void) | undefined;
  private timing = false;
  private requestAt = 0;
  private done = false;
  private readonly peer: string;
  private readonly trusted: boolean;
  private readonly onData = (chunk: Buffer): void => {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    this.guard(() => this.pump());
  };
  private readonly onGone = (): void => this.destroy();
  private readonly onIdle = (): void => this.destroy();

  constructor(
    private readonly client: net.Socket,
    private readonly deps: RelayDeps,
    private readonly live: Set<RelayedConnection>,
    private readonly headTimeoutMs: number,
  ) {
    this.peer = client.remoteAddress ?? '';
    this.trusted = deps.trustedProxies?.trusts(this.peer) ?? false;
  }

  start(): void {
    this.client.setNoDelay(true);
    this.client.on('data', this.onData);
    this.client.on('error', this.onGone);
    this.client.on('close', this.onGone);
  }

  /** Runs `work`; a throw is a bug in napbox: logged, and only this connection pays for it. */
  private guard(work: () => void): void {
    try {
      work();
    } catch (err) {
      this.deps.logger?.error({ err, tenant: this.slug }, 'relay failed on a connection; closing it');
      this.destroy();
    }
  }

  private pump(): void {
    while (!this.done && this.finish === undefined && this.pending.length > 0) {
      if (this.upstream && !this.connected) return; // forwarded once connected; a refusal hands everything back
      if (this.bodyLeft > 0) {
        const n = Math.min(this.bodyLeft, this.pending.length);
        this.write(this.pending.subarray(0, n));
        this.bodyLeft -= n;
        this.pending = this.pending.subarray(n);
        continue;
      }
      if (this.pending[0] === CR || this.pending[0] === LF) {
        // RFC 9112 2.2: empty lines (CRLF) before a request line are ignored.
        if (this.pending.length === 1 && this.pending[0] === CR) return;
        if (this.pending[0] !== CR || this.pending[1] !== LF) return this.refuse(400, 'bare CR or LF before the request line (lines must end with CRLF)');
        this.pending = this.pending.subarray(2);
        continue;
      }
      const end = headEnd(this.pending, Math.max(0, this.scanned - 3));
      if (end === -1) return this.waitForHead();
      this.headSince = 0;
      this.scanned = 0;
      const parsed = parseHead(this.pending, end);
      if (!parsed.ok) return this.refuse(parsed.status, parsed.reason);
      const target = resolveTarget(parsed.head.host, parsed.head.target, this.deps.baseDomain);
      if (target.kind === 'bad-request') return this.refuse(400, target.reason);
      const slug = this.relayable(parsed.head, target);
      if (!slug || (this.slug !== undefined && slug !== this.slug)) return this.handBack();
      if (!this.upstream) return this.connect(slug);
      this.forward(parsed.head, end);
    }
  }

  /** An incomplete head: refused as soon as it cannot become a valid one; else its deadline runs. */
  private waitForHead(): void {
    if (!isTchar(this.pending[0]!)) return this.refuse(400, 'malformed request line (expected "METHOD /path HTTP/1.1")');
    if (bareLineEnd(this.pending, Math.max(0, this.scanned - 1)) !== -1)
      return this.refuse(400, 'bare CR or LF in the request head (lines must end with CRLF)');
    if (this.pending.length > MAX_HEAD) return this.refuse(431, 'request head too large');
    this.scanned = this.pending.length;
    if (this.headSince === 0) this.headSince = Date.now();
  }

  /** The tenant this request may be relayed to, if any. */
  private relayable(head: RequestHead, target: Target): string | undefined {
    if (head.upgrade || head.bodyLength === undefined) return undefined;
    if (target.kind !== 'tenant' || target.prefix !== '') return undefined;
    if (head.target.charCodeAt(0) !== 0x2f) return undefined; // absolute-form or `*`: the server path reads those
    if (!this.deps.lifecycle.endpointOf(target.slug)) return undefined;
    if (target.slug !== this.slug && this.deps.mayRelay && !this.deps.mayRelay(target.slug)) return undefined; // asked once per connection
    return target.slug;
  }

  private forward(head: RequestHead, end: number): void {
    const fields = forwardedHeaders(head.raw, { peer: this.peer, trusted: this.trusted, host: head.host ?? '', prefix: '', port: this.client.localPort });
    this.write(serializeHead(head, fields));
    this.framing.expect(head.method === 'HEAD');
    this.endHold ??= this.deps.activity.beginRequest(this.slug!);
    if (!this.timing) {
      this.timing = true;
      this.requestAt = performance.now();
    }
    this.bodyLeft = head.bodyLength ?? 0;
    this.pending = this.pending.subarray(end);
  }

  private connect(slug: string): void {
    const running = this.deps.lifecycle.endpointOf(slug);
    if (!running) return this.handBack();
    this.slug = slug;
    const upstream = net.connect({ host: running.app.host, port: running.app.port, noDelay: true });
    this.upstream = upstream;
    upstream.once('connect', () =>
      this.guard(() => {
        if (this.done) return;
        this.connected = true;
        this.client.setTimeout(this.deps.idleTimeoutMs ?? 65_000, this.onIdle);
        upstream.on('data', (chunk: Buffer) => this.guard(() => this.fromUpstream(upstream, chunk)));
        upstream.once('close', () => this.upstreamClosed());
        this.pump();
      }),
    );
    upstream.on('error', () => {
      if (this.connected || this.done) return; // 'close' follows
      // Nothing was sent: forget the stale address and let the slow path wake the tenant.
      this.deps.lifecycle.forget(slug);
      this.upstream = undefined;
      this.slug = undefined;
      this.guard(() => this.handBack());
    });
  }

  private fromUpstream(upstream: net.Socket, chunk: Buffer): void {
    if (this.timing) {
      this.timing = false;
      this.deps.answered?.((performance.now() - this.requestAt) / 1000);
    }
    if (!this.client.write(chunk)) {
      upstream.pause();
      this.client.once('drain', () => upstream.resume());
    }
    this.framing.feed(chunk); // after the write: a hand-back it triggers comes after these bytes
  }

  private onAnswered(): void {
    this.endHold?.();
    this.endHold = undefined;
    const finish = this.finish;
    this.finish = undefined;
    finish?.();
  }

  private write(bytes: Buffer): void {
    if (this.upstream && !this.upstream.write(bytes)) {
      this.client.pause();
      this.upstream.once('drain', () => {
        if (!this.finish && !this.done) this.client.resume();
      });
    }
  }

  /** Runs `action` once every relayed request has its whole answer. */
  private whenAnswered(action: () => void): void {
    if (this.framing.awaiting === 0) return action();
    // An answer that ends only at close (unframed) never calls back: the upstream's close then closes the client.
    this.finish = action;
    this.client.pause();
  }

  /** Gives the connection, from the current request boundary on, to the HTTP server. */
  private handBack(): void {
    this.whenAnswered(() => {
      this.release();
      this.client.setTimeout(0);
      this.client.removeListener('timeout', this.onIdle);
      if (this.pending.length > 0) this.client.unshift(this.pending);
      this.pending = EMPTY;
      this.deps.handOff(this.client);
      this.client.resume(); // it may have been paused here; the server reads from now on
    });
  }

  /** Answers `status` once the requests before are answered, then closes. */
  private refuse(status: 400 | 408 | 431, reason: string): void {
    this.whenAnswered(() => {
      this.release();
      const toHead = this.pending.subarray(0, 5).toString('latin1') === 'HEAD ';
      refuseSocket(this.client, new NapboxError(REFUSAL[status], reason), { head: toHead });
    });
  }

  headTimedOut(): void {
    if (this.done) return;
    if (this.framing.awaiting > 0) return this.destroy();
    this.refuse(408, `the request head did not arrive in full within ${this.headTimeoutMs / 1000}s`);
  }

  private upstreamClosed(): void {
    if (this.done) return;
    this.release();
    closeAfter(this.client); // after the bytes already relayed
  }

  /** Leaves the relay: the client socket is no longer ours to read; the upstream is closed. */
  private release(): void {
    if (this.done) return;
    this.done = true;
    this.live.delete(this);
    this.endHold?.();
    this.endHold = undefined;
    this.client.removeListener('data', this.onData);
    this.client.removeListener('error', this.onGone);
    this.client.removeListener('close', this.onGone);
    if (this.upstream) {
      this.upstream.removeAllListeners('data');
      this.upstream.removeAllListeners('close');
      this.upstream.on('error', () => undefined);
      this.upstream.destroy();
    }
  }

  destroy(): void {
    if (this.done) return;
    this.release();
    this.client.destroy();
  }
}
