// Prometheus metrics at /metrics, through prom-client: the process's own
// (event-loop delay at 1 ms resolution, memory, CPU) and napbox's. Gauges of
// state (tenants and messages by state) are read from their stores at each
// scrape, so they can never drift; events (wakes, stops, builds, sweep ticks,
// forwarded requests) are counted by the composition root as it hears of them.

import client from 'prom-client';
import type { StateCount } from '../db/rows.js';

export class Metrics {
  readonly registry = new client.Registry();
  readonly wakes: client.Counter<'outcome'>;
  readonly wakeSeconds: client.Histogram<'outcome'>;
  readonly sweepSeconds: client.Histogram;
  readonly proxied: client.Counter<'path'>;
  readonly proxySeconds: client.Histogram<'path'>;
  readonly held: client.Gauge;
  readonly builds: client.Counter<'outcome'>;
  readonly buildSeconds: client.Histogram<'outcome'>;
  readonly stops: client.Counter<'reason'>;
  readonly pauses: client.Counter<'reason'>;
  readonly thawSeconds: client.Histogram;

  /** @param counts how many tenants and messages are in each state now, read at each scrape (their stores). */
  constructor(counts: {
    readonly tenantStates: () => readonly StateCount[];
    readonly messageStates: () => readonly StateCount[];
    /** The memory paused tenants keep together, in bytes. */
    readonly pausedMemory: () => number;
  }) {
    client.collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 1 });
    const registers = [this.registry];
    this.wakes = new client.Counter({ name: 'napbox_wakes_total', help: 'Wakes of tenant containers, by outcome', labelNames: ['outcome'], registers });
    this.wakeSeconds = new client.Histogram({
      name: 'napbox_wake_duration_seconds',
      help: 'From the start of a wake to the tenant being ready (or failing)',
      labelNames: ['outcome'],
      buckets: [0.1, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 2, 5, 10, 30, 60],
      registers,
    });
    this.sweepSeconds = new client.Histogram({
      name: 'napbox_sweep_duration_seconds',
      help: 'Duration of one sweep tick',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1],
      registers,
    });
    this.proxied = new client.Counter({
      name: 'napbox_proxied_requests_total',
      help: 'Requests forwarded to tenants: relayed as bytes, or through the HTTP proxy',
      labelNames: ['path'],
      registers,
    });
    this.proxySeconds = new client.Histogram({
      name: 'napbox_proxied_request_seconds',
      help: 'Time to the first byte of the answer (relay) or to the end of the answer (proxy), waits for a wake included',
      labelNames: ['path'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 30],
      registers,
    });
    this.held = new client.Gauge({ name: 'napbox_held_requests', help: 'Requests and upgrades waiting for their tenant to wake', registers });
    this.builds = new client.Counter({ name: 'napbox_builds_total', help: 'Tenant image builds, by outcome', labelNames: ['outcome'], registers });
    this.buildSeconds = new client.Histogram({
      name: 'napbox_build_duration_seconds',
      help: 'Tenant image build durations',
      labelNames: ['outcome'],
      buckets: [1, 5, 10, 30, 60, 120, 300, 600],
      registers,
    });
    this.stops = new client.Counter({ name: 'napbox_stops_total', help: 'Tenant stops, by kind of reason', labelNames: ['reason'], registers });
    this.pauses = new client.Counter({
      name: 'napbox_pauses_total',
      help: 'Tenants paused (frozen, memory kept), by kind of reason',
      labelNames: ['reason'],
      registers,
    });
    this.thawSeconds = new client.Histogram({
      name: 'napbox_thaw_duration_seconds',
      help: 'From the start of a wake of a paused tenant to it being ready again',
      buckets: [0.005, 0.01, 0.02, 0.03, 0.04, 0.06, 0.1, 0.25, 1],
      registers,
    });
    new client.Gauge({
      name: 'napbox_paused_memory_bytes',
      help: 'Memory kept by paused tenants together (as the engine said when each was paused)',
      registers,
      collect() {
        this.set(counts.pausedMemory());
      },
    });
    new client.Gauge({
      name: 'napbox_tenants',
      help: 'Tenants by state',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const r of counts.tenantStates()) this.set({ state: r.state }, r.n);
      },
    });
    new client.Gauge({
      name: 'napbox_messages',
      help: 'Chat messages by state',
      labelNames: ['state'],
      registers,
      collect() {
        this.reset();
        for (const r of counts.messageStates()) this.set({ state: r.state }, r.n);
      },
    });
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}
