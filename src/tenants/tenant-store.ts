// The tenants table: the one place that reads and writes tenant rows.
// Every row read back is validated before use. A state change and its
// reason are always written together, so the reason shown for a tenant is
// the reason of the state it is in.

import crypto from 'node:crypto';
import { z } from 'zod';
import { relaxed, type Db } from '../db/database.js';
import { NapboxError } from '../errors.js';
import { TenantConfigSchema, type TenantConfig } from '../model/tenant-config.js';
import { CountRow, maybeRow, row, rows, StateCountRow, type StateCount } from '../db/rows.js';

const ChannelKeyRow = z.object({ channel_key: z.string().nullable() });

const TENANT_STATES = ['stopped', 'starting', 'running', 'paused', 'stopping', 'failed'] as const;
type TenantState = (typeof TENANT_STATES)[number];

const RowSchema = z.object({
  slug: z.string(),
  created_at: z.number().int(),
  state: z.enum(TENANT_STATES),
  state_reason: z.string(),
  state_changed_at: z.number().int(),
  last_start_reason: z.string().nullable(),
  last_stop_reason: z.string().nullable(),
  container_id: z.string().nullable(),
  image: z.string().nullable(),
  last_activity: z.number().int().nullable(),
  last_heartbeat: z.number().int().nullable(),
  failures: z.number().int().min(0),
  retry_at: z.number().int().nullable(),
  last_failure_at: z.number().int().nullable(),
  config: z.string(),
  channel_key: z.string().nullable(),
  paused_memory: z.number().int().min(0).nullable(),
});

export interface Tenant {
  readonly slug: string;
  readonly createdAt: number;
  readonly state: TenantState;
  readonly stateReason: string;
  readonly stateChangedAt: number;
  readonly lastStartReason: string | null;
  readonly lastStopReason: string | null;
  readonly containerId: string | null;
  /** The tenant's own image; null means the current base agent image. */
  readonly image: string | null;
  readonly lastActivity: number | null;
  readonly lastHeartbeat: number | null;
  /** Failed wakes in the breaker's current window; reset by a successful one. */
  readonly failures: number;
  /** When the breaker's current window began (its first failed wake). */
  readonly lastFailureAt: number | null;
  /** While set and in the future, wakes are refused (circuit open). */
  readonly retryAt: number | null;
  readonly config: TenantConfig;
  /** While paused: the memory its frozen container keeps, in bytes (null when the engine did not say). */
  readonly pausedMemory: number | null;
}

export interface StateChange {
  readonly state: TenantState;
  readonly reason: string;
  readonly containerId?: string | null;
  readonly failures?: number;
  readonly retryAt?: number | null;
  /** With `failures`: when its window began (absent: none). */
  readonly lastFailureAt?: number | null;
  /** Paused: the memory its container keeps (bytes). Cleared by every other state. */
  readonly pausedMemory?: number | null;
  /** Which of the last-start / last-stop reasons this change also records. */
  readonly records?: 'start' | 'stop';
}

function toTenant(raw: unknown): Tenant {
  const row = RowSchema.parse(raw);
  const config = TenantConfigSchema.safeParse(JSON.parse(row.config));
  if (!config.success) {
    throw new NapboxError('internal', `tenant ${row.slug} has an invalid stored config: ${config.error.message}`);
  }
  return {
    slug: row.slug,
    createdAt: row.created_at,
    state: row.state,
    stateReason: row.state_reason,
    stateChangedAt: row.state_changed_at,
    lastStartReason: row.last_start_reason,
    lastStopReason: row.last_stop_reason,
    containerId: row.container_id,
    image: row.image,
    lastActivity: row.last_activity,
    lastHeartbeat: row.last_heartbeat,
    failures: row.failures,
    retryAt: row.retry_at,
    lastFailureAt: row.last_failure_at,
    config: config.data,
    pausedMemory: row.state === 'paused' ? row.paused_memory : null,
  };
}

export class TenantStore {
  constructor(private readonly db: Db) {}

  create(slug: string, config: TenantConfig, now: number): Tenant {
    const insert = this.db.prepare(
      `INSERT INTO tenants (slug, created_at, state, state_reason, state_changed_at, config)
       VALUES (?, ?, 'stopped', 'created', ?, ?) ON CONFLICT(slug) DO NOTHING`,
    );
    const result = insert.run(slug, now, now, JSON.stringify(config));
    if (result.changes === 0) throw new NapboxError('conflict', `tenant ${slug} already exists`);
    return this.require(slug);
  }

  get(slug: string): Tenant | undefined {
    const row = this.db.prepare('SELECT * FROM tenants WHERE slug = ?').get(slug);
    return row === undefined ? undefined : toTenant(row);
  }

  require(slug: string): Tenant {
    const tenant = this.get(slug);
    if (!tenant) throw new NapboxError('not_found', `no tenant ${slug}: create it with \`napbox tenants add ${slug}\``);
    return tenant;
  }

  list(): Tenant[] {
    return this.db.prepare('SELECT * FROM tenants ORDER BY slug').all().map(toTenant);
  }

  /** Tenants napbox believes are up (or going up or down): what the sweep looks at. */
  listActive(): Tenant[] {
    return this.db.prepare("SELECT * FROM tenants WHERE state IN ('starting', 'running', 'paused', 'stopping')").all().map(toTenant);
  }

  /** How many tenants are in each state (metrics). */
  countByState(): StateCount[] {
    return rows(StateCountRow, this.db.prepare('SELECT state, count(*) AS n FROM tenants GROUP BY state').all(), 'tenants');
  }

  /** The memory paused tenants keep together, in bytes (as the engine said when each was paused). */
  pausedMemory(): number {
    return row(CountRow, this.db.prepare("SELECT coalesce(sum(paused_memory), 0) AS n FROM tenants WHERE state = 'paused'").get(), 'tenants').n;
  }

  count(): number {
    return row(CountRow, this.db.prepare('SELECT count(*) AS n FROM tenants').get(), 'tenants').n;
  }

  remove(slug: string): boolean {
    return this.db.prepare('DELETE FROM tenants WHERE slug = ?').run(slug).changes > 0;
  }

  setState(slug: string, change: StateChange, now: number): void {
    const sets = ['state = @state', 'state_reason = @reason', 'state_changed_at = @now', 'paused_memory = @pausedMemory'];
    if (change.containerId !== undefined) sets.push('container_id = @containerId');
    if (change.failures !== undefined) sets.push('failures = @failures', 'last_failure_at = @lastFailureAt');
    if (change.retryAt !== undefined) sets.push('retry_at = @retryAt');
    if (change.records === 'start') sets.push('last_start_reason = @reason');
    if (change.records === 'stop') sets.push('last_stop_reason = @reason');
    // Relaxed: the engine tells the states again at start-up (reconcile), and a wake makes several such writes.
    relaxed(this.db, () =>
      this.db.prepare(`UPDATE tenants SET ${sets.join(', ')} WHERE slug = @slug`).run({
        slug,
        state: change.state,
        reason: change.reason,
        now,
        containerId: change.containerId ?? null,
        failures: change.failures ?? 0,
        retryAt: change.retryAt ?? null,
        lastFailureAt: change.lastFailureAt ?? null,
        pausedMemory: change.state === 'paused' ? (change.pausedMemory ?? null) : null,
      }),
    );
  }

  /** The tenant's secret for its runner channel (made on first use); never part of a Tenant or a view. */
  channelKey(slug: string): string {
    const current = maybeRow(ChannelKeyRow, this.db.prepare('SELECT channel_key FROM tenants WHERE slug = ?').get(slug), 'tenants');
    if (!current) throw new NapboxError('not_found', `no tenant ${slug}`);
    if (current.channel_key && /^[A-Za-z0-9_-]{43}$/.test(current.channel_key)) return current.channel_key;
    const key = crypto.randomBytes(32).toString('base64url');
    // Only where none is stored yet: another napbox process may have made the key first, and its container uses it.
    this.db.prepare('UPDATE tenants SET channel_key = ? WHERE slug = ? AND (channel_key IS NULL OR channel_key = ?)').run(key, slug, current.channel_key ?? '');
    const stored = maybeRow(ChannelKeyRow, this.db.prepare('SELECT channel_key FROM tenants WHERE slug = ?').get(slug), 'tenants');
    if (!stored?.channel_key || !/^[A-Za-z0-9_-]{43}$/.test(stored.channel_key))
      throw new NapboxError('internal', `tenant ${slug}: its channel key could not be stored`);
    return stored.channel_key;
  }

  updateConfig(slug: string, config: TenantConfig): void {
    this.db.prepare('UPDATE tenants SET config = ? WHERE slug = ?').run(JSON.stringify(TenantConfigSchema.parse(config)), slug);
  }

  /** The tenant's own image; null puts it back on the base agent image. Used from its next container on. */
  setImage(slug: string, image: string | null): void {
    this.db.prepare('UPDATE tenants SET image = ? WHERE slug = ?').run(image, slug);
  }

  recordHeartbeat(slug: string, at: number): void {
    relaxed(this.db, () => this.db.prepare('UPDATE tenants SET last_heartbeat = ? WHERE slug = ?').run(at, slug));
  }

  touchActivity(slug: string, at: number): void {
    relaxed(this.db, () => this.db.prepare('UPDATE tenants SET last_activity = max(coalesce(last_activity, 0), ?) WHERE slug = ?').run(at, slug));
  }
}
