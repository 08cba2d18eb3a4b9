// The napbox channel: a WebSocket at /channel on the control port, opened by
// napbox (the runner never connects out). Invariants:
// - No WebSocket without a valid token: a refused upgrade gets HTTP 401 with
//   a JSON body, and the socket is closed.
// - Several connections may be open at once. A message's frames go to the
//   connection that delivered it (and to any that delivered it again while it
//   ran: see JobBoard).
// - Heartbeats come from a timer per connection, never from agent activity,
//   so they keep coming while a provider is busy for minutes.
// - A bad frame is answered with protocol-error and the connection stays;
//   nothing a peer sends can throw out of a handler.

import { CHANNEL_PATH } from '../control.mjs';
import { bearerToken, verifyChannelToken } from './token.mjs';
import { outbound, parseInbound } from './frames.mjs';

// require, not import: ws is CommonJS, and its ESM wrapper costs a few ms more (runner.mjs loads it first).
const { WebSocketServer } = process.getBuiltinModule('node:module').createRequire(import.meta.url)('ws');
/** Larger than any frame napbox sends (a message is at most 64 KiB, its history is not bounded here). */
const MAX_FRAME_BYTES = 64 * 1024 * 1024;

function refuseUpgrade(socket, status, reason, body) {
  const json = JSON.stringify(body);
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\n` +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(json)}\r\n` +
      (status === 401 ? 'WWW-Authenticate: Bearer realm="napbox-runner"\r\n' : '') +
      'Connection: close\r\n\r\n' +
      json,
  );
}

function send(ws, frame) {
  if (ws.readyState !== ws.OPEN) return;
  ws.send(JSON.stringify(frame), () => {
    // a failed send means the connection is closing; its 'close' cleans up
  });
}

/**
 * The channel, served on the control port: its server hands every upgrade
 * request to `upgrade(req, socket, head)`. Returns `{ upgrade, broadcast(frame),
 * close() }`; close ends every connection.
 */
export function channelServer({ config, board, log, now = Date.now, greeting = () => [] }) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME_BYTES });

  function upgrade(req, socket, head) {
    socket.on('error', () => {
      // a peer that vanishes mid-handshake is not the runner's problem
    });
    let path;
    try {
      path = new URL(req.url ?? '/', 'http://runner').pathname;
    } catch {
      path = req.url;
    }
    if (path !== CHANNEL_PATH) {
      refuseUpgrade(socket, 404, 'Not Found', { error: 'not_found', message: `no WebSocket at ${path}: the channel is ${CHANNEL_PATH}` });
      return;
    }
    const verdict = config.channelKey
      ? verifyChannelToken(bearerToken(req.headers.authorization), { key: config.channelKey, tenant: config.tenant, nowSeconds: now() / 1000 })
      : { ok: false, reason: 'the channel is not configured (NAPBOX_CHANNEL_KEY)' };
    if (!verdict.ok) {
      log('channel refused', { reason: verdict.reason, remote: req.socket.remoteAddress });
      refuseUpgrade(socket, 401, 'Unauthorized', { error: 'unauthorized', message: verdict.reason });
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => serveConnection(ws, req.socket.remoteAddress));
  }

  function serveConnection(ws, remote) {
    log('channel open', { remote, connections: wss.clients.size });
    send(ws, outbound.hello(config.tenant));
    for (const frame of greeting()) send(ws, frame);
    const heartbeat = setInterval(() => send(ws, outbound.heartbeat(new Date(now()).toISOString(), board.working())), config.heartbeatMs);
    const listenerFor = (id) => ({
      progress: (text) => send(ws, outbound.progress(id, text)),
      settle: (outcome) => send(ws, outcome.kind === 'reply' ? outbound.reply(id, outcome.text) : outbound.error(id, outcome.message, outcome.retryable)),
    });

    ws.on('message', (data, isBinary) => {
      const frame = parseInbound(data, isBinary);
      if (frame.kind === 'invalid') {
        log('channel protocol error', { message: frame.message, ...(frame.id ? { id: frame.id } : {}) });
        send(ws, outbound.protocolError(frame.message, frame.id));
        return;
      }
      const { delivery } = frame;
      const taken = board.submit(delivery, listenerFor(delivery.id));
      log('message delivered', { id: delivery.id, session: delivery.session, attempt: delivery.attempt, taken });
    });
    ws.on('close', (code) => {
      clearInterval(heartbeat);
      log('channel closed', { remote, code });
    });
    ws.on('error', (err) => log('channel socket error', { remote, error: err.message }));
  }

  return {
    upgrade,
    /** Sends a frame to every open napbox connection; returns how many. */
    broadcast: (frame) => {
      let sent = 0;
      for (const ws of wss.clients) {
        if (ws.readyState === ws.OPEN) {
          send(ws, frame);
          sent += 1;
        }
      }
      return sent;
    },
    close: () =>
      new Promise((done) => {
        for (const ws of wss.clients) ws.close(1001, 'runner stopping');
        const force = setTimeout(() => {
          for (const ws of wss.clients) ws.terminate();
        }, 500);
        force.unref();
        wss.close(() => {
          clearTimeout(force);
          done();
        });
      }),
  };
}
