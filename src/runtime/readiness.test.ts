// waitReady against a server that speaks the control port's GET /ready
// (docs/container-contract.md): with `holdMs`, one request is held until the
// app is ready and readiness is noticed within milliseconds, without polling.

import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { waitAnswers, waitReady } from './readiness.js';

/**
 * A runner's control port whose app becomes ready after `readyAfterMs`; counts the /ready requests it gets.
 * Readiness is one timer that held requests wait on, so a held answer never comes a tick before it (a second
 * timer racing `Date.now()` against `readyAt` could fire a millisecond early and answer 503).
 */
async function fakeRunner(readyAfterMs: number): Promise<{ port: number; requests: () => number; readyAt: number; close(): Promise<void> }> {
  const readyAt = Date.now() + readyAfterMs;
  let requests = 0;
  let ready = false;
  const waiting = new Set<() => void>();
  const readyTimer = setTimeout(() => {
    ready = true;
    for (const answer of waiting) answer();
  }, readyAfterMs);
  const server = http.createServer((req, res) => {
    requests += 1;
    const wait = Number(new URL(req.url ?? '/', 'http://x').searchParams.get('wait') ?? 0);
    const answer = (): void => {
      waiting.delete(answer);
      clearTimeout(held);
      if (!res.headersSent) res.writeHead(ready ? 200 : 503).end();
    };
    let held: NodeJS.Timeout | undefined;
    if (ready || wait <= 0) return answer();
    waiting.add(answer);
    held = setTimeout(answer, wait);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => requests,
    readyAt,
    close: () =>
      new Promise((resolve) => {
        clearTimeout(readyTimer);
        for (const answer of waiting) answer();
        server.close(() => resolve());
      }),
  };
}

describe('waitReady', () => {
  it('asks the runner to hold its answer, and notices readiness within a few ms with one request', async () => {
    const runner = await fakeRunner(300);
    try {
      const outcome = await waitReady({
        endpoint: { host: '127.0.0.1', port: runner.port },
        path: '/ready',
        holdMs: 10_000,
        deadline: Date.now() + 5000,
        stillRunning: async () => true,
      });
      const late = Date.now() - runner.readyAt;
      assert.equal(outcome.kind, 'ready');
      assert.equal(runner.requests(), 1, 'one held request, no polling');
      assert.ok(late < 20, `noticed ${late} ms after the app was ready`);
    } finally {
      await runner.close();
    }
  });

  it("finds a tenant ready when its app's port accepts, while its runner is still starting", async () => {
    const runner = await fakeRunner(60_000); // holds its answer: not started far enough to say
    const app = net.createServer((socket) => socket.destroy());
    const port = await new Promise<number>((resolve) => {
      const probe = net.createServer().listen(0, '127.0.0.1', () => {
        const p = (probe.address() as AddressInfo).port;
        probe.close(() => resolve(p));
      });
    });
    const listenAt = Date.now() + 200;
    setTimeout(() => app.listen(port, '127.0.0.1'), 200);
    try {
      const outcome = await waitReady({
        endpoint: { host: '127.0.0.1', port: runner.port },
        path: '/ready',
        holdMs: 10_000,
        app: { host: '127.0.0.1', port },
        deadline: Date.now() + 5000,
        stillRunning: async () => true,
      });
      const late = Date.now() - listenAt;
      assert.equal(outcome.kind, 'ready');
      assert.ok(late < 50, `noticed ${late} ms after the app listened`);
    } finally {
      app.close();
      await runner.close();
    }
  });

  it('fails at once when the container exits while an answer is held', async () => {
    const runner = await fakeRunner(60_000);
    let running = true;
    setTimeout(() => (running = false), 200);
    try {
      const started = Date.now();
      const outcome = await waitReady({
        endpoint: { host: '127.0.0.1', port: runner.port },
        path: '/ready',
        holdMs: 10_000,
        deadline: Date.now() + 5000,
        stillRunning: async () => running,
        aliveCheckEveryMs: 50,
      });
      assert.equal(outcome.kind, 'exited');
      assert.ok(Date.now() - started < 1000, `told after ${Date.now() - started} ms`);
    } finally {
      await runner.close();
    }
  });
});

describe("waitAnswers (a tenant's readinessPath)", () => {
  /** An app whose `path` answers with each status of `statuses` in turn, then the last one forever. */
  async function app(statuses: number[]): Promise<{ port: number; paths: string[]; close(): Promise<void> }> {
    const paths: string[] = [];
    const server = http.createServer((req, res) => {
      paths.push(req.url ?? '');
      res.writeHead(statuses[Math.min(paths.length - 1, statuses.length - 1)]!).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return { port: (server.address() as AddressInfo).port, paths, close: () => new Promise((resolve) => server.close(() => resolve())) };
  }

  it('is ready at the first answer below 500 (a 404 too), asking the path as given', async () => {
    const a = await app([503, 502, 404]);
    try {
      const outcome = await waitAnswers({
        endpoint: { host: '127.0.0.1', port: a.port },
        path: '/healthz?deep=1',
        deadline: Date.now() + 5000,
        stillRunning: async () => true,
        intervalMs: 5,
      });
      assert.deepEqual(outcome, { kind: 'ready', attempts: 3 });
      assert.deepEqual(a.paths, ['/healthz?deep=1', '/healthz?deep=1', '/healthz?deep=1']);
    } finally {
      await a.close();
    }
  });

  it('times out saying what the app last answered, and stops at once when the container exits', async () => {
    const a = await app([500]);
    try {
      const outcome = await waitAnswers({
        endpoint: { host: '127.0.0.1', port: a.port },
        path: '/h',
        deadline: Date.now() + 300,
        stillRunning: async () => true,
        intervalMs: 5,
      });
      assert.deepEqual(outcome, { kind: 'timeout', lastError: 'GET /h: status 500' });
      const started = Date.now();
      const exited = await waitAnswers({
        endpoint: { host: '127.0.0.1', port: a.port },
        path: '/h',
        deadline: Date.now() + 5000,
        stillRunning: async () => false,
        aliveCheckEveryMs: 20,
      });
      assert.deepEqual(exited, { kind: 'exited' });
      assert.ok(Date.now() - started < 1000);
    } finally {
      await a.close();
    }
  });

  it('closes each probe once it has a status: an app that answers 503 and then never ends its body holds no socket', async () => {
    let open = 0;
    let answered = 0;
    const server = http.createServer((_req, res) => {
      answered += 1;
      res.writeHead(answered < 4 ? 503 : 200);
      res.write('x'); // and never ends
    });
    server.on('connection', (socket) => {
      open += 1;
      socket.once('close', () => {
        open -= 1;
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const outcome = await waitAnswers({
        endpoint: { host: '127.0.0.1', port: (server.address() as AddressInfo).port },
        path: '/',
        deadline: Date.now() + 5000,
        stillRunning: async () => true,
        intervalMs: 5,
      });
      assert.deepEqual(outcome, { kind: 'ready', attempts: 4 });
      const until = Date.now() + 1000;
      while (open > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      assert.equal(open, 0, 'every probe connection closed by napbox');
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve(undefined)));
    }
  });
});
