// Why a tenant's container was stopped, as data: decided by the sweep (idle,
// stuck), the admin API (admin) or an image switch (image), and turned into
// words in one place (describeStop), which the stored state, the API, the CLI,
// the dashboard and the logs all show. Metrics count by `kind`.

import { formatDuration } from '../config/duration.js';
import type { ActivityKind } from './activity.js';

export type StopReason =
  | {
      readonly kind: 'idle';
      readonly idleTimeoutMs: number;
      /** When the last activity was (ms since the epoch), and what it was. */
      readonly lastActivity: number;
      readonly lastKind: ActivityKind | 'lease end';
      /** Leases still held but past their cap (they hold no more). */
      readonly cappedLeases: readonly string[];
      readonly leaseCapMs: number;
    }
  | { readonly kind: 'stuck'; readonly silentMs: number; readonly processing: readonly string[] }
  | { readonly kind: 'admin' }
  | { readonly kind: 'image'; readonly buildId: string };

function clock(ms: number): string {
  return new Date(ms).toISOString().slice(11, 19);
}

/** The reason in words, as every view shows it. */
export function describeStop(reason: StopReason): string {
  switch (reason.kind) {
    case 'idle': {
      const cap = reason.cappedLeases.length ? `; lease ${reason.cappedLeases.join(', ')} past its ${formatDuration(reason.leaseCapMs)} cap` : '';
      return `idle ${formatDuration(reason.idleTimeoutMs)}, last activity ${clock(reason.lastActivity)} ${reason.lastKind}${cap}`;
    }
    case 'stuck':
      return `heartbeat missing ${formatDuration(reason.silentMs)} while processing ${reason.processing.join(', ')}`;
    case 'admin':
      return 'admin stop';
    case 'image':
      return `image switched now (build ${reason.buildId})`;
  }
}
