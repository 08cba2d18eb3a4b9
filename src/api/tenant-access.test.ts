// A private tenant's session cookie against a sibling tenant's page that
// planted a same-named cookie for the parent domain (sent first by the
// browser), and its `__Host-` name behind https.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { describe, it } from 'node:test';
import type { SessionRevocations } from './session-revocations.js';
import { TenantAccess } from './tenant-access.js';

function revocations(): SessionRevocations {
  const revoked = new Set<string>();
  return { revoke: (jti: string) => void revoked.add(jti), isRevoked: (jti: string) => revoked.has(jti) } as unknown as SessionRevocations;
}

/** A fake response that records the headers written. */
function response(): ServerResponse & { readonly written: Record<string, string> } {
  const written: Record<string, string> = {};
  const res = {
    written,
    headersSent: false,
    writeHead: (_status: number, headers: Record<string, string>) => Object.assign(written, headers),
    end: () => undefined,
  };
  return res as unknown as ServerResponse & { readonly written: Record<string, string> };
}

function request(url: string, cookie = '', method = 'GET'): IncomingMessage {
  return { method, url, headers: { host: 'acme.napbox.test', cookie } } as unknown as IncomingMessage;
}

/** Signs in to acme and answers the session cookie's Set-Cookie value. */
async function signIn(access: TenantAccess): Promise<string> {
  const res = response();
  await access.signIn(request(`/_napbox/signin?token=${await access.signInToken('acme')}`), res, 'acme', '');
  return res.written['set-cookie']!;
}

describe('TenantAccess session cookies', () => {
  const key = new Uint8Array(crypto.randomBytes(32));

  it('admits a valid session sent after a planted one of the same name, and signs out every valid one', async () => {
    const access = new TenantAccess(key, 'install', Date.now, { revocations: revocations() });
    const real = (await signIn(access)).split(';')[0]!;
    const cookie = `napbox_session=planted; ${real}`;
    await access.requireSession(request('/', cookie), 'acme');
    const out = response();
    await access.signOut(request('/_napbox/signout', cookie, 'POST'), out, 'acme', '');
    await assert.rejects(access.requireSession(request('/', real), 'acme'), { code: 'unauthorized' });
  });

  it('behind https names its cookie __Host-napbox_session with Path=/ and reads only that name', async () => {
    const access = new TenantAccess(key, 'install', Date.now, { revocations: revocations(), secureCookies: true });
    const cookie = await signIn(access);
    assert.match(cookie, /^__Host-napbox_session=[^;]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Lax; Secure$/);
    const token = cookie.split(';')[0]!.slice('__Host-napbox_session='.length);
    await access.requireSession(request('/', `__Host-napbox_session=${token}`), 'acme');
    await assert.rejects(access.requireSession(request('/', `napbox_session=${token}`), 'acme'), { code: 'unauthorized' });
  });
});
