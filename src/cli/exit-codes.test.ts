import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CommanderError } from 'commander';
import { NapboxError } from '../errors.js';
import { CliError, EXIT, failureOf, ServerRefusal } from './exit-codes.js';

describe('the CLI exits with the code of what failed', () => {
  it('maps each answer of the server to its class, by its error code or else its status', () => {
    const cases: Array<[number, string, number]> = [
      [400, 'bad_request', EXIT.usage],
      [413, 'payload_too_large', EXIT.usage],
      [404, 'not_found', EXIT.notFound],
      [409, 'conflict', EXIT.conflict],
      [401, 'unauthorized', EXIT.unauthorised],
      [403, 'forbidden', EXIT.unauthorised],
      [503, 'wake_failed', EXIT.tenantFailed],
      [503, 'wake_timeout', EXIT.tenantFailed],
      [503, 'circuit_open', EXIT.tenantFailed],
      [429, 'rate_limited', EXIT.tenantFailed],
      [408, 'request_timeout', EXIT.unreachable],
      [503, 'shutting_down', EXIT.unreachable],
      [500, 'internal', EXIT.unexpected],
      [503, 'engine_unreachable', EXIT.unexpected], // napbox's engine, not the tenant
      [502, 'engine_error', EXIT.unexpected],
      [404, '', EXIT.notFound], // a proxy's page, no napbox body
      [503, '', EXIT.tenantFailed],
      [502, '', EXIT.unexpected],
    ];
    for (const [status, code, exit] of cases) {
      const { exitCode, message } = failureOf(new ServerRefusal(status, code, `${status}: why`));
      assert.equal(exitCode, exit, `${status} ${code}`);
      assert.equal(message, `${status}: why`);
    }
  });

  it("says 'unexpected error' only for what nothing expected", () => {
    assert.deepEqual(failureOf(new CliError(EXIT.unreachable, 'napbox does not answer')), { exitCode: 5, message: 'napbox does not answer' });
    assert.deepEqual(failureOf(new NapboxError('bad_request', 'not a package name')), { exitCode: 2, message: 'not a package name' });
    assert.deepEqual(failureOf(new NapboxError('internal', 'the answer is not what this CLI reads')), {
      exitCode: 1,
      message: 'the answer is not what this CLI reads',
    });
    assert.deepEqual(failureOf(new TypeError('x is undefined')), { exitCode: 1, message: 'unexpected error: x is undefined' });
  });

  it("is 2 for commander's usage errors (printed by commander) and 0 for --help", () => {
    assert.deepEqual(failureOf(new CommanderError(1, 'commander.unknownOption', "error: unknown option '-c'")), { exitCode: 2, message: '' });
    assert.deepEqual(failureOf(new CommanderError(0, 'commander.helpDisplayed', '(outputHelp)')), { exitCode: 0, message: '' });
  });
});
