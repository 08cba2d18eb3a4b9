// A short chaos run in every `npm test` (issue 14): a few hundred messages to
// three tenants while their containers are killed, twice a tenant's next two
// starts are killed as they happen (its breaker opens while messages wait for
// it), and napbox is killed -9 and started again. 0 lost, 0 duplicated, 0 failed, one correct reply each, in
// order per session. The soak (1,000 messages, an engine restart) is
// bench/chaos.ts.

import assert from 'node:assert/strict';
import { it } from 'node:test';
import { runChaos } from '../helpers/chaos.js';

it('loses, duplicates and fails no message through container and napbox kills', async () => {
  const report = await runChaos({
    messages: 240,
    tenants: 3,
    sessionsPerTenant: 2,
    sendMs: 40_000,
    containerKills: 5,
    napboxKills: 3,
    startKills: 2,
    progress: (line) => process.stderr.write(`chaos: ${line}\n`),
  });
  process.stderr.write(`chaos: ${JSON.stringify(report)}\n`);
  assert.equal(report.sent, 240);
  assert.ok(report.containerKills >= 3, `containers were killed (${report.containerKills})`);
  assert.equal(report.napboxKills, 3);
  assert.ok(report.startKills >= 2, `starts were killed (${report.startKills})`);
  assert.deepEqual(
    {
      lost: report.lost,
      duplicated: report.duplicated,
      failed: report.failed,
      wrongReply: report.wrongReply,
      outOfOrder: report.outOfOrder,
      done: report.done,
    },
    { lost: 0, duplicated: 0, failed: 0, wrongReply: 0, outOfOrder: 0, done: 240 },
    report.problems.join('\n'),
  );
});
