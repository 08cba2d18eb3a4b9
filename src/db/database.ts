// Opens the SQLite database in the data dir: WAL mode, foreign keys on, and
// the numbered migrations applied in order, each in its own transaction.
// Invariant: the database is only ever opened here, by the composition root,
// and passed down; no module reaches for it on its own.
// Several napbox processes may open one data dir (docs/scale-out.md): each
// migration reads the schema version inside its own write transaction, so
// two processes starting together apply every migration exactly once.

import fs from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import type { Database } from 'better-sqlite3';
import { MIGRATIONS, type Migration } from './migrations.js';

export type Db = Database;

export function openDatabase(dataDir: string, migrations: readonly Migration[] = MIGRATIONS): Db {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const db = new BetterSqlite3(path.join(dataDir, 'napbox.db'));
  db.pragma('journal_mode = WAL');
  // FULL: an acknowledged write survives a crash of the machine, not only of the process (see `relaxed`).
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  migrate(db, migrations);
  return db;
}

/**
 * Runs `fn` as one transaction that is committed without waiting for the disk
 * (synchronous=NORMAL in WAL mode: it survives a crash of the process, not a
 * power cut; the next durable commit syncs it too). Only for rows that a power
 * cut makes meaningless or that the engine tells again at start-up: the
 * processes' heartbeats, holds, locks and leases, tenants' states and
 * activity. A sync per such write (four heartbeats a second, four commits per
 * wake) competed with the engine's own writes while it started a container.
 * Inside another transaction, `fn` is part of that one.
 */
export function relaxed<T>(db: Db, fn: () => T, begin: 'deferred' | 'immediate' = 'deferred'): T {
  if (db.inTransaction) return fn();
  db.pragma('synchronous = NORMAL');
  try {
    const transaction = db.transaction(fn);
    return begin === 'immediate' ? transaction.immediate() : transaction();
  } finally {
    db.pragma('synchronous = FULL');
  }
}

export function migrate(db: Db, migrations: readonly Migration[]): void {
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    db.transaction(() => {
      // Read under the write lock: another process may have applied it since we looked.
      if (migration.version <= (db.pragma('user_version', { simple: true }) as number)) return;
      db.exec(migration.sql);
      db.pragma(`user_version = ${Math.trunc(migration.version)}`);
    }).immediate();
  }
}

/**
 * A second connection to an already migrated database, for the coordination
 * rows napbox processes share (tenant locks, published holds, process
 * heartbeats: src/cluster/). They are worthless after a crash of the machine,
 * so their commits skip the fsync (`synchronous=NORMAL`, still atomic in WAL
 * mode) and cost the wake path no disk flush.
 */
export function openCoordinationConnection(dataDir: string): Db {
  const db = new BetterSqlite3(path.join(dataDir, 'napbox.db'));
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 5000');
  return db;
}
