import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coldSvg, renderHtml, ticks, warmSvg } from './html-report.js';

test('ticks are round numbers covering the range', () => {
  assert.deepEqual(ticks(0, 10), [0, 2, 4, 6, 8, 10]);
  assert.deepEqual(ticks(340, 420), [340, 360, 380, 400, 420]);
  assert.deepEqual(ticks(5, 5), [5]);
});

test('the cold-start plot has one curve per series and a dot per sample', () => {
  const out = coldSvg([
    { label: 'napbox', samplesMs: [380, 370, 400] },
    { label: 'engine alone', samplesMs: [350, 360] },
  ]);
  assert.equal((out.match(/<path /g) ?? []).length, 2);
  assert.equal((out.match(/<circle /g) ?? []).length, 5);
  assert.match(out, /napbox \(n=3, p50 380 ms\)/);
  assert.match(out, /engine alone \(n=2, p50 355 ms\)/);
});

test('the warm plot has a bar per side and percentile, and throughput in the legend', () => {
  const out = warmSvg([
    { label: 'napbox', requestsPerSec: 26305.2, latencyMs: { p50: 0.3, p90: 0.6, p99: 1.1 } },
    { label: 'direct', requestsPerSec: 32740, latencyMs: { p50: 0.27, p90: 0.49, p99: 0.67 } },
  ]);
  assert.equal((out.match(/<rect /g) ?? []).length, 6);
  assert.match(out, /napbox: 26,305 req\/s/);
});

test('the page is self-contained and escapes what it shows', () => {
  const html = renderHtml({ title: 'napbox bench', subtitle: 'a <b>run</b>', cold: [{ label: 'x&y', samplesMs: [1, 2] }], warm: [], table: '<script>' });
  assert.doesNotMatch(html, /<script|src=|href=|<b>/);
  assert.match(html, /x&#38;y/);
  assert.match(html, /&#60;script&#62;/);
});
