// The built-in tenant app, served when a tenant has no app command of its
// own: a page that names the tenant and has a chat box (page.mjs), a
// WebSocket echo at /echo, and a few endpoints that tests and people use to
// see the proxy at work.
//
// It is on a cold start's critical path, so it loads only what serving the
// page needs: node:http through process.getBuiltinModule (an ESM `import` of
// node:http evaluates its WebSocket getter, which loads undici: about 30 ms
// on Node 24) and page.mjs. `ws`, for /echo, is loaded after the app answered
// (`preload`) or at the first upgrade, whichever comes first.

import { page } from './page.mjs';

const http = process.getBuiltinModule('node:http');

export function startApp({ tenant, port, log }) {
  let answered;
  const firstAnswer = new Promise((resolve) => {
    answered = resolve;
  });
  const server = http.createServer((req, res) => {
    if (answered) {
      res.once('finish', answered);
      answered = undefined;
    }
    const url = new URL(req.url ?? '/', 'http://app');
    if (url.pathname === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'x-napbox-tenant': tenant });
      res.end(req.method === 'HEAD' ? undefined : page(tenant));
      return;
    }
    if (url.pathname === '/whoami') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ tenant, pid: process.pid, uid: process.getuid?.(), method: req.method, path: req.url, headers: req.headers }));
      return;
    }
    if (url.pathname === '/echo-body') {
      // Echoes the request body back: shows that a body sent while the tenant slept arrives intact.
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', 'x-body-length': String(body.length) });
        res.end(body);
      });
      return;
    }
    if (url.pathname === '/slow') {
      const ms = Math.min(Number(url.searchParams.get('ms') ?? 1000) || 0, 300_000);
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end(`slept ${ms}ms\n`);
      }, ms);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('not found\n');
  });
  server.keepAliveTimeout = 65_000;

  let echo; // the WebSocketServer of /echo, once `ws` is loaded
  const echoServer = () => {
    if (!echo) {
      // require, not import: ws is CommonJS, and its ESM wrapper costs a few ms more.
      const { WebSocketServer } = process.getBuiltinModule('node:module').createRequire(import.meta.url)('ws');
      echo = new WebSocketServer({ noServer: true });
    }
    return echo;
  };

  server.on('upgrade', (req, socket, head) => {
    // Whatever a client sends is its own problem: a bad frame or target ends that socket, never the app.
    socket.on('error', () => socket.destroy());
    let pathname;
    try {
      pathname = new URL(req.url ?? '/', 'http://app').pathname;
    } catch {
      pathname = undefined;
    }
    if (pathname !== '/echo') {
      socket.end('HTTP/1.1 404 Not Found\r\n\r\n');
      return;
    }
    echoServer().handleUpgrade(req, socket, head, (ws) => {
      ws.on('error', () => ws.terminate());
      ws.on('message', (data, isBinary) => ws.send(data, { binary: isBinary }));
    });
  });

  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '0.0.0.0', () => {
      log('app listening', { port });
      resolve({
        /** Settles once the first response was written. */
        firstAnswer,
        /** Loads what /echo needs, off the critical path (the runner calls it once the app is ready). */
        preload: () => {
          echoServer();
        },
        close: () =>
          new Promise((done) => {
            for (const client of echo?.clients ?? []) client.terminate();
            server.close(() => done());
            server.closeAllConnections?.();
          }),
      });
    });
  });
}
