// Checks an ssh:// engine's host key against an OpenSSH known_hosts file, as
// `ssh` does with StrictHostKeyChecking=yes. ssh2 (what docker-modem uses for
// ssh://) accepts any host key unless told otherwise, which would let anyone
// on the path impersonate the engine and receive napbox's containers and
// secrets. Pure: the caller reads the file.
//
// Supported lines: `host[,host...] keytype base64` with plain or hashed
// (`|1|salt|hash`) names, `[host]:port` for ports other than 22, and the
// `@revoked` marker. Wildcard patterns and `@cert-authority` are not
// supported: such lines never match (so the host is refused, not let in).

import crypto from 'node:crypto';

function hostNames(host: string, port: number): string[] {
  return port === 22 ? [host, `[${host}]:22`] : [`[${host}]:${port}`];
}

function nameMatches(pattern: string, names: readonly string[]): boolean {
  if (pattern.startsWith('|1|')) {
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return names.some((name) => crypto.createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash);
  }
  return names.includes(pattern.toLowerCase());
}

export type HostKeyVerdict = { readonly kind: 'known' } | { readonly kind: 'unknown' } | { readonly kind: 'mismatch' } | { readonly kind: 'revoked' };

/** What known_hosts says of this host key for host:port. */
export function checkHostKey(knownHosts: string, host: string, port: number, key: Buffer): HostKeyVerdict {
  const names = hostNames(host.toLowerCase(), port);
  let listed = false;
  let revoked = false;
  let known = false;
  for (const raw of knownHosts.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const parts = line.split(/\s+/);
    const marker = parts[0]?.startsWith('@') ? parts.shift() : undefined;
    const [patterns, , blob] = parts;
    if (!patterns || !blob || marker === '@cert-authority') continue;
    if (!patterns.split(',').some((p) => nameMatches(p, names))) continue;
    const same = Buffer.from(blob, 'base64').equals(key);
    if (marker === '@revoked') {
      if (same) revoked = true;
      continue;
    }
    listed = true;
    if (same) known = true;
  }
  if (revoked) return { kind: 'revoked' };
  if (known) return { kind: 'known' };
  return listed ? { kind: 'mismatch' } : { kind: 'unknown' };
}
