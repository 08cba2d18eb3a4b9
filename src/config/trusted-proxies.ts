// NAPBOX_TRUSTED_PROXIES, parsed with the rest of the configuration: the front
// proxies whose X-Forwarded-* napbox keeps (router/forwarded-headers.ts uses them).

import net from 'node:net';

/** An IPv4 address written as IPv4-mapped IPv6 (::ffff:10.0.0.1), as plain IPv4. */
export function unmapped(address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address;
}

/**
 * Parses NAPBOX_TRUSTED_PROXIES: comma-separated IP addresses and CIDR
 * ranges (`10.0.0.1, 192.168.0.0/16, fd00::/8`). Throws an Error naming the
 * first invalid entry.
 */
export function parseTrustedProxies(raw: string): string[] {
  const entries = raw
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  for (const entry of entries) {
    const slash = entry.indexOf('/');
    const address = unmapped(slash === -1 ? entry : entry.slice(0, slash));
    const family = net.isIP(address);
    const bits = slash === -1 ? undefined : entry.slice(slash + 1);
    const max = family === 6 ? 128 : 32;
    if (family === 0 || (bits !== undefined && (!/^\d{1,3}$/.test(bits) || Number(bits) > max))) {
      throw new Error(`${JSON.stringify(entry)} is not an IP address or a CIDR range like 10.0.0.0/8`);
    }
  }
  return entries;
}
