import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { NapboxError } from '../errors.js';
import { ApiClient } from './client.js';
import { CliError, EXIT, ServerRefusal } from './exit-codes.js';

// The CLI's client against a stand-in server: every answer is parsed with the API's own schema.
const answers: Record<string, [number, string]> = {
  '/api/tenants/good': [
    200,
    JSON.stringify({
      slug: 'good',
      state: 'stopped',
      reason: 'never started',
      stateChangedAt: '2026-12-03T00:00:00.000Z',
      lastStartReason: null,
      lastStopReason: null,
      lastActivity: null,
      lastHeartbeat: null,
      image: 'napbox-agent:1',
      containerId: null,
      failures: 0,
      retryAt: null,
      holds: [],
      paused: null,
      url: 'http://good.localhost:8080/',
      build: null,
      recentWakes: [],
      config: {},
    }),
  ],
  '/api/tenants/old': [200, JSON.stringify({ slug: 'old', state: 'stopped' })],
  '/api/tenants/text': [200, 'not json at all'],
  '/api/tenants/gone': [404, JSON.stringify({ error: 'not_found', message: 'no tenant gone' })],
  '/api/tenants/proxy': [502, '<html>bad gateway</html>'],
};

let dataDir = '';
const server = http.createServer((req, res) => {
  const [status, body] = answers[req.url ?? ''] ?? [500, '{}'];
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(body);
});

before(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-cli-'));
  fs.writeFileSync(path.join(dataDir, 'install-id'), 'clitest1\n');
  fs.writeFileSync(
    path.join(dataDir, 'server.json'),
    JSON.stringify({ url: `http://127.0.0.1:${port}`, pid: process.pid, installId: 'clitest1', baseDomain: 'localhost', port }),
  );
});
after(() => {
  server.close();
  fs.rmSync(dataDir, { recursive: true, force: true });
});

async function refusal(apiPath: string): Promise<Error> {
  const client = await ApiClient.connect(dataDir);
  try {
    await client.json('GET', apiPath, (A) => A.TenantViewSchema);
  } catch (err) {
    assert.ok(err instanceof NapboxError || err instanceof ServerRefusal);
    return err;
  }
  assert.fail(`${apiPath} was read without an error`);
}

describe('the CLI reads answers through their schemas', () => {
  it('says napbox does not answer (exit 5) when the server file names a closed port, without crashing', async () => {
    const closed = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-cli-'));
    try {
      fs.writeFileSync(path.join(closed, 'install-id'), 'clitest1\n');
      fs.writeFileSync(
        path.join(closed, 'server.json'),
        JSON.stringify({ url: 'http://127.0.0.1:9', pid: 1, installId: 'clitest1', baseDomain: 'localhost', port: 9 }),
      );
      const client = await ApiClient.connect(closed);
      await assert.rejects(
        client.json('GET', '/api/tenants', (A) => A.TenantListSchema),
        (err: unknown) =>
          err instanceof CliError && err.exitCode === EXIT.unreachable && /^napbox does not answer at http:\/\/127\.0\.0\.1:9/.test(err.message),
      );
    } finally {
      fs.rmSync(closed, { recursive: true, force: true });
    }
  });

  it('returns an answer that matches, typed', async () => {
    const client = await ApiClient.connect(dataDir);
    const tenant = await client.json('GET', '/api/tenants/good', (A) => A.TenantViewSchema);
    assert.equal(tenant.url, 'http://good.localhost:8080/');
  });

  it('refuses an answer of another shape with one line naming the call and the field', async () => {
    const err = await refusal('/api/tenants/old');
    assert.match(
      err.message,
      /^the server's answer to GET \/api\/tenants\/old is not what this CLI reads \(reason: .*\): are the CLI and the running server the same version\?/,
    );
    assert.doesNotMatch(err.message, /\n/);
    assert.match((await refusal('/api/tenants/text')).message, /GET \/api\/tenants\/text is not what this CLI reads \(not JSON: "not json at all"\)/);
  });

  it("tells the server's error message, or its text when it is not napbox's error body", async () => {
    assert.equal((await refusal('/api/tenants/gone')).message, '404: no tenant gone');
    assert.equal((await refusal('/api/tenants/proxy')).message, '502: <html>bad gateway</html>');
  });
});
