import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TypedEvents } from './typed-events.js';

interface Map {
  readonly ready: { readonly slug: string };
  readonly stopped: { readonly slug: string; readonly why: string };
}

it('tells each listener of its kind, survives a listener that throws, and unsubscribes', () => {
  const failures: Array<keyof Map> = [];
  const events = new TypedEvents<Map>((kind) => failures.push(kind));
  const heard: string[] = [];
  events.on('ready', () => {
    throw new Error('a broken listener');
  });
  const off = events.on('ready', ({ slug }) => heard.push(`ready ${slug}`));
  events.on('stopped', ({ slug, why }) => heard.push(`stopped ${slug}: ${why}`));
  events.emit('ready', { slug: 'a' });
  events.emit('stopped', { slug: 'a', why: 'idle' });
  off();
  events.emit('ready', { slug: 'b' });
  assert.deepEqual(heard, ['ready a', 'stopped a: idle']);
  assert.deepEqual(failures, ['ready', 'ready']);
});
