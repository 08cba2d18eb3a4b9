// What happens to tenants, as one typed stream: the lifecycle says when a
// tenant became ready, was stopped or a wake ended; the tenant service when
// settings changed; the cluster when another napbox process is stopping one.
// The parts that react (metrics, the dashboard's live view, the wake history,
// runner channels, the relay, the lifecycle itself for `stoppingElsewhere`)
// subscribe in the composition root (src/app.ts).

import type { Endpoint } from '../runtime/container-driver.js';
import { TypedEvents } from '../typed-events.js';
import type { PauseReason, StopReason } from './stop-reason.js';

/** A tenant this process woke (or adopted) and found ready: where its app and runner answer. */
export interface Running {
  readonly slug: string;
  readonly containerId: string;
  readonly app: Endpoint;
  readonly control: Endpoint;
  readonly since: number;
}

type WakeOutcome = 'ready' | 'failed' | 'timeout';

export interface TenantEventMap {
  /** A wake ended with the tenant ready (its runner channel is opened from here). */
  readonly ready: Running;
  /** This process stopped the tenant's running container, and why. */
  readonly stopped: { readonly slug: string; readonly reason: StopReason };
  /** This process froze the tenant's container (memory kept), and why. */
  readonly paused: { readonly slug: string; readonly reason: PauseReason; readonly memoryBytes: number | null };
  /** A wake thawed the tenant's paused container (its `ready` follows). */
  readonly thawed: { readonly slug: string; readonly ms: number };
  /** Every wake's outcome and duration. */
  readonly wakeDone: { readonly slug: string; readonly outcome: WakeOutcome; readonly ms: number };
  /** Another napbox process is stopping the tenant: this one forgets its endpoints. */
  readonly stoppingElsewhere: { readonly slug: string };
  /** The tenant's settings changed (admin API or its groups folder); `visibility` as it is now. */
  readonly changed: { readonly slug: string; readonly visibility: 'public' | 'private' };
}

export class TenantEvents extends TypedEvents<TenantEventMap> {}
