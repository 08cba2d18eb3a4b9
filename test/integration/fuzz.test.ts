// Fuzzing what strangers can send: thousands of random and mutated request
// lines, heads, paths, bodies, chunked bodies, pipelined requests and
// WebSocket upgrades, over raw sockets, to a real napbox with one running
// public tenant: on the relay (the tenant's host), the proxy path (/t/<slug>/)
// and the base host (dashboard, API). After every batch napbox must still
// serve; every connection must get valid HTTP responses or a close (never a
// 500, never garbage, never hang after the client's FIN); and napbox must log
// no swallowed bug (uncaught exception, failed handler).
//
// Reproduce a failure: FUZZ_SEED=<seed printed> (and FUZZ_ONLY=<case> for one
// case). FUZZ_CASES sets how many (default 3000, within FUZZ_BUDGET_MS).

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { api, removeInstall, request, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { parseResponses, rawConnect, type RawConnection } from '../helpers/raw-http.js';

const SEED = Number(process.env.FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
const CASES = Number(process.env.FUZZ_CASES ?? 3000);
const ONLY = process.env.FUZZ_ONLY === undefined ? undefined : Number(process.env.FUZZ_ONLY);
const BUDGET_MS = Number(process.env.FUZZ_BUDGET_MS ?? 40_000);
const CONCURRENCY = 24;
const BATCH = 250;
const HEAD_TIMEOUT_MS = 300;
const QUIET_MS = 400;
/** Lines napbox logs when a handler threw or a promise was lost: a bug the fuzz found, even if napbox survived it. */
const BUG_LOGS = /uncaught exception|unhandled rejection|"request failed"|relay failed|upgrade failed|accepting a connection failed/;

/** mulberry32: small, seeded, good enough to pick cases. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Case {
  readonly bytes: Buffer;
  /** Per request sent, whether it is a HEAD (its response has no body), as far as it can be told. */
  readonly heads: boolean[];
  /** Past `heads`, whether a request was a HEAD is unknown (mutated bytes). */
  readonly headsUnknown?: boolean;
  readonly label: string;
}

interface World {
  readonly tenant: string;
  readonly base: string;
  readonly port: number;
  readonly token: string;
}

function caseGenerator(world: World, index: number): Case {
  const r = prng((SEED + Math.imul(index, 0x9e3779b9)) >>> 0);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;
  const chance = (p: number): boolean => r() < p;
  const int = (n: number): number => Math.floor(r() * n);
  const junk = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(int(256))).join('');

  const hosts = [
    world.tenant,
    world.tenant,
    world.base,
    world.base,
    `nope.localhost:${world.port}`,
    'a.b.localhost',
    `FZ.LOCALHOST:${world.port}`,
    '',
    '[::1]',
    junk(int(12)),
  ];
  const paths = [
    '/',
    '/whoami',
    '/echo-body',
    '/slow?ms=5',
    '/t/fz/whoami',
    '/t/fz/',
    '/t/fz',
    '/t/fz/echo-body',
    '/t/%ZZ/',
    '/t/%/',
    '/%ZZ',
    '/%00',
    '/%C3%28',
    '/%FF',
    '/t/fz/%2e%2e/%2e%2e/api/tenants',
    '/../../etc/passwd',
    '/./_napbox/status',
    '/x/../_napbox/status',
    '//_napbox/status',
    '/%5fnapbox/status',
    '/_napbox/chat',
    '/_napbox/signin?token=%ZZ',
    '/_napbox/signin',
    '/_napbox/status',
    '/_napbox/signout',
    '/t/fz/_napbox/status',
    '/t/fz/./_napbox/chat',
    '/api/tenants',
    '/api/tenants/%ZZ',
    '/api/tenants/%FF',
    '/api/tenants/fz',
    '/api/builds/%ZZ',
    '/api/session',
    '/api/events',
    '/healthz',
    '/metrics',
    '/dashboard/%ZZ',
    '/dashboard/app.js',
    '/?q=%ZZ&x',
    '*',
    `http://${world.tenant}/_napbox/status`,
    `http://${world.tenant}/whoami`,
    `http://${world.base}/t/fz/whoami`,
    'http://[x/',
    'HTTP://fz.localhost/',
    '/t/',
    '/\xe9\xff',
    '/\xe2\x98\x83',
    '/a#b',
    '/a b',
    `/${'a'.repeat(int(20_000))}`,
    `/t/${junk(int(8))}/`,
    `/${junk(int(16))}`,
  ];
  const methods = ['GET', 'GET', 'GET', 'HEAD', 'POST', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'get', 'FOO', '', 'G\0T', 'TRACE'];
  const extraHeaders = [
    'Accept: */*',
    'Cookie: napbox_admin=x; a=1; napbox_session=y',
    'X-Forwarded-For: 1.2.3.4',
    'X-Forwarded-Host: evil',
    'Connection: keep-alive',
    'Connection: close',
    'Expect: 100-continue',
    'Origin: http://evil.localhost',
    'Content-Type: application/json',
    'Accept-Encoding: gzip',
    `X-Long: ${'v'.repeat(int(20_000))}`,
    'Transfer-Encoding: gzip',
    'Transfer-Encoding: chunked, chunked',
    'Content-Length: 5',
    'Content-Length: -1',
    'Content-Length: 99999999999999999999',
    'Host: second.localhost',
    'Upgrade: h2c',
    'Connection: Upgrade',
    'X-Bad : space',
    ' obs-fold',
    'X-Nul: a\0b',
    'X-Ctl: \x01',
    'X-Utf8: \xc3\xa9',
    'Bad(Name): x',
    `${junk(int(10))}: ${junk(int(10))}`,
  ];

  function oneRequest(_: unknown, position: number): { text: string; head: boolean } {
    // Only a first request may be a HEAD: behind a mis-framed one, nobody can say which bytes form a HEAD.
    const method = position === 0 ? pick(methods) : pick(methods.filter((m) => m !== 'HEAD'));
    const path = pick(paths);
    const host = pick(hosts);
    const version = chance(0.9) ? 'HTTP/1.1' : pick(['HTTP/1.0', 'HTTP/2.0', 'HTTP/1.2', 'http/1.1', '']);
    const lines = [`${method} ${path} ${version}`.replace(/ $/, '')];
    if (chance(0.95)) lines.push(`Host: ${host}`);
    const upgrade = chance(0.15);
    if (upgrade) lines.push('Connection: Upgrade', 'Upgrade: websocket', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==');
    for (let i = int(4); i > 0; i -= 1) lines.push(pick(extraHeaders));
    let body = '';
    const mode = pick(['none', 'none', 'length', 'short', 'chunked', 'chunked-bad', 'chunked-part']);
    const content = chance(0.5) ? '{"visibility":"public"}' : junk(int(64));
    if (mode === 'length') {
      lines.push(`Content-Length: ${Buffer.byteLength(content, 'latin1')}`);
      body = content;
    } else if (mode === 'short') {
      lines.push(`Content-Length: ${content.length + 1 + int(100)}`);
      body = content;
    } else if (mode.startsWith('chunked')) {
      lines.push('Transfer-Encoding: chunked');
      body =
        mode === 'chunked'
          ? `${content.length.toString(16)}\r\n${content}\r\n0\r\n\r\n`
          : mode === 'chunked-bad'
            ? `zz\r\n${content}\n0\r\n\r\n`
            : `${(content.length + 5).toString(16)}\r\n${content}`;
    }
    let text = `${lines.join('\r\n')}\r\n\r\n${body}`;
    if (upgrade && chance(0.5)) text += '\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58'; // a masked "Hello" frame
    return { text, head: method === 'HEAD' };
  }

  function mutate(text: string): string {
    let out = text;
    for (let i = 1 + int(3); i > 0; i -= 1) {
      const at = int(out.length + 1);
      switch (int(6)) {
        case 0:
          out = out.slice(0, at) + String.fromCharCode(int(256)) + out.slice(at + 1);
          break;
        case 1:
          out = out.slice(0, at) + pick(['\0', '\r', '\n', ' ', '\t', ':', '%', '\xff', '\r\n', '\r\n\r\n', '/../', '%2e']) + out.slice(at);
          break;
        case 2:
          out = out.slice(0, at) + out.slice(at + 1 + int(8));
          break;
        case 3:
          out = out.replace('\r\n', '\n');
          break;
        case 4:
          out = out.slice(0, at);
          break;
        default: {
          const lines = out.split('\r\n');
          const line = int(lines.length);
          lines.splice(line, 0, lines[line] ?? '');
          out = lines.join('\r\n');
        }
      }
    }
    return out;
  }

  if (chance(0.03)) return { bytes: Buffer.from(junk(1 + int(200)), 'latin1'), heads: [], label: 'random bytes' };
  if (chance(0.05)) {
    // Past the API's authentication, to reach its own decoding of path parameters (never a call that changes anything).
    const path = pick(['/api/tenants/%ZZ', '/api/tenants/%FF', '/api/tenants/%C3%28/messages', '/api/builds/%E0%80%80', '/api/tenants/fz%00', '/api/tenants']);
    const text = `${pick(['GET', 'PATCH'])} ${path} HTTP/1.1\r\nHost: ${world.base}\r\nAuthorization: Bearer ${world.token}\r\nContent-Length: 3\r\n\r\n{x}`;
    return { bytes: Buffer.from(text, 'latin1'), heads: [false], label: 'admin API with a token' };
  }
  if (chance(0.05)) {
    // A clean WebSocket to the tenant's echo, with one valid frame: garbage frames are not sent there, since the
    // built-in app (container/runner/app.mjs) has no error handler on its echo socket and exits on one.
    const [host, path] = pick([
      [world.tenant, '/echo'],
      [world.base, '/t/fz/echo'],
    ] as const);
    const text = `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCookie: napbox_session=x\r\n\r\n`;
    return { bytes: Buffer.from(`${text}\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58`, 'latin1'), heads: [false], label: 'WebSocket echo' };
  }
  const requests = Array.from({ length: chance(0.2) ? 2 + int(2) : 1 }, oneRequest);
  let text = requests.map((q) => q.text).join('');
  const mutated = chance(0.35);
  if (mutated) text = mutate(text);
  // After a mutation, only the first request is known to be a HEAD or not (if it still starts as one, after the
  // empty lines a server skips before a request line: RFC 9112, 2.2; a mutation once put CRLFs there).
  const heads = mutated ? [text.replace(/^[\r\n]+/, '').startsWith('HEAD ')] : requests.map((q) => q.head);
  return { bytes: Buffer.from(text, 'latin1'), heads, headsUnknown: mutated, label: `${requests.length} request(s)${mutated ? ', mutated' : ''}` };
}

interface Failure {
  readonly index: number;
  readonly label: string;
  readonly why: string;
  readonly sent: string;
  readonly received: string;
}

/** Sends one case and judges what came back; a string says what went wrong (with what was received). */
async function runCase(port: number, c: Case): Promise<string | undefined> {
  const connection = await rawConnect(port);
  const why = await judge(connection, c);
  return why && `${why}; received ${JSON.stringify(connection.received().toString('latin1').slice(0, 600))}`;
}

async function judge(connection: RawConnection, c: Case): Promise<string | undefined> {
  connection.socket.write(c.bytes);
  await connection.quiet(QUIET_MS, 5000);
  if (!connection.closed()) {
    connection.socket.end(); // our FIN: napbox must close too, answered or not
    try {
      await connection.untilClosed(3000);
    } catch {
      connection.socket.destroy();
      return 'still open 3 s after the client finished';
    }
  }
  const received = connection.received();
  if (received.length === 0) return undefined; // a close is an answer
  const parsed = parseResponses(received, true, c.heads, c.headsUnknown);
  if (parsed.error) return `not HTTP: ${parsed.error}`;
  if (!parsed.upgraded && parsed.rest.length > 0) return 'a response cut short';
  const fault = parsed.responses.find((res) => res.status === 500);
  if (fault) return `500: ${fault.body.toString('utf8').slice(0, 200)}`;
  return undefined;
}

describe('fuzzing napbox with what strangers can send', () => {
  let nb: NapboxProcess;
  let world: World;
  before(async () => {
    nb = await startNapbox({ env: { NAPBOX_HEAD_TIMEOUT: `${HEAD_TIMEOUT_MS}ms` } });
    assert.equal((await api(nb, 'POST', '/api/tenants', { slug: 'fz' })).status, 201);
    assert.equal((await api(nb, 'POST', '/api/tenants/fz/wake')).status, 200);
    world = { tenant: tenantHost(nb, 'fz'), base: `127.0.0.1:${nb.port}`, port: nb.port, token: await nb.token() };
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it('keeps serving, and answers every connection with valid HTTP or a close', async () => {
    process.stderr.write(`fuzz: seed ${SEED} (FUZZ_SEED=${SEED} reproduces it)\n`);
    const indexes = ONLY !== undefined ? [ONLY] : Array.from({ length: CASES }, (_, i) => i);
    const failures: Failure[] = [];
    const started = Date.now();
    let done = 0;
    for (let from = 0; from < indexes.length && Date.now() - started < BUDGET_MS; from += BATCH) {
      const batch = indexes.slice(from, from + BATCH);
      let next = 0;
      const worker = async (): Promise<void> => {
        while (next < batch.length) {
          const index = batch[next++]!;
          const c = caseGenerator(world, index);
          const why = await runCase(nb.port, c).catch((err: Error) => `client error: ${err.message}`);
          done += 1;
          if (why) failures.push({ index, label: c.label, why, sent: JSON.stringify(c.bytes.toString('latin1').slice(0, 400)), received: '' });
        }
      };
      await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      assert.equal(nb.proc.exitCode, null, `napbox exited during cases ${batch[0]}..${batch.at(-1)} (seed ${SEED}):\n${nb.output().slice(-3000)}`);
      assert.equal((await request(nb.port, { path: '/healthz', timeoutMs: 5000 })).status, 200, 'napbox serves /healthz after the batch');
      const tenant = await request(nb.port, { host: world.tenant, path: '/whoami', timeoutMs: 5000 });
      assert.equal(tenant.status, 200, `and its tenant: ${tenant.body}\n${nb.output().slice(-2000)}`);
    }
    const seconds = (Date.now() - started) / 1000;
    process.stderr.write(`fuzz: ${done} cases in ${seconds.toFixed(1)} s, ${failures.length} failed (seed ${SEED})\n`);
    const shown = failures
      .slice(0, 8)
      .map((f) => `case ${f.index} (${f.label}): ${f.why}\n  sent ${f.sent}`)
      .join('\n');
    assert.equal(failures.length, 0, `seed ${SEED}:\n${shown}`);
    const bugs = nb
      .output()
      .split('\n')
      .filter((line) => BUG_LOGS.test(line));
    assert.deepEqual(bugs.slice(0, 5), [], `napbox logged bugs it survived (seed ${SEED})`);
    assert.ok(ONLY !== undefined || done >= Math.min(CASES, 1000), `only ${done} cases ran within ${BUDGET_MS} ms`);
    assert.equal((await api(nb, 'GET', '/api/tenants/fz')).json.state, 'running');
  });
});
