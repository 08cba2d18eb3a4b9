// Verifies the bearer token napbox presents when it opens the channel: a JWT,
// HS256, signed with the tenant's 32-byte channel key. Pure: the key, tenant
// and clock are parameters. Invariants:
// - The header's alg must be exactly "HS256" (no "none", no other HMAC, no
//   key confusion), and a header naming critical extensions is refused.
// - The signature is compared in constant time (crypto.timingSafeEqual), and
//   checked before any claim is trusted.
// - iss "napbox", aud "napbox-runner", sub the container's own tenant, and
//   exp after now - 30 s; iat (required) and nbf (if present) no later than
//   now + 30 s. The leeway covers clock skew between napbox and the engine.

import crypto from 'node:crypto';

export const TOKEN_ISSUER = 'napbox';
export const TOKEN_AUDIENCE = 'napbox-runner';
export const LEEWAY_SECONDS = 30;

const BASE64URL = /^[A-Za-z0-9_-]+$/;

function decodeJsonPart(part) {
  if (!BASE64URL.test(part)) return undefined;
  try {
    const value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

/** The token from an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header) {
  if (typeof header !== 'string') return undefined;
  const match = /^Bearer +([A-Za-z0-9_.-]+) *$/i.exec(header);
  return match ? match[1] : undefined;
}

const refuse = (reason) => ({ ok: false, reason });

/** `{ ok: true, claims }` or `{ ok: false, reason }`; the reason names no secret. */
export function verifyChannelToken(token, { key, tenant, nowSeconds }) {
  if (typeof token !== 'string') return refuse('missing bearer token');
  const parts = token.split('.');
  if (parts.length !== 3) return refuse('malformed token');
  const [headerPart, payloadPart, signaturePart] = parts;
  const header = decodeJsonPart(headerPart);
  if (!header) return refuse('malformed token header');
  if (header.alg !== 'HS256') return refuse('token alg must be HS256');
  if (header.crit !== undefined) return refuse('token header has unsupported critical extensions');

  if (!BASE64URL.test(signaturePart)) return refuse('bad token signature');
  const signature = Buffer.from(signaturePart, 'base64url');
  const expected = crypto.createHmac('sha256', key).update(`${headerPart}.${payloadPart}`).digest();
  if (signature.length !== expected.length || !crypto.timingSafeEqual(signature, expected)) return refuse('bad token signature');

  const claims = decodeJsonPart(payloadPart);
  if (!claims) return refuse('malformed token claims');
  if (claims.iss !== TOKEN_ISSUER) return refuse(`token iss must be "${TOKEN_ISSUER}"`);
  const audiences = Array.isArray(claims.aud) ? claims.aud : [claims.aud];
  if (!audiences.includes(TOKEN_AUDIENCE)) return refuse(`token aud must be "${TOKEN_AUDIENCE}"`);
  if (claims.sub !== tenant) return refuse('token is for another tenant');
  const isTime = (v) => typeof v === 'number' && Number.isFinite(v);
  if (!isTime(claims.exp)) return refuse('token has no exp');
  if (claims.exp <= nowSeconds - LEEWAY_SECONDS) return refuse('token expired');
  if (!isTime(claims.iat)) return refuse('token has no iat');
  if (claims.iat > nowSeconds + LEEWAY_SECONDS) return refuse('token issued in the future');
  if (claims.nbf !== undefined && (!isTime(claims.nbf) || claims.nbf > nowSeconds + LEEWAY_SECONDS)) return refuse('token not yet valid');
  return { ok: true, claims };
}
