// Numbered schema migrations. Each runs once, inside a transaction together
// with the bump of `user_version`, so a crash leaves the schema at a whole
// version. Never edit a migration that has shipped: add the next one.

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'tenants',
    sql: `
      CREATE TABLE meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      CREATE TABLE tenants (
        slug             TEXT PRIMARY KEY,
        created_at       INTEGER NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('stopped','starting','running','stopping','failed')),
        state_reason     TEXT NOT NULL,
        state_changed_at INTEGER NOT NULL,
        last_start_reason TEXT,
        last_stop_reason  TEXT,
        container_id     TEXT,
        image            TEXT,
        last_activity    INTEGER,
        last_heartbeat   INTEGER,
        failures         INTEGER NOT NULL DEFAULT 0,
        retry_at         INTEGER,
        config           TEXT NOT NULL DEFAULT '{}'
      );
      CREATE INDEX tenants_state ON tenants(state);
    `,
  },
];
