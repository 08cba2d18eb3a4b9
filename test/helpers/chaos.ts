// A bad day, scripted: chat messages sent to a few tenants while their
// containers are killed and napbox itself is killed (SIGKILL) and started
// again on the same data dir, optionally with the engine restarted too. The
// sender acts as a careful client: it retries a POST that got no answer with
// the same idempotency id. At the end every message must have exactly one
// correct reply, none may have failed, and each session's replies must have
// come in the order the messages were sent.
//
// Used by test/integration/chaos.test.ts (short) and bench/chaos.ts (the soak).

import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { api, removeInstall, startNapbox, tempDataDir, type NapboxProcess } from './napbox-process.js';

const run = promisify(execFile);

export interface ChaosSettings {
  readonly messages: number;
  readonly tenants: number;
  readonly sessionsPerTenant: number;
  /** Spread over this long. */
  readonly sendMs: number;
  readonly containerKills: number;
  readonly napboxKills: number;
  /**
   * Times a tenant is stopped and its next two starts are killed as soon as they happen (an engine in
   * trouble): its wakes fail and its breaker opens while messages wait for it.
   */
  readonly startKills?: number;
  /** Extra environment for napbox (DOCKER_HOST of an own engine, say). */
  readonly env?: Record<string, string>;
  /** Restarts the engine once, halfway (only with an engine of the test's own). */
  readonly restartEngine?: () => Promise<void>;
  readonly progress?: (line: string) => void;
}

export interface ChaosReport {
  readonly sent: number;
  readonly done: number;
  readonly failed: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly wrongReply: number;
  readonly outOfOrder: number;
  readonly containerKills: number;
  readonly napboxKills: number;
  readonly startKills: number;
  readonly seconds: number;
  readonly problems: readonly string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export async function runChaos(settings: ChaosSettings): Promise<ChaosReport> {
  const started = Date.now();
  const dataDir = tempDataDir();
  const env = { NAPBOX_SWEEP_INTERVAL: '1s', ...settings.env };
  let nb: NapboxProcess = await startNapbox({ dataDir, env });
  const installId = nb.installId;
  const dockerEnv = { ...process.env, ...(settings.env?.DOCKER_HOST ? { DOCKER_HOST: settings.env.DOCKER_HOST } : {}) };
  const slugs = Array.from({ length: settings.tenants }, (_, i) => `chaos${i}`);
  const problems: string[] = [];
  let restarting: Promise<void> | undefined;
  let containerKills = 0;
  let napboxKills = 0;
  let startKills = 0;
  // Kills of containers right after they start, armed per tenant by the chaos loop.
  const armed = new Map<string, number>();
  const events = spawn(
    'docker',
    [
      'events',
      '--filter',
      'type=container',
      '--filter',
      'event=start',
      '--filter',
      `label=napbox.install=${installId}`,
      '--format',
      '{{.ID}} {{index .Actor.Attributes "napbox.tenant"}}',
    ],
    { env: dockerEnv },
  );
  events.stdout.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      const [id, slug] = line.split(' ') as [string, string];
      const left = armed.get(slug) ?? 0;
      if (left <= 0) continue;
      armed.set(slug, left - 1);
      startKills += 1;
      void run('docker', ['kill', id], { env: dockerEnv }).catch(() => undefined);
    }
  });
  try {
    for (const slug of slugs) await api(nb, 'POST', '/api/tenants', { slug });

    /** An admin call that waits out a napbox restart. */
    const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: any }> => {
      for (let attempt = 0; ; attempt++) {
        await restarting;
        try {
          return await api(nb, method, path, body);
        } catch (err) {
          if (attempt > 200) throw err;
          await sleep(100);
        }
      }
    };

    const sent: Array<{ slug: string; session: string; text: string }> = [];
    const sender = (async () => {
      for (let i = 0; i < settings.messages; i++) {
        const slug = slugs[i % slugs.length]!;
        const session = `s${Math.floor(i / slugs.length) % settings.sessionsPerTenant}`;
        const text = `m${i}`;
        const res = await call('POST', `/api/tenants/${slug}/messages`, { text, session, id: `chaos-${i}` });
        if (res.status !== 202) problems.push(`${text}: accepted with ${res.status} ${JSON.stringify(res.json)}`);
        sent.push({ slug, session, text });
        await sleep(settings.sendMs / settings.messages);
      }
    })();

    const chaos = (async () => {
      const starts = settings.startKills ?? 0;
      const total = settings.containerKills + settings.napboxKills + starts + (settings.restartEngine ? 1 : 0);
      const every = settings.sendMs / (total + 1);
      let kills = 0;
      let armedTimes = 0;
      for (let e = 0; e < total; e++) {
        await sleep(every);
        const napboxTurn = napboxKills < settings.napboxKills && (e % 3 === 2 || kills >= settings.containerKills);
        if (armedTimes < starts && e % 4 === 1) {
          armedTimes += 1;
          const slug = slugs[armedTimes % slugs.length]!;
          settings.progress?.(`${slug}: its next two starts are killed`);
          armed.set(slug, 2);
          await call('POST', `/api/tenants/${slug}/stop`);
        } else if (settings.restartEngine && e === Math.floor(total / 2)) {
          settings.progress?.('restarting the engine');
          await settings.restartEngine();
        } else if (napboxTurn) {
          napboxKills += 1;
          settings.progress?.(`kill -9 napbox (${napboxKills})`);
          restarting = (async () => {
            await nb.kill();
            nb = await startNapbox({ dataDir, env });
          })();
          await restarting;
          restarting = undefined;
        } else if (kills < settings.containerKills) {
          kills += 1;
          const slug = slugs[kills % slugs.length]!;
          const { stdout } = await run('docker', ['ps', '-q', '--filter', `label=napbox.install=${installId}`, '--filter', `label=napbox.tenant=${slug}`], {
            env: dockerEnv,
          });
          const id = stdout.trim().split('\n')[0];
          if (id) {
            containerKills += 1;
            settings.progress?.(`docker kill ${slug} (${containerKills})`);
            await run('docker', ['kill', id], { env: dockerEnv }).catch(() => undefined);
          }
        }
      }
    })();
    await Promise.all([sender, chaos]);

    // Every message settles (replied, or failed) within a deadline.
    const deadline = Date.now() + 120_000;
    let lists = new Map<string, any[]>();
    for (;;) {
      lists = new Map();
      for (const slug of slugs) {
        for (let s = 0; s < settings.sessionsPerTenant; s++) {
          lists.set(`${slug}/s${s}`, (await call('GET', `/api/tenants/${slug}/messages?session=s${s}`)).json.messages ?? []);
        }
      }
      const open = [...lists.values()].flat().filter((m) => m.state === 'pending' || m.state === 'processing').length;
      if (open === 0 || Date.now() > deadline) break;
      await sleep(500);
    }

    let done = 0;
    let failed = 0;
    let lost = 0;
    let duplicated = 0;
    let wrongReply = 0;
    let outOfOrder = 0;
    for (const [key, list] of lists) {
      const [slug, session] = key.split('/') as [string, string];
      const expected = sent.filter((m) => m.slug === slug && m.session === session).map((m) => m.text);
      const texts = list.map((m) => m.text as string);
      lost += expected.filter((t) => !texts.includes(t)).length;
      duplicated += texts.length - new Set(texts).size;
      let lastReply = '';
      for (const m of list) {
        if (m.state === 'done') done += 1;
        if (m.state === 'failed') {
          failed += 1;
          problems.push(`${slug}/${session} ${m.text}: failed: ${m.reason}`);
        }
        if (m.state === 'done' && m.reply !== `echo: ${m.text}`) wrongReply += 1;
        if (m.repliedAt) {
          if (m.repliedAt < lastReply) outOfOrder += 1;
          lastReply = m.repliedAt;
        }
      }
      if (texts.join(',') !== expected.join(',') && lost === 0 && duplicated === 0) {
        outOfOrder += 1;
        problems.push(`${key}: stored in another order than sent`);
      }
    }
    return {
      sent: sent.length,
      done,
      failed,
      lost,
      duplicated,
      wrongReply,
      outOfOrder,
      containerKills,
      napboxKills,
      startKills,
      seconds: Math.round((Date.now() - started) / 1000),
      problems: problems.slice(0, 20),
    };
  } finally {
    events.kill();
    await nb.stop().catch(() => nb.kill());
    if (!settings.env?.DOCKER_HOST) await removeInstall(installId);
  }
}
