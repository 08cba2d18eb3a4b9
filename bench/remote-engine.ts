// Cold starts against a remote engine, next to the local socket: three napbox
// processes on the same engine, reached three ways:
// - local: the unix socket, bind mounts, the container's bridge address;
// - tcp: DOCKER_HOST=tcp://127.0.0.1:<port> (a forwarder to the socket
//   standing in for a dockerd on TCP), copy mounts, published ports;
// - ssh: DOCKER_HOST=ssh://<user>@127.0.0.1:<port> (a throwaway sshd in front
//   of the engine), copy mounts, published ports; only where OpenSSH's sshd
//   is installed and this runs as root.
// Two numbers per way: the first wake of a new tenant (the container is
// created, and in copy mode its files are copied in), and the cold start of
// a stopped one (`docker start` of the same container), both timed from the
// request to the whole response through napbox. Tries alternate between the
// ways, so the shared machine's noise falls on all alike.
//
//   node --import tsx bench/remote-engine.ts     (BENCH_REMOTE_N tries each, default 20)

import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { api, removeInstall, request, ROOT, startNapbox, tenantHost, type NapboxProcess } from '../test/helpers/napbox-process.js';
import { startTcpForwarder } from '../test/helpers/tcp-forwarder.js';
import { startLocalSshd, sshdUnavailable, type LocalSshd } from '../test/helpers/local-sshd.js';
import { runScript } from './script.js';

const TRIES = Number(process.env.BENCH_REMOTE_N ?? 20);
const NEW_TENANTS = 5;
const OUT = path.join(ROOT, 'bench', 'out', 'remote-engine.json');

interface Way {
  readonly name: string;
  readonly nb: NapboxProcess;
  readonly first: number[];
  readonly cold: number[];
}

function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
}

async function timedGet(nb: NapboxProcess, slug: string): Promise<number> {
  const t0 = performance.now();
  const res = await request(nb.port, { host: tenantHost(nb, slug) });
  const ms = performance.now() - t0;
  if (res.status !== 200) throw new Error(`${slug}: ${res.status} ${res.body.slice(0, 200)}`);
  return ms;
}

async function main(): Promise<void> {
  const forwarder = await startTcpForwarder('/var/run/docker.sock');
  const unavailable = sshdUnavailable();
  let sshd: LocalSshd | undefined;
  const ways: Way[] = [];
  try {
    if (!unavailable) sshd = await startLocalSshd();
    else process.stderr.write(`bench: no ssh way (${unavailable})\n`);
    const envs: Array<[string, Record<string, string>]> = [
      ['local (unix socket, bind mounts, bridge address)', {}],
      ['tcp:// (copy mounts, published ports)', { DOCKER_HOST: `tcp://127.0.0.1:${forwarder.port}` }],
      ...(sshd
        ? [
            ['ssh:// (copy mounts, published ports)', { ...sshd.env, DOCKER_HOST: `ssh://${sshd.user}@127.0.0.1:${sshd.port}` }] as [
              string,
              Record<string, string>,
            ],
          ]
        : []),
    ];
    for (const [name, env] of envs) ways.push({ name, nb: await startNapbox({ env: { ...env, NAPBOX_WAKE_TIMEOUT: '60s' } }), first: [], cold: [] });

    for (let i = 0; i < NEW_TENANTS; i += 1) {
      for (const way of ways) {
        const slug = `new${i}`;
        await api(way.nb, 'POST', '/api/tenants', { slug });
        way.first.push(await timedGet(way.nb, slug));
      }
    }
    for (let i = 0; i < TRIES; i += 1) {
      for (const way of ways) {
        await api(way.nb, 'POST', '/api/tenants/new0/stop');
        await new Promise((r) => setTimeout(r, 200));
        way.cold.push(await timedGet(way.nb, 'new0'));
      }
    }
    const rows = ways.map((w) => ({
      way: w.name,
      firstWakeMedianMs: Math.round(quantile(w.first, 0.5)),
      coldStartMedianMs: Math.round(quantile(w.cold, 0.5)),
      coldStartP90Ms: Math.round(quantile(w.cold, 0.9)),
      newTenants: w.first.length,
      coldTries: w.cold.length,
    }));
    process.stdout.write('| way | first wake (create), median | cold start, median | p90 |\n|---|---|---|---|\n');
    for (const r of rows) process.stdout.write(`| ${r.way} | ${r.firstWakeMedianMs} ms | ${r.coldStartMedianMs} ms | ${r.coldStartP90Ms} ms |\n`);
    fs.mkdirSync(path.dirname(OUT), { recursive: true });
    fs.writeFileSync(OUT, `${JSON.stringify({ at: new Date().toISOString(), tries: TRIES, rows }, null, 2)}\n`);
  } finally {
    for (const way of ways) {
      await way.nb.stop();
      await removeInstall(way.nb.installId);
      fs.rmSync(way.nb.dataDir, { recursive: true, force: true });
    }
    await sshd?.stop();
    await forwarder.close();
  }
}

runScript(main);
