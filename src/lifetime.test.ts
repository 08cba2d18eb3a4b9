import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Lifetime } from './lifetime.js';

it('closes what was opened newest first, and a closer that throws does not stop the others', async () => {
  const closed: string[] = [];
  const failures: string[] = [];
  const lifetime = new Lifetime((name) => failures.push(name));
  lifetime.defer('database', () => void closed.push('database'));
  lifetime.defer('watcher', async () => {
    await new Promise((resolve) => setTimeout(resolve, 5));
    closed.push('watcher');
  });
  lifetime.defer('timer', () => {
    throw new Error('broken');
  });
  lifetime.defer('listener', () => void closed.push('listener'));
  assert.deepEqual(lifetime.open, ['database', 'watcher', 'timer', 'listener']);
  await Promise.all([lifetime.close(), lifetime.close()]);
  assert.deepEqual(closed, ['listener', 'watcher', 'database'], 'each once, newest first');
  assert.deepEqual(failures, ['timer']);
  assert.throws(() => lifetime.defer('late', () => undefined), /late opened while napbox is closing/);
});
