// Where an extra mount may appear inside a tenant's container: a relative
// path under /extra, checked before anything is mounted. Part of the tenant's
// settings (model/tenant-config.ts) and of the allowlist's check (mounts/).

export const EXTRA_MOUNT_PREFIX = '/extra';

const CONTAINER_PATH = /^[A-Za-z0-9._/-]+$/;

/** Why a container path is refused, or undefined when it is fine. */
export function containerPathProblem(p: string): string | undefined {
  const shown = JSON.stringify(p.slice(0, 200));
  if (p.length === 0) return 'the container path is empty: give a relative path such as "shared/docs"';
  if (p.length > 255) return `the container path ${shown}... is longer than 255 characters`;
  if (p.includes('\0')) return 'the container path contains a NUL character';
  if (p.includes(':')) return `the container path ${shown} contains ":": use letters, digits, ".", "_", "-" and "/" only`;
  if (p.startsWith('/')) return `the container path ${shown} must be relative (it is mounted at ${EXTRA_MOUNT_PREFIX}/<path>): drop the leading "/"`;
  const segments = p.split('/');
  if (segments.includes('..')) return `the container path ${shown} has a ".." segment: it must stay inside ${EXTRA_MOUNT_PREFIX}`;
  if (!CONTAINER_PATH.test(p)) return `the container path ${shown} has characters other than letters, digits, ".", "_", "-" and "/"`;
  if (segments.some((s) => s === '' || s === '.')) return `the container path ${shown} has an empty or "." segment: write it as "a/b"`;
  return undefined;
}
