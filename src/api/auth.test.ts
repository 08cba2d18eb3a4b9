// The dashboard's session cookie against a tenant's page that planted a
// same-named cookie for the parent domain (sent first by the browser), and
// its `__Host-` name behind https.

import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { AdminAuth } from './auth.js';
import type { SessionRevocations } from './session-revocations.js';

function revocations(): SessionRevocations & { readonly revoked: Set<string> } {
  const revoked = new Set<string>();
  return { revoked, revoke: (jti: string) => void revoked.add(jti), isRevoked: (jti: string) => revoked.has(jti) } as unknown as SessionRevocations & {
    readonly revoked: Set<string>;
  };
}

function request(cookie: string, method = 'GET'): IncomingMessage {
  const headers: Record<string, string> = { host: 'napbox.test', cookie };
  if (method !== 'GET') Object.assign(headers, { origin: 'http://napbox.test', 'x-napbox-dashboard': '1' });
  return { method, headers } as unknown as IncomingMessage;
}

/** `name=value` of a Set-Cookie value. */
const pairOf = (setCookie: string): string => setCookie.split(';')[0]!;

describe('AdminAuth session cookies', () => {
  const key = new Uint8Array(crypto.randomBytes(32));

  it('takes the valid session when a planted cookie of the same name is sent before it', async () => {
    const auth = new AdminAuth(key, 'install', Date.now, revocations());
    const real = pairOf(await auth.sessionCookie(await auth.issue(60)));
    await auth.verifyRequest(request(`napbox_admin=planted; ${real}`));
    await auth.verifyRequest(request(`napbox_admin=planted; other=1; ${real}`, 'POST'));
    await assert.rejects(auth.verifyRequest(request('napbox_admin=planted; napbox_admin=x')), { code: 'unauthorized' });
  });

  it('revokes every valid session on sign-out, not only the first cookie', async () => {
    const revoked = revocations();
    const auth = new AdminAuth(key, 'install', Date.now, revoked);
    const first = pairOf(await auth.sessionCookie(await auth.issue(60)));
    const second = pairOf(await auth.sessionCookie(await auth.issue(60)));
    await auth.signOut(request(`napbox_admin=planted; ${first}; ${second}`, 'DELETE'));
    assert.equal(revoked.revoked.size, 2);
    await assert.rejects(auth.verifyRequest(request(first)), { code: 'unauthorized' });
    await assert.rejects(auth.verifyRequest(request(second)), { code: 'unauthorized' });
  });

  it('behind https names its cookie __Host-napbox_admin (Path=/, Secure, no Domain) and reads only that name', async () => {
    const auth = new AdminAuth(key, 'install', Date.now, revocations(), { secureCookies: true });
    const cookie = await auth.sessionCookie(await auth.issue(60));
    assert.match(cookie, /^__Host-napbox_admin=[\w-]+\.[\w-]+\.[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Secure; Max-Age=43200$/);
    const token = pairOf(cookie).slice('__Host-napbox_admin='.length);
    await auth.verifyRequest(request(`__Host-napbox_admin=${token}`));
    await assert.rejects(auth.verifyRequest(request(`napbox_admin=${token}`)), { code: 'unauthorized' });
    const cleared = await auth.signOut(request(`__Host-napbox_admin=${token}`, 'DELETE'));
    assert.match(cleared[0]!, /^__Host-napbox_admin=; Path=\/; HttpOnly; SameSite=Strict; Secure; Max-Age=0$/);
  });

  it('over plain http keeps napbox_admin with Path=/api', async () => {
    const auth = new AdminAuth(key, 'install', Date.now, revocations());
    assert.match(await auth.sessionCookie(await auth.issue(60)), /^napbox_admin=[^;]+; Path=\/api; HttpOnly; SameSite=Strict; Max-Age=43200$/);
  });
});
