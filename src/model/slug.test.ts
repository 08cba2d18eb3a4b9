import assert from 'node:assert/strict';
import { it } from 'node:test';
import { assertSlug, isValidSlug } from './slug.js';

it('accepts DNS-label slugs and refuses everything else', () => {
  for (const ok of ['a', 'acme', 'team-7', '0x', 'a'.repeat(40)]) assert.ok(isValidSlug(ok), ok);
  for (const bad of ['', 'A', '-a', 'a-', 'a--b', 'a_b', '../x', 'a.b', 'a'.repeat(41), 'global', 'api', 'jq; rm -rf /', 7, null]) {
    assert.equal(isValidSlug(bad), false, String(bad));
  }
  assert.throws(() => assertSlug('Bad'), /invalid tenant slug "Bad"/);
});
