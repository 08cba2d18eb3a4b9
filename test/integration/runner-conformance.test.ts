// The conformance suite for runners: what any runner (ours in container/, or
// one written in another language) must do on the napbox channel, as
// docs/container-contract.md specifies it. `runRunnerConformance` takes a
// way to start a runner with a given environment; the bottom of this file
// runs it against the real agent image on the Docker engine.
//
// Each runner started is one container with one provider (the provider is
// per container), so the suite starts them all at once in `before` and the
// cases run against the one they need.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, afterEach, before, describe, it } from 'node:test';
import { z } from 'zod';
import { DockerDriver } from '../../src/runtime/docker-driver.js';
import { endpointFor, type ContainerSpec } from '../../src/runtime/container-driver.js';
import { buildContainerSpec, CONTROL_PORT, LABEL_INSTALL } from '../../src/runtime/container-spec.js';
import { waitReady } from '../../src/runtime/readiness.js';
import { requireAgentImage } from '../../src/images/agent-image.js';
import { loadConfig } from '../../src/config/config.js';
import { ROOT } from '../helpers/napbox-process.js';
import { attemptUpgrade, mintChannelToken, newChannelKey, RunnerChannelClient, type Endpoint, type RunnerFrame } from '../helpers/runner-channel-client.js';

export interface RunnerHandle {
  /** Where this host reaches the runner's control port (8081). */
  readonly control: Endpoint;
  /** Stops the runner as napbox does (SIGTERM, then a grace period); resolves once it is gone. Idempotent. */
  stop(): Promise<void>;
}

/** Starts a runner with these variables added to the image's environment; resolves once GET /ready answered 200. */
export type StartRunner = (env: Readonly<Record<string, string>>) => Promise<RunnerHandle>;

export interface ConformanceOptions {
  /** The address at which a runner reaches a server listening on 0.0.0.0 of this host (for the fake OpenAI server). */
  readonly hostAddress: () => Promise<string>;
}

interface Runner {
  readonly tenant: string;
  readonly key: { bytes: Uint8Array; env: string };
  readonly handle: RunnerHandle;
}

interface FakeOpenAI {
  readonly port: number;
  readonly requests: Array<{ path: string; authorization: string | undefined; body: unknown }>;
  close(): Promise<void>;
}

const ChatRequest = z.object({ messages: z.array(z.object({ content: z.string() })).min(1) });

/**
 * An OpenAI-compatible /chat/completions on 0.0.0.0. It answers `fake: <last user text>`,
 * or the HTTP status named by a last text of the form `status <code>`; its 400 quotes the
 * Authorization header back, as some real servers do with keys.
 */
async function startFakeOpenAI(): Promise<FakeOpenAI> {
  const requests: FakeOpenAI['requests'] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = undefined;
      }
      requests.push({ path: req.url ?? '', authorization: req.headers.authorization, body });
      const parsed = ChatRequest.safeParse(body);
      const last = parsed.success ? (parsed.data.messages.at(-1)?.content ?? '') : '';
      const status = /^status (\d{3})$/.exec(last);
      const json = (code: number, value: unknown): void => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      if (req.method !== 'POST' || req.url !== '/v1/chat/completions' || !parsed.success) return json(404, { error: { message: 'no such route' } });
      if (status) return json(Number(status[1]), { error: { message: `Incorrect API key provided: ${req.headers.authorization ?? ''}` } });
      json(200, {
        id: 'chatcmpl-fake',
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: `fake: ${last}` }, finish_reason: 'stop' }],
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '0.0.0.0', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A JWT signed by hand, for the headers jose will not make (alg none, HS384). */
function handMadeToken(header: object, claims: object, key: Uint8Array | undefined, hash: 'sha256' | 'sha384' = 'sha256'): string {
  const part = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');
  const input = `${part(header)}.${part(claims)}`;
  const signature = key ? crypto.createHmac(hash, key).update(input).digest('base64url') : '';
  return `${input}.${signature}`;
}

function framesFor(client: RunnerChannelClient, id: string): RunnerFrame[] {
  return client.frames.filter((f) => 'id' in f && f.id === id);
}

export function runRunnerConformance(name: string, start: StartRunner, options: ConformanceOptions): void {
  describe(`runner conformance: ${name}`, () => {
    const runners = new Map<string, Runner>();
    const clients: RunnerChannelClient[] = [];
    let fake: FakeOpenAI;
    const openaiKey = `sk-conf-${crypto.randomBytes(12).toString('hex')}`;

    const runner = (tenant: string): Runner => {
      const found = runners.get(tenant);
      if (!found) throw new Error(`runner ${tenant} did not start`);
      return found;
    };
    const connect = async (tenant: string): Promise<RunnerChannelClient> => {
      const r = runner(tenant);
      const client = await RunnerChannelClient.connect({ endpoint: r.handle.control, key: r.key.bytes, tenant: r.tenant });
      clients.push(client);
      return client;
    };
    const assertClean = (client: RunnerChannelClient): void => assert.deepEqual(client.violations, [], 'every frame from the runner fits the contract');

    before(async () => {
      fake = await startFakeOpenAI();
      const host = await options.hostAddress();
      const command = (argv: string[]): string => JSON.stringify({ kind: 'command', command: argv });
      const wanted: Record<string, Record<string, string>> = {
        echo: {},
        parallel: { NAPBOX_PROVIDER: command(['sh', '-c', 'sleep 1; cat']) },
        cwd: { NAPBOX_PROVIDER: command(['sh', '-c', 'cat; pwd']) },
        failing: { NAPBOX_PROVIDER: command(['sh', '-c', 'echo oops >&2; exit 3']) },
        environ: { NAPBOX_PROVIDER: command(['sh', '-c', 'env']), NAPBOX_OPENAI_API_KEY: openaiKey },
        slow: { NAPBOX_PROVIDER: command(['sh', '-c', 'sleep 3; cat']), NAPBOX_HEARTBEAT_MS: '500' },
        openai: {
          NAPBOX_PROVIDER: JSON.stringify({ kind: 'openai', baseUrl: `http://${host}:${fake.port}/v1`, model: 'conf-model' }),
          NAPBOX_OPENAI_API_KEY: openaiKey,
        },
      };
      const started = await Promise.allSettled(
        Object.entries(wanted).map(async ([tenant, extra]) => {
          const key = newChannelKey();
          const handle = await start({ NAPBOX_TENANT: tenant, NAPBOX_CHANNEL_KEY: key.env, ...extra });
          runners.set(tenant, { tenant, key, handle });
        }),
      );
      const failed = started.find((s): s is PromiseRejectedResult => s.status === 'rejected');
      if (failed) throw failed.reason;
    });

    afterEach(async () => {
      await Promise.all(clients.splice(0).map((c) => c.close()));
    });

    after(async () => {
      await Promise.allSettled(clients.map((c) => c.close()));
      await Promise.allSettled([...runners.values()].map((r) => r.handle.stop()));
      await fake?.close();
    });

    describe('authentication', () => {
      const now = (): number => Math.floor(Date.now() / 1000);
      const claims = (over: object = {}): object => ({ iss: 'napbox', aud: 'napbox-runner', sub: 'echo', iat: now(), exp: now() + 300, ...over });
      const refusals: Array<[string, () => Promise<Record<string, string>>]> = [
        ['no Authorization header', async () => ({})],
        ['a scheme other than Bearer', async () => ({ authorization: `Basic ${Buffer.from('napbox:x').toString('base64')}` })],
        ['a token that is not a JWT', async () => ({ authorization: 'Bearer not-a-jwt' })],
        [
          'an expired token',
          async () => ({
            authorization: `Bearer ${await mintChannelToken({ key: runner('echo').key.bytes, tenant: 'echo', issuedAt: now() - 400, expiresAt: now() - 100 })}`,
          }),
        ],
        ['a token for another tenant', async () => ({ authorization: `Bearer ${await mintChannelToken({ key: runner('echo').key.bytes, tenant: 'cwd' })}` })],
        [
          'a token signed with another tenant key',
          async () => ({ authorization: `Bearer ${await mintChannelToken({ key: runner('cwd').key.bytes, tenant: 'echo' })}` }),
        ],
        [
          'a token for another audience',
          async () => ({ authorization: `Bearer ${await mintChannelToken({ key: runner('echo').key.bytes, tenant: 'echo', audience: 'napbox' })}` }),
        ],
        [
          'a token from another issuer',
          async () => ({ authorization: `Bearer ${await mintChannelToken({ key: runner('echo').key.bytes, tenant: 'echo', issuer: 'someone' })}` }),
        ],
        ['an unsigned token (alg none)', async () => ({ authorization: `Bearer ${handMadeToken({ alg: 'none', typ: 'JWT' }, claims(), undefined)}` })],
        [
          'a token with alg HS384, even with the right key',
          async () => ({ authorization: `Bearer ${handMadeToken({ alg: 'HS384' }, claims(), runner('echo').key.bytes, 'sha384')}` }),
        ],
        [
          'a token without exp',
          async () => ({ authorization: `Bearer ${handMadeToken({ alg: 'HS256' }, { ...claims(), exp: undefined }, runner('echo').key.bytes)}` }),
        ],
      ];
      for (const [what, headers] of refusals) {
        it(`refuses ${what} with 401, a JSON body and no WebSocket`, async () => {
          const res = await attemptUpgrade(runner('echo').handle.control, await headers());
          assert.equal(res.status, 401);
          assert.match(String(res.headers['content-type']), /^application\/json/);
          const body = JSON.parse(res.body) as { error?: unknown; message?: unknown };
          assert.equal(body.error, 'unauthorized');
          assert.equal(typeof body.message, 'string');
        });
      }

      it('accepts a token that expired less than the 30 s leeway ago', async () => {
        const token = await mintChannelToken({ key: runner('echo').key.bytes, tenant: 'echo', issuedAt: now() - 310, expiresAt: now() - 10 });
        assert.equal((await attemptUpgrade(runner('echo').handle.control, { authorization: `Bearer ${token}` })).status, 101);
      });
    });

    describe('frames', () => {
      it('says hello first, naming the tenant and protocol 1', async () => {
        const client = await connect('echo');
        assert.equal(client.frames[0]?.type, 'hello');
        assert.equal(client.hello?.tenant, 'echo');
        assert.equal(client.hello?.protocol, 1);
        assertClean(client);
      });

      it('answers each malformed frame with protocol-error and keeps the connection', async () => {
        const client = await connect('echo');
        const good = { type: 'deliver', id: 'm_bad', session: 's1', text: 'x', attempt: 1, history: [] };
        const bad: Array<[string, string | Buffer, boolean?]> = [
          ['not JSON', 'not json'],
          ['an array', '[1,2]'],
          ['no type', '{}'],
          ['an unknown type', JSON.stringify({ type: 'nope' })],
          ['a reserved type (lease)', JSON.stringify({ type: 'lease', session: 's1' })],
          ['deliver without id', JSON.stringify({ ...good, id: undefined })],
          ['deliver with a session outside the grammar', JSON.stringify({ ...good, session: '../etc' })],
          ['deliver with a 65-character session', JSON.stringify({ ...good, session: 'a'.repeat(65) })],
          ['deliver with text over 64 KiB', JSON.stringify({ ...good, text: 'x'.repeat(64 * 1024 + 1) })],
          ['deliver with attempt 0', JSON.stringify({ ...good, attempt: 0 })],
          ['deliver with text not a string', JSON.stringify({ ...good, text: 42 })],
          ['deliver with history not an array', JSON.stringify({ ...good, history: 'none' })],
          ['deliver with a history role outside user/assistant', JSON.stringify({ ...good, history: [{ role: 'system', text: 'x' }] })],
          ['a binary frame', Buffer.from(JSON.stringify(good)), true],
        ];
        for (const [what, data, binary] of bad) {
          const answer = client.next((f) => f.type === 'protocol-error', 3000);
          client.sendRaw(data, binary ?? false);
          await assert.doesNotReject(answer, `protocol-error for ${what}`);
        }
        assert.equal(client.isOpen, true);
        const still = await client.deliver({ id: 'm_after_bad', session: 's1', text: 'still here' });
        assert.equal(still.reply, 'echo: still here');
        assert.equal(framesFor(client, 'm_bad').filter((f) => f.type !== 'protocol-error').length, 0, 'nothing was processed for a bad deliver');
        assertClean(client);
      });

      it('takes a text of exactly 64 KiB', async () => {
        const client = await connect('echo');
        const text = 'x'.repeat(64 * 1024);
        assert.equal((await client.deliver({ id: 'm_64k', session: 's64k', text })).reply, `echo: ${text}`);
        assertClean(client);
      });

      it('sends a message’s frames to the connection that delivered it only', async () => {
        const a = await connect('echo');
        const b = await connect('echo');
        assert.equal((await b.deliver({ id: 'm_to_b', session: 'sb', text: 'for b' })).reply, 'echo: for b');
        await new Promise((r) => setTimeout(r, 100));
        assert.deepEqual(framesFor(a, 'm_to_b'), []);
        assertClean(a);
        assertClean(b);
      });

      it('answers a message delivered again (attempt 2) with one final frame', async () => {
        const client = await connect('echo');
        const first = await client.deliver({ id: 'm_again', session: 'sa', text: 'twice' });
        const again = await client.deliver({ id: 'm_again', session: 'sa', text: 'twice', attempt: 2 });
        assert.equal(first.reply, 'echo: twice');
        assert.ok(again.reply === 'echo: twice' || again.error !== undefined, 'a reply (the same) or an error');
        assertClean(client);
      });
    });

    describe('echo provider', () => {
      it('replies exactly "echo: <text>", after a progress frame', async () => {
        const client = await connect('echo');
        const outcome = await client.deliver({ id: 'm_echo', session: 's1', text: 'hi' });
        assert.equal(outcome.reply, 'echo: hi');
        assert.ok(outcome.progress.length >= 1, 'at least one progress frame before the reply');
        const kinds = framesFor(client, 'm_echo').map((f) => f.type);
        assert.equal(kinds.at(-1), 'reply');
        assert.equal(kinds[0], 'progress');
        assertClean(client);
      });
    });

    describe('command provider', () => {
      it('processes messages of different sessions concurrently', async () => {
        const client = await connect('parallel');
        const started = Date.now();
        const [one, two] = await Promise.all([
          client.deliver({ id: 'm_par1', session: 'pa', text: 'one' }),
          client.deliver({ id: 'm_par2', session: 'pb', text: 'two' }),
        ]);
        const elapsed = Date.now() - started;
        assert.equal(one.reply, 'one');
        assert.equal(two.reply, 'two');
        assert.ok(elapsed < 1800, `two 1 s commands took ${elapsed} ms together: they ran one after the other`);
        assertClean(client);
      });

      it('replies with stdout, streamed as progress, run in the session folder', async () => {
        const client = await connect('cwd');
        const outcome = await client.deliver({ id: 'm_cwd', session: 'cwd-1', text: 'hello\n' });
        assert.equal(outcome.reply, 'hello\n/workspace/sessions/cwd-1\n');
        assert.equal(outcome.progress.join(''), outcome.reply, 'the progress chunks are the stdout');
        assertClean(client);
      });

      it('reports a failing command as a retryable error with its exit code and stderr', async () => {
        const client = await connect('failing');
        const outcome = await client.deliver({ id: 'm_fail', session: 'f1', text: 'x' });
        assert.equal(outcome.reply, undefined);
        assert.equal(outcome.error?.retryable, true);
        assert.match(outcome.error?.message ?? '', /\b3\b/);
        assert.match(outcome.error?.message ?? '', /oops/);
        assertClean(client);
      });

      it('gives the command NAPBOX_SESSION and NAPBOX_MESSAGE_ID, and none of the secrets', async () => {
        const client = await connect('environ');
        const outcome = await client.deliver({ id: 'm_env', session: 'env-1', text: '' });
        const lines = (outcome.reply ?? '').split('\n');
        assert.ok(lines.includes('NAPBOX_SESSION=env-1'), 'NAPBOX_SESSION');
        assert.ok(lines.includes('NAPBOX_MESSAGE_ID=m_env'), 'NAPBOX_MESSAGE_ID');
        assert.ok(lines.includes('NAPBOX_TENANT=environ'), 'the container env');
        assert.ok(!lines.some((l) => l.startsWith('NAPBOX_CHANNEL_KEY=')), 'no NAPBOX_CHANNEL_KEY');
        assert.ok(!lines.some((l) => l.startsWith('NAPBOX_OPENAI_API_KEY=')), 'no NAPBOX_OPENAI_API_KEY');
        assert.ok(!outcome.reply?.includes(runner('environ').key.env), 'the key value appears nowhere');
        assert.ok(!outcome.reply?.includes(openaiKey), 'the API key value appears nowhere');
        assertClean(client);
      });

      it('sends heartbeats on its timer while a command runs, naming the message', async () => {
        const client = await connect('slow');
        const from = client.heartbeats.length;
        const outcome = await client.deliver({ id: 'm_slow', session: 'slow-1', text: 'done' });
        assert.equal(outcome.reply, 'done');
        const during = client.heartbeats.slice(from).filter((h) => h.working.includes('m_slow'));
        assert.ok(during.length >= 4, `${during.length} heartbeats named m_slow in its ${outcome.ms} ms (every 500 ms expected)`);
        for (const h of during) assert.ok(Math.abs(Date.parse(h.at) - Date.now()) < 60_000, 'heartbeat time is now');
        const next = await client.next((f) => f.type === 'heartbeat', 2000);
        assert.ok(next.type === 'heartbeat' && !next.working.includes('m_slow'), 'a finished message is no longer working');
        assertClean(client);
      });
    });

    describe('openai provider', () => {
      it('posts the history and the text with the key, and replies with the content', async () => {
        const client = await connect('openai');
        const history = [
          { role: 'user' as const, text: 'hello' },
          { role: 'assistant' as const, text: 'hi there' },
        ];
        const outcome = await client.deliver({ id: 'm_ai', session: 'ai-1', text: 'what did I say?', history });
        assert.equal(outcome.reply, 'fake: what did I say?');
        const seen = fake.requests.at(-1);
        assert.equal(seen?.path, '/v1/chat/completions');
        assert.equal(seen?.authorization, `Bearer ${openaiKey}`);
        assert.deepEqual(seen?.body, {
          model: 'conf-model',
          messages: [
            { role: 'user', content: 'hello' },
            { role: 'assistant', content: 'hi there' },
            { role: 'user', content: 'what did I say?' },
          ],
        });
        assertClean(client);
      });

      for (const [status, retryable] of [
        [429, true],
        [503, true],
        [400, false],
        [401, false],
      ] as const) {
        it(`turns HTTP ${status} into a ${retryable ? '' : 'non-'}retryable error that does not show the key`, async () => {
          const client = await connect('openai');
          const outcome = await client.deliver({ id: `m_ai_${status}`, session: 'ai-2', text: `status ${status}` });
          assert.equal(outcome.error?.retryable, retryable);
          assert.match(outcome.error?.message ?? '', new RegExp(String(status)));
          assert.ok(!outcome.error?.message.includes(openaiKey), `the key is not in ${JSON.stringify(outcome.error?.message)}`);
          assertClean(client);
        });
      }
    });

    describe('shutdown', () => {
      it('closes channel connections and exits promptly on SIGTERM', async () => {
        const client = await connect('echo');
        const started = Date.now();
        await runner('echo').handle.stop();
        const elapsed = Date.now() - started;
        const code = await Promise.race([client.whenClosed(), new Promise((r) => setTimeout(() => r('still open'), 2000))]);
        assert.notEqual(code, 'still open', 'the channel connection was closed');
        assert.ok(elapsed < 5000, `the runner took ${elapsed} ms to stop`);
        assertClean(client);
      });
    });
  });
}

// ---- our runner: the agent image on the Docker engine ----

const driver = new DockerDriver();
const image = await requireAgentImage({ driver, containerDir: path.join(ROOT, 'container'), caBundle: loadConfig().caBundle });
const install = `conf${crypto.randomBytes(4).toString('hex')}`;
const labels = { [LABEL_INSTALL]: install };
const network = `napbox-${install}`;
const run = promisify(execFile);
const IpamConfig = z.array(z.object({ Gateway: z.string().optional() }).loose()).nullable();

async function ensureNetwork(): Promise<void> {
  await driver.ensureNetwork({ name: network, labels, internal: false });
}

async function startAgentImage(env: Readonly<Record<string, string>>): Promise<RunnerHandle> {
  const slug = env.NAPBOX_TENANT;
  if (!slug) throw new Error('NAPBOX_TENANT is required');
  await ensureNetwork();
  const base = buildContainerSpec({
    installId: install,
    slug,
    config: {},
    image,
    publish: false,
    channelKey: env.NAPBOX_CHANNEL_KEY ?? '',
    heartbeatMs: Number(env.NAPBOX_HEARTBEAT_MS ?? 5000),
  });
  // The suite's variables win: they choose the provider, which napbox would take from the tenant's config.
  const spec: ContainerSpec = { ...base, env: { ...base.env, ...env }, network };
  const created = await driver.create(spec);
  await driver.start(created.id);
  const info = await driver.inspect(created.id);
  const control = info && endpointFor(info, CONTROL_PORT, 'bridge');
  if (!control) throw new Error(`runner ${slug} has no bridge address`);
  const outcome = await waitReady({
    endpoint: control,
    path: '/ready',
    deadline: Date.now() + 20_000,
    stillRunning: async () => (await driver.inspect(created.id))?.running ?? false,
  });
  if (outcome.kind !== 'ready') throw new Error(`runner ${slug} is not ready (${outcome.kind}):\n${await driver.logs(created.id, { tail: 30 })}`);
  return {
    control,
    stop: async () => {
      await driver.stop(created.id, spec.stopGraceSeconds);
      await driver.remove(created.id, { force: true });
    },
  };
}

runRunnerConformance(`agent image ${image}`, startAgentImage, {
  // The network's gateway is this host's address on the bridge (a local engine; not a remote DOCKER_HOST).
  hostAddress: async () => {
    await ensureNetwork();
    const { stdout } = await run('docker', ['network', 'inspect', '--format', '{{json .IPAM.Config}}', network]);
    const gateway = IpamConfig.parse(JSON.parse(stdout))?.find((c) => c.Gateway)?.Gateway;
    if (!gateway) throw new Error(`network ${network} has no gateway address`);
    return gateway;
  },
});

after(async () => {
  for (const c of await driver.findByLabels(labels)) await driver.remove(c.id, { force: true });
  for (const n of await driver.findNetworksByLabels(labels)) await driver.removeNetwork(n);
  for (const v of await driver.findVolumesByLabels(labels)) await driver.removeVolume(v);
});
