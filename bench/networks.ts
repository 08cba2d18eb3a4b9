// Which network design a tenant's container should have, measured: the cold
// start (engine start of a stopped container to its app's first 200) of one
// plain Node container under each candidate, interleaved in one run.
//
//   shared    one bridge network per install, inter-container traffic off (icc=false)
//   own       a network per tenant, made once and kept (today's design)
//   per-wake  a network per tenant made at wake (create + connect) and removed at stop
//
// Also: how long creating one more bridge network takes with many already there
// (carved from a pool of /28s), which bounds `own` at scale.
// Run: node --import tsx bench/networks.ts [tries=9] [extra networks=200]
// Everything it makes carries the label napbox.bench=networks and is removed at the end.

import http from 'node:http';
import Docker from 'dockerode';
import { summarize } from './stats.js';

const docker = new Docker();
const LABEL = { 'napbox.bench': 'networks' };
const IMAGE = process.env.BENCH_IMAGE ?? 'napbox-node-base:node24';
const SERVER = "require('http').createServer((q,s)=>s.end('ok')).listen(8080)";
const tries = Number(process.argv[2] ?? 9);
const extra = Number(process.argv[3] ?? 200);

function get(host: string): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host, port: 8080, path: '/', timeout: 250 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(0));
  });
}

async function firstOk(id: string, network: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  let ip = '';
  while (Date.now() < deadline) {
    if (!ip) ip = (await docker.getContainer(id).inspect()).NetworkSettings.Networks[network]?.IPAddress ?? '';
    if (ip && (await get(ip)) === 200) return;
    await new Promise((r) => setTimeout(r, 5));
  }
  throw new Error(`container ${id} did not answer`);
}

async function network(name: string, icc: boolean, subnet?: string): Promise<void> {
  await docker.createNetwork({
    Name: name,
    Driver: 'bridge',
    Labels: LABEL,
    Options: icc ? {} : { 'com.docker.network.bridge.enable_icc': 'false' },
    ...(subnet ? { IPAM: { Config: [{ Subnet: subnet }] } } : {}),
  });
}

async function container(name: string, net: string): Promise<string> {
  const c = await docker.createContainer({ name, Image: IMAGE, Cmd: ['node', '-e', SERVER], Labels: LABEL, HostConfig: { NetworkMode: net, Init: true } });
  return c.id;
}

async function cleanup(): Promise<void> {
  for (const c of await docker.listContainers({ all: true, filters: { label: ['napbox.bench=networks'] } }))
    await docker.getContainer(c.Id).remove({ force: true });
  for (const n of await docker.listNetworks({ filters: { label: ['napbox.bench=networks'] } }))
    await docker
      .getNetwork(n.Id)
      .remove()
      .catch(() => undefined);
}

async function main(): Promise<void> {
  await cleanup();
  try {
    await network('nbb-shared', false);
    await network('nbb-own', true);
    await network('nbb-idle', true);
    const shared = await container('nbb-c-shared', 'nbb-shared');
    const own = await container('nbb-c-own', 'nbb-own');
    const perWake = await container('nbb-c-wake', 'nbb-idle');
    await docker.getNetwork('nbb-idle').disconnect({ Container: perWake });
    const times: Record<string, number[]> = { shared: [], own: [], 'per-wake': [] };
    for (let i = 0; i < tries; i++) {
      for (const [kind, id, net] of [
        ['shared', shared, 'nbb-shared'],
        ['own', own, 'nbb-own'],
        ['per-wake', perWake, `nbb-wake-${i}`],
      ] as const) {
        const t0 = performance.now();
        if (kind === 'per-wake') {
          await network(net, true);
          await docker.getNetwork(net).connect({ Container: id });
        }
        await docker.getContainer(id).start();
        await firstOk(id, net);
        times[kind]!.push(performance.now() - t0);
        await docker.getContainer(id).stop({ t: 2 });
        if (kind === 'per-wake') {
          const s0 = performance.now();
          await docker.getNetwork(net).disconnect({ Container: id });
          await docker.getNetwork(net).remove();
          times['per-wake stop extra'] = [...(times['per-wake stop extra'] ?? []), performance.now() - s0];
        }
      }
    }
    const base = summarize(times.shared!).p50;
    for (const [kind, list] of Object.entries(times)) {
      const s = summarize(list);
      console.log(
        `${kind.padEnd(20)} p50 ${s.p50.toFixed(0).padStart(5)} ms  p90 ${s.p90.toFixed(0).padStart(5)} ms  ${kind.endsWith('extra') ? '' : `${(s.p50 / base).toFixed(2)}x shared`}`,
      );
    }
    // The cost of one more network once many exist (own networks at scale, from a pool of /28s).
    const created: number[] = [];
    for (let i = 0; i < extra; i++) {
      const t0 = performance.now();
      await network(`nbb-many-${i}`, true, `10.213.${Math.floor(i / 16)}.${(i % 16) * 16}/28`);
      created.push(performance.now() - t0);
    }
    const first = summarize(created.slice(0, 20)).p50;
    const last = summarize(created.slice(-20)).p50;
    console.log(`network create       p50 of the first 20 ${first.toFixed(0)} ms, of the last 20 (with ${extra} bridges) ${last.toFixed(0)} ms`);
    const t0 = performance.now();
    await docker.getContainer(own).start();
    await firstOk(own, 'nbb-own');
    console.log(`own, cold start with ${extra + 4} bridge networks on the host: ${(performance.now() - t0).toFixed(0)} ms`);
  } finally {
    await cleanup();
  }
}

await main();
