// findLiveServer against hostile or stale files in data/servers/: none of them stops the CLI from finding the live
// napbox of its own install, and none makes it send its token elsewhere.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { findLiveServer, SERVERS_DIR } from './server-file.js';

describe('findLiveServer', () => {
  it("skips FIFOs, symlinks, https URLs and other installs' files, and finds this install's live process", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'napbox-servers-'));
    const healthz = http.createServer((_req, res) => res.writeHead(200).end('ok'));
    await new Promise<void>((resolve) => healthz.listen(0, '127.0.0.1', resolve));
    const port = (healthz.address() as AddressInfo).port;
    try {
      fs.writeFileSync(path.join(dir, 'install-id'), 'mine\n');
      const servers = path.join(dir, SERVERS_DIR);
      fs.mkdirSync(servers);
      const file = (installId: string, url: string) => JSON.stringify({ url, pid: process.pid, installId, baseDomain: 'localhost', port });
      execFileSync('mkfifo', [path.join(servers, 'a-fifo.json')]); // reading it would block for ever
      fs.writeFileSync(path.join(servers, 'b-https.json'), file('mine', `https://127.0.0.1:${port}`));
      fs.writeFileSync(path.join(servers, 'c-other.json'), file('theirs', `http://127.0.0.1:${port}`));
      fs.writeFileSync(path.join(os.tmpdir(), 'napbox-elsewhere.json'), file('mine', 'http://127.0.0.1:9'));
      fs.symlinkSync(path.join(os.tmpdir(), 'napbox-elsewhere.json'), path.join(servers, 'd-link.json'));
      fs.writeFileSync(path.join(servers, 'e-live.json'), file('mine', `http://127.0.0.1:${port}`));
      const found = await findLiveServer(dir);
      assert.deepEqual([found.installId, found.url], ['mine', `http://127.0.0.1:${port}`]);
    } finally {
      healthz.close();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(path.join(os.tmpdir(), 'napbox-elsewhere.json'), { force: true });
    }
  });
});
