// napbox's own tokens: HS256 JWTs issued by `napbox`, each for one audience
// (admin, tenant sign-in links and sessions, the runner channel), signed and
// checked here only, so every kind has the same algorithm, issuer and clock.

import { SignJWT, jwtVerify, type JWTPayload } from 'jose';

const ISSUER = 'napbox';

export interface TokenRequest {
  readonly audience: string;
  readonly subject: string;
  readonly ttlSeconds: number;
  /** Now, in ms. */
  readonly nowMs: number;
  readonly claims?: JWTPayload;
}

export function signToken(key: Uint8Array, request: TokenRequest): Promise<string> {
  const now = Math.floor(request.nowMs / 1000);
  return new SignJWT(request.claims ?? {})
    .setProtectedHeader({ alg: 'HS256' })
    .setIssuer(ISSUER)
    .setAudience(request.audience)
    .setSubject(request.subject)
    .setIssuedAt(now)
    .setExpirationTime(now + request.ttlSeconds)
    .sign(key);
}

/** The token's claims if it is ours, for `audience`, and not expired at `nowMs`; throws otherwise. */
export async function verifyToken(key: Uint8Array, token: string, audience: string, nowMs: number): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, key, { issuer: ISSUER, audience, algorithms: ['HS256'], currentDate: new Date(nowMs) });
  return payload;
}
