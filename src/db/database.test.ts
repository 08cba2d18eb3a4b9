import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { migrate, openDatabase } from './database.js';

it('applies numbered migrations once, in order, in WAL mode', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-db-'));
  try {
    const db = openDatabase(dir, [
      { version: 2, name: 'b', sql: 'ALTER TABLE t ADD COLUMN b TEXT' },
      { version: 1, name: 'a', sql: 'CREATE TABLE t (a TEXT)' },
    ]);
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    assert.equal(db.pragma('user_version', { simple: true }), 2);
    migrate(db, [{ version: 1, name: 'a', sql: 'CREATE TABLE t (a TEXT)' }]); // already applied: nothing runs
    assert.throws(() => migrate(db, [{ version: 3, name: 'bad', sql: 'CREATE TABLE u (x); SELECT nope FROM nowhere' }]));
    assert.equal(db.pragma('user_version', { simple: true }), 2, 'a failed migration leaves the version as it was');
    assert.deepEqual(db.prepare("SELECT count(*) AS n FROM sqlite_master WHERE name = 'u'").get(), { n: 0 });
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
