// Runs last in `npm test` (test/run.sh sorts it there): the container that is
// not napbox's, started before the first test, ran through the whole suite
// with the same start time. Nothing in the suite stopped, killed or restarted
// the machine's engine or its other containers.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { it } from 'node:test';

const run = promisify(execFile);
const sentinel = process.env.NAPBOX_SUITE_SENTINEL;

it("the machine engine's other containers ran through the whole suite", { skip: sentinel ? false : 'only in a whole run of test/run.sh' }, async () => {
  const { DOCKER_HOST: _unused, ...env } = process.env;
  const { stdout } = await run('docker', ['inspect', '-f', '{{.State.Running}} {{.State.StartedAt}} {{.RestartCount}}', sentinel!], { env });
  assert.equal(stdout.trim(), `true ${process.env.NAPBOX_SUITE_SENTINEL_STARTED} 0`);
});
