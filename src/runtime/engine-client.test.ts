import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { callEngine, engineLimit } from './engine-client.js';

describe('engine limits', () => {
  it('names what ran out and what to change, for the engine messages of a limit', () => {
    const pools = 'could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network';
    assert.match(engineLimit(pools) ?? '', /network addresses .*daemon\.json/);
    assert.match(engineLimit("no available IPv4 addresses on this network's address pools: x") ?? '', /network addresses/);
    assert.match(engineLimit('OCI runtime create failed: cannot allocate memory') ?? '', /^memory/);
    assert.match(engineLimit('write /var/lib/docker/x: no space left on device') ?? '', /disk space/);
    assert.equal(engineLimit('No such image: x'), undefined);
  });

  it('turns such a failure into a 503 capacity error with a Retry-After', async () => {
    const failure = Object.assign(new Error('x'), {
      statusCode: 500,
      json: { message: 'could not find an available, non-overlapping IPv4 address pool among the defaults' },
    });
    await assert.rejects(
      callEngine('unix:///var/run/docker.sock', 'create network n', () => Promise.reject(failure)),
      (err: { code: string; httpStatus: number; retryAfterSeconds?: number }) =>
        err.code === 'capacity' && err.httpStatus === 503 && err.retryAfterSeconds === 30,
    );
  });
});
