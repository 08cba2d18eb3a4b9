import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readCookies } from './http-io.js';

describe('readCookies', () => {
  it('gives every value of a name, in the order sent (a planted parent-domain cookie first)', () => {
    assert.deepEqual(readCookies('napbox_admin=planted; app=1; napbox_admin=real', 'napbox_admin'), ['planted', 'real']);
    assert.deepEqual(readCookies(' a = 1 ;a=2;b=3', 'a'), ['1', '2']);
  });

  it('gives none for a missing header or name, and never matches a prefix or a nameless cookie', () => {
    assert.deepEqual(readCookies(undefined, 'a'), []);
    assert.deepEqual(readCookies('', 'a'), []);
    assert.deepEqual(readCookies('ab=1; __Host-a=2; a; =a', 'a'), []);
  });
});
