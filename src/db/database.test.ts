import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { it } from 'node:test';
import { migrate, openCoordinationConnection, openDatabase, relaxed } from './database.js';
import { MIGRATIONS } from './migrations.js';

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

it('commits a relaxed write without a sync, and every other write with one', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-db-'));
  try {
    const db = openDatabase(dir, [{ version: 1, name: 't', sql: 'CREATE TABLE t (a INTEGER)' }]);
    const seen = relaxed(db, () => {
      db.prepare('INSERT INTO t VALUES (1)').run();
      return db.pragma('synchronous', { simple: true });
    });
    assert.equal(seen, 1, 'NORMAL inside');
    assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL again after');
    assert.throws(() => relaxed(db, () => db.prepare('INSERT INTO t VALUES (nope)').run()));
    assert.equal(db.pragma('synchronous', { simple: true }), 2, 'FULL again after a failed one');
    db.transaction(() => relaxed(db, () => db.prepare('INSERT INTO t VALUES (2)').run()))(); // part of the outer one
    assert.deepEqual(db.prepare('SELECT count(*) AS n FROM t').get(), { n: 2 });
    db.close();
    const coordination = openCoordinationConnection(dir);
    relaxed(coordination, () => coordination.prepare('INSERT INTO t VALUES (3)').run());
    assert.equal(coordination.pragma('synchronous', { simple: true }), 1, 'a NORMAL connection stays NORMAL');
    coordination.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('syncs the disk once per durable commit, and not for relaxed ones (counted with strace)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-db-'));
  const script = path.join(dir, 'commits.ts');
  fs.writeFileSync(
    script,
    `import { openDatabase, relaxed } from ${JSON.stringify(path.resolve('src/db/database.ts'))};
const [dir, mode] = process.argv.slice(2);
const db = openDatabase(dir, [{ version: 1, name: 't', sql: 'CREATE TABLE t (a INTEGER)' }]);
const insert = db.prepare('INSERT INTO t VALUES (?)');
for (let i = 0; i < 20; i += 1) mode === 'relaxed' ? relaxed(db, () => insert.run(i)) : insert.run(i);
db.close();
`,
  );
  const syncs = (mode: string): number => {
    const out = path.join(dir, `${mode}.strace`);
    const run = spawnSync(
      'strace',
      ['-f', '-qq', '-e', 'trace=fsync,fdatasync', '-o', out, process.execPath, '--import', 'tsx', script, path.join(dir, mode), mode],
      {
        encoding: 'utf8',
      },
    );
    assert.equal(run.status, 0, run.stderr);
    return fs
      .readFileSync(out, 'utf8')
      .split('\n')
      .filter((l) => /\b(fsync|fdatasync)\(/.test(l)).length;
  };
  try {
    const durable = syncs('durable');
    const relaxedSyncs = syncs('relaxed');
    assert.ok(durable >= 20, `20 durable commits made ${durable} syncs`);
    assert.ok(relaxedSyncs < 10, `20 relaxed commits made ${relaxedSyncs} syncs (opening and closing included)`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

it('adds the paused state to a data dir made before it, keeping every tenant and the rows that refer to them', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-db-'));
  try {
    const before = openDatabase(
      dir,
      MIGRATIONS.filter((m) => m.version <= 5),
    );
    before.prepare("INSERT INTO tenants (slug, created_at, state, state_reason, state_changed_at, channel_key) VALUES ('a', 1, 'running', 'r', 2, 'k')").run();
    before
      .prepare(
        "INSERT INTO messages (id, tenant, session, text, state, created_at, updated_at, next_attempt_at) VALUES ('m1', 'a', 's', 'hi', 'pending', 1, 1, 1)",
      )
      .run();
    before.close();
    const db = openDatabase(dir);
    assert.deepEqual(db.prepare('SELECT slug, state, channel_key, paused_memory FROM tenants').all(), [
      { slug: 'a', state: 'running', channel_key: 'k', paused_memory: null },
    ]);
    assert.deepEqual(db.prepare('SELECT id FROM messages').all(), [{ id: 'm1' }], 'the message of the tenant is kept');
    db.prepare("UPDATE tenants SET state = 'paused' WHERE slug = 'a'").run();
    assert.throws(() => db.prepare("UPDATE tenants SET state = 'frozen' WHERE slug = 'a'").run(), /CHECK/);
    assert.equal(db.pragma('foreign_keys', { simple: true }), 1, 'foreign keys on again');
    db.prepare("DELETE FROM tenants WHERE slug = 'a'").run();
    assert.deepEqual(db.prepare('SELECT count(*) AS n FROM messages').get(), { n: 0 }, 'messages still go with their tenant');
    db.close();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
