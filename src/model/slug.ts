// The tenant slug grammar. A slug becomes a DNS label (<slug>.<base domain>),
// part of container, network and volume names, and a folder name, so it is
// kept to lower-case letters, digits and inner hyphens, 1 to 40 characters.
// Names that napbox itself uses are reserved.

import { NapboxError } from '../errors.js';

const SLUG = /^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$/;
const RESERVED = new Set(['global', 'api', 'www', 'admin', 'napbox', '_napbox']);

export function isValidSlug(value: unknown): value is string {
  return typeof value === 'string' && SLUG.test(value) && !value.includes('--') && !RESERVED.has(value);
}

export function assertSlug(value: unknown): string {
  if (isValidSlug(value)) return value;
  const shown = typeof value === 'string' ? JSON.stringify(value.slice(0, 60)) : typeof value;
  throw new NapboxError(
    'bad_request',
    `invalid tenant slug ${shown}: use 1-40 lower-case letters, digits and single inner hyphens (not ${[...RESERVED].join(', ')})`,
  );
}
