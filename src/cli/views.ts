// What the CLI prints for people, from the API's answers: each view as a
// table (table.ts). `--json` prints the answers themselves instead.

import type { BuildView } from '../images/build-store.js';
import type { PackagesView } from '../images/image-admin.js';
import type { PruneReport } from '../images/prune.js';
import type { TenantView } from '../tenants/tenant-service.js';
import { table, when } from './table.js';

export function tenantTable(list: readonly TenantView[]): string {
  if (!list.length) return 'no tenants yet: add one with `napbox tenants add <slug>`\n';
  return table(
    list.map((t) => [t.slug, t.state, when(t.stateChangedAt), t.reason]),
    ['TENANT', 'STATE', 'SINCE', 'WHY'],
  );
}

export function statusText(t: TenantView): string {
  const nextImage = (t as { nextImage?: unknown }).nextImage;
  const config = t.config;
  const app = config.app as { command?: string[] } | undefined;
  const provider = config.provider as { kind?: string; model?: string } | undefined;
  const rows: Array<[string, string | number | null]> = [
    ['tenant', t.slug],
    ['state', `${t.state} (${t.reason}), since ${when(t.stateChangedAt)}`],
    ['url', t.url],
    ['visibility', String(config.visibility ?? 'public')],
    ['app', app?.command ? app.command.join(' ') : 'the built-in page'],
    ['provider', provider?.kind ? `${provider.kind}${provider.model ? ` (${provider.model})` : ''}` : 'echo'],
    ['last start', t.lastStartReason],
    ['last stop', t.lastStopReason],
    ['last activity', when(t.lastActivity)],
    ['holds', t.holds.length ? t.holds.join('; ') : 'none'],
    [
      'paused',
      t.paused
        ? `since ${when(t.paused.since)}, keeping ${t.paused.memoryBytes === null ? 'unknown' : `${Math.round(t.paused.memoryBytes / 1024 ** 2)} MiB`} of memory`
        : '-',
    ],
    ['image', t.image],
    ...(typeof nextImage === 'string' ? [['next image', nextImage] as [string, string]] : []),
    ['build', t.build ? `${t.build.id} ${t.build.state}${t.build.error ? `: ${t.build.error}` : ''}` : '-'],
    ['container', t.containerId?.slice(0, 12) ?? null],
    ['failures', t.failures ? `${t.failures} (next try after ${when(t.retryAt)})` : '0'],
  ];
  return table(rows.map(([k, v]) => [k, v === null ? '-' : String(v)]));
}

export function buildLine(b: BuildView): string {
  const took = b.finishedAt && b.startedAt ? `, took ${Math.round((b.finishedAt - b.startedAt) / 1000)}s` : '';
  return `${b.id} ${b.state}${b.cached ? ' (cached)' : ''}, asked ${when(b.createdAt)}${took}${b.error ? `: ${b.error}` : ''}`;
}

export function packagesText(p: PackagesView): string {
  return table([
    ['tenant', p.tenant],
    ['apt', p.apt.join(' ') || '-'],
    ['npm', p.npm.join(' ') || '-'],
    ['image', p.image],
    ['previous image', p.previousImage ?? '-'],
    ['latest build', p.build ? buildLine(p.build) : '-'],
  ]);
}

export function pruneText(r: PruneReport): string {
  const rows = [...r.removed.map((p) => ['removed', p.ref, p.reason]), ...r.kept.map((p) => ['kept', p.ref, p.reason])];
  return rows.length ? table(rows, ['', 'IMAGE', 'WHY']) : 'no tenant images\n';
}
