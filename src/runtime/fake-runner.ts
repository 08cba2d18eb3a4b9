// The part of FakeDriver that plays the agent image's runner, in process, so
// scenario tests (test/scenarios/) can drive napbox end to end without an
// engine. One HTTP handler serves every published port: GET /ready, the
// built-in app's test endpoints (/whoami, /slow?ms=, /echo-body, /events?n=&ms=
// (an SSE stream of n events, ms apart), /set-cookie?c=&c= (answers each c as
// a Set-Cookie header, as a hostile app would), else a page naming the tenant), the
// WebSocket echo at /echo (whose first message, with ?whoami, is the upgrade's
// headers as JSON) and the runner channel at
// /channel (docs/container-contract.md, section 4): hello, timer heartbeats,
// and deliveries answered by the echo provider, or by a command provider the
// test registered under its argv (the fake runs no processes). The channel
// token is not checked: the contract suite checks real runners for that.

import type http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { z } from 'zod';

/** Answers a message for a command provider: the reply text, or throws `{ retryable, message }`. */
export type FakeCommand = (text: string, attempt: number) => Promise<string>;

const Deliver = z.object({ type: z.literal('deliver'), id: z.string(), session: z.string(), text: z.string(), attempt: z.number().optional() });
const Provider = z.union([
  z.object({ kind: z.literal('echo') }),
  z.object({ kind: z.literal('command'), command: z.array(z.string()) }),
  z.object({ kind: z.string() }),
]);

export interface FakeRunner {
  readonly handler: http.RequestListener;
  readonly upgrade: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Ends every WebSocket and timer, as the container's death would. */
  halt(): void;
  /** Does nothing until `thawed` resolves, as a paused container: no heartbeat, no frame read or sent. */
  freeze(thawed: Promise<void>): void;
}

export function startFakeRunner(env: Readonly<Record<string, string>>, commands: ReadonlyMap<string, FakeCommand>): FakeRunner {
  const tenant = env.NAPBOX_TENANT ?? '';
  const sockets = new Set<WebSocket>();
  const timers = new Set<NodeJS.Timeout>();
  const wss = new WebSocketServer({ noServer: true });
  let frozen: Promise<void> | undefined;
  /** Runs `fn` now, or once thawed. */
  const whenThawed = (fn: () => void): void => {
    if (frozen) void frozen.then(() => whenThawed(fn));
    else fn();
  };
  const provider = Provider.safeParse(JSON.parse(env.NAPBOX_PROVIDER ?? '{"kind":"echo"}'));
  const answer = async (text: string, attempt: number): Promise<string> => {
    const p = provider.success ? provider.data : undefined;
    if (p?.kind === 'echo') return `echo: ${text}`;
    const run = p && 'command' in p ? commands.get(JSON.stringify(p.command)) : undefined;
    if (!run) throw { retryable: false, message: 'the fake runner has no handler for this provider' };
    return run(text, attempt);
  };

  const channel = (ws: WebSocket): void => {
    const working = new Set<string>();
    const send = (frame: object): void =>
      whenThawed(() => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(frame));
      });
    send({ type: 'hello', tenant, runner: 'napbox-fake-runner/0', protocol: 1 });
    const beat = setInterval(
      () => {
        if (!frozen) send({ type: 'heartbeat', at: new Date().toISOString(), working: [...working] });
      },
      Number(env.NAPBOX_HEARTBEAT_MS ?? 5000),
    );
    timers.add(beat);
    ws.on('close', () => {
      clearInterval(beat);
      timers.delete(beat);
    });
    ws.on('message', (data) =>
      whenThawed(() => {
        const frame = Deliver.safeParse(JSON.parse(String(data)));
        if (!frame.success) return send({ type: 'protocol-error', message: 'the fake runner takes deliver frames only' });
        const { id, text, attempt = 1 } = frame.data;
        working.add(id);
        answer(text, attempt)
          .then(
            (reply) => send({ type: 'reply', id, text: reply }),
            (err: { retryable?: boolean; message?: string }) => send({ type: 'error', id, message: err.message ?? 'failed', retryable: err.retryable ?? true }),
          )
          .finally(() => working.delete(id));
      }),
    );
  };

  const handler: http.RequestListener = (req, res) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    if (url.pathname === '/ready') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end('{"ready":true}');
    }
    if (url.pathname === '/whoami') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ tenant, pid: process.pid, method: req.method, path: req.url, headers: req.headers }));
    }
    if (url.pathname === '/slow') {
      const timer = setTimeout(() => res.end(`slept ${url.searchParams.get('ms')}ms\n`), Number(url.searchParams.get('ms') ?? 1000));
      timers.add(timer);
      return;
    }
    if (url.pathname === '/events') {
      const n = Math.min(100, Number(url.searchParams.get('n') ?? 3));
      const ms = Math.min(10_000, Number(url.searchParams.get('ms') ?? 200));
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let sent = 0;
      const tick = (): void => {
        res.write(`data: event ${sent}\n\n`);
        sent += 1;
        if (sent >= n) return void res.end();
        const timer = setTimeout(tick, ms);
        timers.add(timer);
      };
      tick();
      return;
    }
    if (url.pathname === '/set-cookie') {
      res.writeHead(200, { 'set-cookie': url.searchParams.getAll('c'), 'content-type': 'text/plain' });
      return res.end('cookies set\n');
    }
    if (url.pathname === '/echo-body') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(Buffer.concat(chunks)));
      return;
    }
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(`<h1>Tenant <span id="tenant">${tenant}</span></h1>`);
  };

  const upgrade = (req: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = new URL(req.url ?? '/', 'http://fake').pathname;
    if (path !== '/channel' && path !== '/echo') return void socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      ws.on('close', () => sockets.delete(ws));
      if (path === '/channel') channel(ws);
      else {
        if (new URL(req.url ?? '/', 'http://fake').searchParams.has('whoami')) ws.send(JSON.stringify({ headers: req.headers }));
        ws.on('message', (data, binary) => ws.send(data, { binary }));
      }
    });
  };

  return {
    handler,
    upgrade,
    halt: () => {
      frozen = undefined;
      for (const ws of sockets) ws.terminate();
      for (const timer of timers) clearTimeout(timer);
    },
    freeze: (thawed) => {
      frozen = thawed;
      void thawed.then(() => {
        if (frozen === thawed) frozen = undefined;
      });
    },
  };
}
