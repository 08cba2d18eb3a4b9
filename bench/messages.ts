// Chat messages to a running `echo` tenant: the round trip through napbox
// (chat socket in, durable inbox, dispatcher, runner channel, reply out)
// against the same runner called directly on its channel, in one run.
// Sequential round trips give latency; many sessions at once give messages/s
// (per session one at a time on both sides, as napbox delivers them).

import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import WebSocket from 'ws';
import { RunnerChannelClient } from '../test/helpers/runner-channel-client.js';
import { containerId, wakeViaApi, SLUG, type BenchTenant } from './bench-tenant.js';
import { summarize, type Summary } from './stats.js';

export interface MessageSettings {
  readonly sequential: number;
  readonly sessions: number;
  readonly perSession: number;
}

export interface MessageSide {
  readonly roundTripMs: Summary;
  readonly messagesPerSec: number;
}

export interface MessageResults {
  readonly settings: MessageSettings;
  readonly napbox: MessageSide;
  readonly direct: MessageSide;
}

/** A chat socket on one session, with a way to await the reply to a text. */
async function chatSocket(tenant: BenchTenant, session: string): Promise<{ ask: (text: string) => Promise<void>; close: () => void }> {
  const ws = new WebSocket(`ws://127.0.0.1:${tenant.nb.port}/_napbox/chat?session=${session}`, { headers: { host: tenant.host } });
  const waiting = new Map<string, () => void>();
  ws.on('message', (data) => {
    const frame = JSON.parse(String(data)) as { type: string; text?: string };
    if (frame.type === 'reply' && frame.text) waiting.get(frame.text)?.();
  });
  await new Promise((resolve, reject) => {
    ws.once('open', resolve);
    ws.once('error', reject);
  });
  return {
    ask: (text) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no reply to ${text} within 30s`)), 30_000);
        waiting.set(`echo: ${text}`, () => {
          clearTimeout(timer);
          waiting.delete(`echo: ${text}`);
          resolve();
        });
        ws.send(JSON.stringify({ type: 'send', text }));
      }),
    close: () => ws.close(),
  };
}

async function timed(n: number, one: (i: number) => Promise<void>): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const t0 = performance.now();
    await one(i);
    out.push(performance.now() - t0);
  }
  return out;
}

/** Sessions in parallel, each sending its messages one after another; returns messages per second. */
async function throughput(settings: MessageSettings, session: (s: number) => Promise<(i: number) => Promise<void>>): Promise<number> {
  const askers = await Promise.all(Array.from({ length: settings.sessions }, (_, s) => session(s)));
  const t0 = performance.now();
  await Promise.all(
    askers.map(async (ask) => {
      for (let i = 0; i < settings.perSession; i += 1) await ask(i);
    }),
  );
  return (settings.sessions * settings.perSession) / ((performance.now() - t0) / 1000);
}

async function directClient(tenant: BenchTenant): Promise<RunnerChannelClient> {
  const db = new BetterSqlite3(path.join(tenant.nb.dataDir, 'napbox.db'), { readonly: true });
  const row = db.prepare('SELECT channel_key FROM tenants WHERE slug = ?').get(SLUG) as { channel_key: string };
  db.close();
  const info = await tenant.driver.inspect(await containerId(tenant));
  if (!info?.bridgeIp) throw new Error('the bench tenant has no bridge address');
  return RunnerChannelClient.connect({ endpoint: { host: info.bridgeIp, port: 8081 }, key: Buffer.from(row.channel_key, 'base64url'), tenant: SLUG });
}

export async function measureMessages(tenant: BenchTenant, settings: MessageSettings, progress: (line: string) => void): Promise<MessageResults> {
  await wakeViaApi(tenant);
  const chat = await chatSocket(tenant, 'seq');
  await chat.ask('warm-up');
  const napboxRtt = await timed(settings.sequential, (i) => chat.ask(`n${i}`));
  chat.close();
  const sockets: Array<{ close: () => void }> = [];
  const napboxRate = await throughput(settings, async (s) => {
    const c = await chatSocket(tenant, `par${s}`);
    sockets.push(c);
    return (i) => c.ask(`p${s}-${i}`);
  });
  for (const c of sockets) c.close();
  progress(`messages through napbox: p50 ${summarize(napboxRtt).p50.toFixed(2)} ms, ${napboxRate.toFixed(0)} msg/s`);

  const client = await directClient(tenant);
  try {
    const deliver = async (id: string, session: string, text: string): Promise<void> => {
      const outcome = await client.deliver({ id, session, text });
      if (outcome.reply !== `echo: ${text}`) throw new Error(`unexpected direct outcome ${JSON.stringify(outcome)}`);
    };
    await deliver('d_warm', 'dseq', 'warm-up');
    const directRtt = await timed(settings.sequential, (i) => deliver(`d_s${i}`, 'dseq', `d${i}`));
    const directRate = await throughput(settings, async (s) => (i) => deliver(`d_p${s}_${i}`, `dpar${s}`, `q${s}-${i}`));
    progress(`messages direct to the runner: p50 ${summarize(directRtt).p50.toFixed(2)} ms, ${directRate.toFixed(0)} msg/s`);
    return {
      settings,
      napbox: { roundTripMs: summarize(napboxRtt), messagesPerSec: napboxRate },
      direct: { roundTripMs: summarize(directRtt), messagesPerSec: directRate },
    };
  } finally {
    await client.close();
  }
}
