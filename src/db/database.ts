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
 * Runs `fn` as one transaction on the main connection committed without
 * waiting for the disk (synchronous=NORMAL in WAL mode: it survives a crash of
 * the process, not a power cut; the next durable commit syncs it too). Only
 * for rows the engine tells again at start-up (reconcile): tenants' states,
 * runner heartbeats, activity. A wake made two such syncs (starting, running)
 * while the engine wrote its own files to start the container. Inside another
 * transaction, `fn` is part of that one; the connection's level is put back.
 */
export function relaxed<T>(db: Db, fn: () => T): T {
  if (db.inTransaction) return fn();
  const level = Number(db.pragma('synchronous', { simple: true }));
  db.pragma('synchronous = NORMAL');
  try {
    return db.transaction(fn)();
  } finally {
    db.pragma(`synchronous = ${Number.isInteger(level) ? level : 2}`);
  }
}

export function migrate(db: Db, migrations: readonly Migration[]): void {
  for (const migration of [...migrations].sort((a, b) => a.version - b.version)) {
    // Foreign keys can only be turned off outside a transaction.
    if (migration.rebuildsTables) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        // Read under the write lock: another process may have applied it since we looked.
        if (migration.version <= (db.pragma('user_version', { simple: true }) as number)) return;
        db.exec(migration.sql);
        if (migration.rebuildsTables) {
          const broken = db.pragma('foreign_key_check') as unknown[];
          if (broken.length > 0) throw new Error(`migration ${migration.version} (${migration.name}) breaks ${broken.length} foreign keys`);
        }
        db.pragma(`user_version = ${Math.trunc(migration.version)}`);
      }).immediate();
    } finally {
      if (migration.rebuildsTables) db.pragma('foreign_keys = ON');
    }
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
