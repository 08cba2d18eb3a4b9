import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { it } from 'node:test';
import { projectRoot } from '../project-root.js';
import { appPortOf, buildContainerSpec, shellQuoted } from './container-spec.js';

const runnerDir = path.join(projectRoot(import.meta.url), 'container', 'runner');

it("gives launch.sh the app's argv back exactly, whatever its characters", () => {
  const argv = [
    'node',
    '-e',
    "console.log('hi')",
    'b c',
    'd"e',
    'f\\g',
    'hé中',
    '😀x',
    'tab\there',
    'line\nbreak',
    '$(touch /tmp/x)',
    '`id`',
    "'q'",
    '',
    '-',
    '--x',
  ];
  const quoted = shellQuoted(argv);
  // What launch.sh does with it: eval "set -- $NAPBOX_APP_SH", then runs "$@" (here: prints each, NUL-ended).
  const out = execFileSync('/bin/sh', ['-c', 'eval "set -- $NAPBOX_APP_SH"; printf "%s\\0" "$@"'], { env: { NAPBOX_APP_SH: quoted } });
  assert.deepEqual(out.toString('utf8').split('\0').slice(0, -1), argv);
  const spec = buildContainerSpec({
    installId: 'i1',
    slug: 'acme',
    config: { app: { command: argv } },
    image: 'img',
    publish: false,
    channelKey: 'k',
    heartbeatMs: 1000,
  });
  assert.equal(spec.env.NAPBOX_APP_SH, quoted);
  assert.equal(spec.env.NAPBOX_APP_COMMAND, JSON.stringify(argv), 'the contract form is kept');
});

it("launch.sh keeps every one of the runner's secrets from the app", async () => {
  const { SECRET_VARIABLES } = (await import(path.join(runnerDir, 'config.mjs'))) as { SECRET_VARIABLES: readonly string[] };
  const script = fs.readFileSync(path.join(runnerDir, 'launch.sh'), 'utf8');
  const unset = new Set([...script.matchAll(/-u ([A-Z_]+)/g)].map((m) => m[1]));
  for (const name of SECRET_VARIABLES) assert.ok(unset.has(name), `launch.sh does not remove ${name} from the app's environment`);
});

it("gives the app its env and $PORT, publishes that port, and keeps napbox's own variables", () => {
  const inputs = { installId: 'i1', slug: 'acme', image: 'img', publish: true, channelKey: 'k', heartbeatMs: 1000 };
  const plain = buildContainerSpec({ ...inputs, config: {} });
  assert.equal(plain.env.PORT, '8080');
  assert.deepEqual(plain.ports, [8080, 8081]);
  assert.equal(appPortOf(plain.labels), 8080);
  const spec = buildContainerSpec({ ...inputs, config: { port: 3000, env: { GREETING: 'hi', NODE_ENV: 'production' } } });
  assert.equal(spec.env.PORT, '3000');
  assert.deepEqual([spec.env.GREETING, spec.env.NODE_ENV], ['hi', 'production']);
  assert.deepEqual(spec.ports, [3000, 8081]);
  assert.equal(appPortOf(spec.labels), 3000);
  assert.equal(spec.env.NAPBOX_CHANNEL_KEY, 'k');
  assert.notEqual(spec.labels['napbox.spec'], plain.labels['napbox.spec'], 'a changed port or env makes the next container anew');
  assert.equal(appPortOf({}), 8080, 'a container made before the setting existed');
});
