// Numbered schema migrations. Each runs once, inside a transaction together
// with the bump of `user_version`, so a crash leaves the schema at a whole
// version. Never edit a migration that has shipped: add the next one.

export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly sql: string;
  /**
   * It makes a table anew (SQLite cannot change a CHECK constraint in place): run with foreign keys off, so
   * dropping the old table deletes no rows that refer to it, and checked before it commits.
   */
  readonly rebuildsTables?: boolean;
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
  {
    version: 2,
    name: 'messages',
    sql: `
      ALTER TABLE tenants ADD COLUMN channel_key TEXT;
      CREATE TABLE messages (
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        id              TEXT NOT NULL UNIQUE,
        tenant          TEXT NOT NULL REFERENCES tenants(slug) ON DELETE CASCADE,
        session         TEXT NOT NULL,
        client_id       TEXT,
        text            TEXT NOT NULL,
        state           TEXT NOT NULL CHECK (state IN ('pending','processing','done','failed')),
        tries           INTEGER NOT NULL DEFAULT 0,
        reason          TEXT,
        created_at      INTEGER NOT NULL,
        updated_at      INTEGER NOT NULL,
        next_attempt_at INTEGER NOT NULL,
        reply           TEXT,
        replied_at      INTEGER
      );
      CREATE UNIQUE INDEX messages_client_id ON messages(tenant, client_id) WHERE client_id IS NOT NULL;
      CREATE INDEX messages_open ON messages(tenant, session, seq) WHERE state IN ('pending','processing');
      CREATE INDEX messages_session ON messages(tenant, session, seq);
    `,
  },
  {
    version: 3,
    name: 'images',
    sql: `
  CREATE TABLE tenant_packages (
    slug           TEXT PRIMARY KEY REFERENCES tenants(slug) ON DELETE CASCADE,
    apt            TEXT NOT NULL DEFAULT '[]',
    npm            TEXT NOT NULL DEFAULT '[]',
    updated_at     INTEGER NOT NULL,
    build_id       TEXT,
    image          TEXT,
    previous_image TEXT,
    image_at       INTEGER
  );
  CREATE TABLE builds (
    id            TEXT PRIMARY KEY,
    tenant        TEXT NOT NULL REFERENCES tenants(slug) ON DELETE CASCADE,
    state         TEXT NOT NULL CHECK (state IN ('queued','building','ready','failed')),
    tag           TEXT,
    base_image    TEXT NOT NULL,
    apt           TEXT NOT NULL,
    npm           TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    started_at    INTEGER,
    finished_at   INTEGER,
    error         TEXT,
    log_path      TEXT NOT NULL,
    cached        INTEGER NOT NULL DEFAULT 0 CHECK (cached IN (0,1)),
    applied       INTEGER NOT NULL DEFAULT 0 CHECK (applied IN (0,1)),
    superseded_by TEXT
  );
  CREATE INDEX builds_tenant ON builds(tenant, created_at);
  CREATE INDEX builds_open ON builds(state) WHERE state IN ('queued','building');
`,
  },
  {
    version: 4,
    name: 'processes',
    // Shared by the napbox processes of one data dir (src/cluster/, docs/scale-out.md).
    sql: `
      CREATE TABLE processes (
        id           TEXT PRIMARY KEY,
        pid          INTEGER NOT NULL,
        started_at   INTEGER NOT NULL,
        heartbeat_at INTEGER NOT NULL
      );
      CREATE TABLE tenant_locks (
        slug       TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        op         TEXT NOT NULL CHECK (op IN ('wake','stop','destroy')),
        taken_at   INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
      );
      CREATE TABLE process_holds (
        owner         TEXT NOT NULL,
        slug          TEXT NOT NULL,
        inflight      INTEGER NOT NULL CHECK (inflight >= 0),
        sockets       INTEGER NOT NULL CHECK (sockets >= 0),
        last_activity INTEGER NOT NULL,
        last_kind     TEXT NOT NULL,
        PRIMARY KEY (owner, slug)
      );
      CREATE TABLE busy_leases (
        slug       TEXT NOT NULL,
        name       TEXT NOT NULL,
        taken_at   INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        PRIMARY KEY (slug, name)
      );
      CREATE TABLE leader_leases (
        name       TEXT PRIMARY KEY,
        owner      TEXT NOT NULL,
        expires_at INTEGER NOT NULL
      );
      ALTER TABLE messages ADD COLUMN owner TEXT;
    `,
  },
  {
    version: 5,
    name: 'revoked_sessions',
    // Signed-out dashboard and tenant sessions, by their JWT's jti, until the token expires (src/api/session-revocations.ts).
    sql: `
      CREATE TABLE revoked_sessions (
        jti        TEXT PRIMARY KEY,
        expires_at INTEGER NOT NULL
      );
    `,
  },
  {
    version: 6,
    name: 'paused',
    // The paused tier (issue 18): a state between running and stopped, and the memory a paused tenant keeps.
    rebuildsTables: true,
    sql: `
      CREATE TABLE tenants_v6 (
        slug             TEXT PRIMARY KEY,
        created_at       INTEGER NOT NULL,
        state            TEXT NOT NULL CHECK (state IN ('stopped','starting','running','paused','stopping','failed')),
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
        config           TEXT NOT NULL DEFAULT '{}',
        channel_key      TEXT,
        paused_memory    INTEGER
      );
      INSERT INTO tenants_v6 (slug, created_at, state, state_reason, state_changed_at, last_start_reason, last_stop_reason,
                              container_id, image, last_activity, last_heartbeat, failures, retry_at, config, channel_key)
        SELECT slug, created_at, state, state_reason, state_changed_at, last_start_reason, last_stop_reason,
               container_id, image, last_activity, last_heartbeat, failures, retry_at, config, channel_key FROM tenants;
      DROP TABLE tenants;
      ALTER TABLE tenants_v6 RENAME TO tenants;
      CREATE INDEX tenants_state ON tenants(state);
    `,
  },
  {
    version: 7,
    name: 'breaker_window',
    // Issue 19: the breaker opens after NAPBOX_BREAKER_FAILURES failed wakes within NAPBOX_BREAKER_WINDOW, in a run: each failed wake that began within the window after the one before continues it.
    sql: `
      ALTER TABLE tenants ADD COLUMN last_failure_at INTEGER;
    `,
  },
];
