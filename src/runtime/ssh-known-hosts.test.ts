import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { describe, it } from 'node:test';
import { checkHostKey } from './ssh-known-hosts.js';

const key = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIN7Y1', 'base64');
const other = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIOther', 'base64');
const b64 = key.toString('base64');

function hashed(name: string): string {
  const salt = crypto.randomBytes(20);
  return `|1|${salt.toString('base64')}|${crypto.createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('checkHostKey', () => {
  it('knows a host listed with its key, by name, by [name]:port, or hashed', () => {
    assert.equal(checkHostKey(`engine.example,10.0.0.5 ssh-ed25519 ${b64}\n`, 'engine.example', 22, key).kind, 'known');
    assert.equal(checkHostKey(`engine.example,10.0.0.5 ssh-ed25519 ${b64}\n`, '10.0.0.5', 22, key).kind, 'known');
    assert.equal(checkHostKey(`[127.0.0.1]:2222 ssh-ed25519 ${b64}\n`, '127.0.0.1', 2222, key).kind, 'known');
    assert.equal(checkHostKey(`${hashed('[127.0.0.1]:2222')} ssh-ed25519 ${b64}\n`, '127.0.0.1', 2222, key).kind, 'known');
  });

  it('does not take a port-22 entry for another port', () => {
    assert.equal(checkHostKey(`127.0.0.1 ssh-ed25519 ${b64}\n`, '127.0.0.1', 2222, key).kind, 'unknown');
  });

  it('tells a changed key from an unknown host, and honours @revoked', () => {
    assert.equal(checkHostKey(`engine.example ssh-ed25519 ${b64}\n`, 'engine.example', 22, other).kind, 'mismatch');
    assert.equal(checkHostKey('# nothing\n\n', 'engine.example', 22, key).kind, 'unknown');
    assert.equal(checkHostKey(`@revoked engine.example ssh-ed25519 ${b64}\nengine.example ssh-ed25519 ${b64}\n`, 'engine.example', 22, key).kind, 'revoked');
    assert.equal(checkHostKey(`@cert-authority *.example ssh-ed25519 ${b64}\n`, 'engine.example', 22, key).kind, 'unknown');
  });
});
