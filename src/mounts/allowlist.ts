// The mount allowlist: which host folders an admin may hand to a tenant as
// extra mounts. It lives OUTSIDE the project (the caller passes its path,
// by default ~/.config/napbox/mount-allowlist.json), so nothing a tenant can
// write, and nothing checked into the repository, can widen it.
//
// Invariants:
// - A missing or broken allowlist refuses every extra mount, with the reason
//   and how to fix it. A parse error is never cached: the next call (and the
//   watcher's `current()`) reads the file again, so fixing it takes effect.
// - Host paths are resolved through symlinks BEFORE they are compared with a
//   root (and roots are resolved too), so a link inside an allowed root
//   cannot point the mount elsewhere.
// - Credential paths (.ssh, .aws, .env, ...) are refused wherever they appear
//   in the resolved path, and a folder that directly holds one is refused.
// - An extra mount is read-only unless its root has `allowWrite: true` AND
//   the request asks for `readWrite`. A request for writes under a read-only
//   root is mounted read-only (with a warning), as the allowlist says.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import { z } from 'zod';
import { EXTRA_MOUNT_PREFIX, containerPathProblem } from '../model/container-path.js';
import type { MountSpec } from '../runtime/container-driver.js';

/** Where extra mounts appear in the container: /extra/<containerPath>. */

const AllowlistSchema = z
  .object({
    roots: z
      .array(
        z
          .object({
            path: z.string().min(1).max(4096),
            allowWrite: z.boolean().default(false),
            description: z.string().max(1000).optional(),
          })
          .strict(),
      )
      .max(256),
  })
  .strict();

interface AllowlistRoot {
  /** As written in the file (after `~` expansion); resolved when checking. */
  readonly path: string;
  readonly allowWrite: boolean;
  readonly description?: string;
}

export type Allowlist =
  | { readonly ok: true; readonly file: string; readonly roots: readonly AllowlistRoot[] }
  | { readonly ok: false; readonly file: string; readonly problem: string };

export interface MountRequest {
  /** Absolute host path, or starting with `~/`. */
  readonly hostPath: string;
  /** Relative to /extra in the container. */
  readonly containerPath: string;
  readonly readWrite?: boolean;
}

export type MountDecision =
  | { readonly allowed: true; readonly mount: MountSpec; readonly warning?: string }
  | { readonly allowed: false; readonly reason: string };

const EXAMPLE = '{"roots":[{"path":"/srv/shared","allowWrite":false}]}';

function expandHome(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return path.join(home, p.slice(2));
  return p;
}

/** Reads and validates the allowlist file, every time it is called. */
export function loadAllowlist(file: string, home: string = os.homedir()): Allowlist {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      return { ok: false, file, problem: `mount allowlist ${file} does not exist: create ${file} with {"roots":[...]}, e.g. ${EXAMPLE}` };
    }
    return { ok: false, file, problem: `mount allowlist ${file} cannot be read (${code ?? String(err)}): make it readable by napbox's user` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (err) {
    return { ok: false, file, problem: `mount allowlist ${file} is not valid JSON (${(err as Error).message}): fix it to look like ${EXAMPLE}` };
  }
  const parsed = AllowlistSchema.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = issue.path.length > 0 ? issue.path.join('.') : '(top level)';
    return { ok: false, file, problem: `mount allowlist ${file}: "${field}": ${issue.message}; expected ${EXAMPLE}` };
  }
  const roots: AllowlistRoot[] = [];
  for (const [i, root] of parsed.data.roots.entries()) {
    const expanded = expandHome(root.path, home);
    if (!path.isAbsolute(expanded)) {
      return {
        ok: false,
        file,
        problem: `mount allowlist ${file}: "roots.${i}.path" ${JSON.stringify(root.path)} must be an absolute path (or start with ~/)`,
      };
    }
    roots.push({ path: expanded, allowWrite: root.allowWrite, ...(root.description ? { description: root.description } : {}) });
  }
  return { ok: true, file, roots };
}

// --- credential paths -------------------------------------------------------

const BLOCKED_NAMES = new Set([
  '.ssh',
  '.gnupg',
  '.gpg',
  '.aws',
  '.azure',
  '.kube',
  '.docker',
  '.netrc',
  '_netrc',
  '.npmrc',
  '.yarnrc',
  '.yarnrc.yml',
  '.pypirc',
  '.git-credentials',
  '.gitcookies',
  '.pgpass',
  '.my.cnf',
  '.vault-token',
  '.password-store',
  '.terraform.d',
  '.terraformrc',
  '.boto',
  '.s3cfg',
  '.oci',
  '.doctl',
  'credentials',
  'credentials.json',
  'credentials.db',
  '.credentials',
  'secrets',
  '.secrets',
  'private_key',
  'keyring',
  'keyrings',
  '.pki',
]);
const BLOCKED_PATTERNS = [/^\.env$/i, /^\.env\..+/i, /^id_(rsa|dsa|ecdsa|ed25519)(_sk)?(\.pub)?$/i, /\.(pem|key|p12|pfx|kdbx)$/i];
/** Blocked as a pair of consecutive segments. */
const BLOCKED_PAIRS = [
  ['.config', 'gcloud'],
  ['.config', 'gh'],
  ['.config', 'hub'],
  ['.config', 'op'],
  ['.local', 'share'],
] as const;

/** The blocked credential name a path holds, if any (checked on every segment). */
export function credentialSegment(absPath: string): string | undefined {
  const segments = absPath.split(path.sep).filter((s) => s.length > 0);
  for (const [i, seg] of segments.entries()) {
    if (BLOCKED_NAMES.has(seg.toLowerCase()) || BLOCKED_PATTERNS.some((re) => re.test(seg))) return seg;
    const next = segments[i + 1];
    if (next !== undefined && BLOCKED_PAIRS.some(([a, b]) => a === seg.toLowerCase() && b === next.toLowerCase())) return `${seg}/${next}`;
  }
  return undefined;
}

// --- container paths --------------------------------------------------------

// --- the check ---------------------------------------------------------------

function isInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

export interface CheckOptions {
  readonly home?: string;
}

/**
 * Decides one extra mount. Reads the file system (realpath, and the entries
 * of the folder to mount), so it is not pure; planMounts is.
 */
export function checkMount(request: MountRequest, allowlist: Allowlist, options: CheckOptions = {}): MountDecision {
  const home = options.home ?? os.homedir();
  const asked = JSON.stringify(request.hostPath);
  if (!allowlist.ok) return { allowed: false, reason: `extra mounts are refused: ${allowlist.problem}` };

  const pathProblem = containerPathProblem(request.containerPath);
  if (pathProblem) return { allowed: false, reason: pathProblem };

  const expanded = expandHome(request.hostPath, home);
  if (expanded.includes('\0')) return { allowed: false, reason: 'the host path contains a NUL character' };
  if (!path.isAbsolute(expanded)) return { allowed: false, reason: `the host path ${asked} must be absolute (or start with ~/)` };
  // Refuse a blocked name as written too: the message names what was asked for.
  const written = credentialSegment(path.resolve(expanded));
  if (written) return { allowed: false, reason: `the host path ${asked} is a credential path ("${written}"): it is never mounted` };

  let real: string;
  try {
    real = fs.realpathSync(expanded);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      allowed: false,
      reason:
        code === 'ENOENT'
          ? `the host path ${asked} does not exist: create it or correct the path`
          : `the host path ${asked} cannot be resolved (${code ?? String(err)})`,
    };
  }
  const shownReal = real === expanded ? asked : `${asked} (resolves to ${JSON.stringify(real)})`;
  const blocked = credentialSegment(real);
  if (blocked) return { allowed: false, reason: `the host path ${shownReal} is a credential path ("${blocked}"): it is never mounted` };

  let isDir = false;
  try {
    isDir = fs.statSync(real).isDirectory();
  } catch {
    /* realpath succeeded; a race is refused below by the scan failing closed */
  }
  if (isDir) {
    let entries: string[];
    try {
      entries = fs.readdirSync(real);
    } catch (err) {
      return {
        allowed: false,
        reason: `the host path ${shownReal} cannot be listed (${(err as NodeJS.ErrnoException).code ?? String(err)}): napbox checks a folder for credentials before mounting it`,
      };
    }
    const held = entries.find((name) => credentialSegment(name) !== undefined);
    if (held) return { allowed: false, reason: `the host path ${shownReal} holds a credential path ("${held}"): mount a subfolder without it instead` };
  }

  const root = allowlist.roots.find((r) => {
    try {
      return isInside(real, fs.realpathSync(r.path));
    } catch {
      return false; // a root that does not exist allows nothing
    }
  });
  if (!root) {
    const roots = allowlist.roots.map((r) => r.path).join(', ') || '(none)';
    return {
      allowed: false,
      reason: `the host path ${shownReal} is not under any root of the mount allowlist ${allowlist.file} (roots: ${roots}): add a root there, or choose a path under one`,
    };
  }

  const readOnly = !(root.allowWrite && request.readWrite === true);
  const mount: MountSpec = { type: 'bind', source: real, target: `${EXTRA_MOUNT_PREFIX}/${request.containerPath}`, readOnly };
  if (request.readWrite === true && !root.allowWrite) {
    return {
      allowed: true,
      mount,
      warning: `${asked} is mounted read-only: readWrite was asked, but the allowlist root ${JSON.stringify(root.path)} has "allowWrite": false`,
    };
  }
  return { allowed: true, mount };
}

// --- watching ----------------------------------------------------------------

export interface AllowlistWatcherOptions {
  readonly home?: string;
  /** Called after each re-read caused by a change on disk. */
  readonly onChange?: (allowlist: Allowlist) => void;
}

/**
 * Keeps the allowlist current: re-read when the file (or its folder) changes.
 * Only a valid allowlist is kept between reads; while it is missing or broken,
 * every `current()` reads the file again, so a fix is seen even if the
 * watcher missed it (the folder may not exist yet, for one).
 */
export class AllowlistWatcher {
  /** The last valid allowlist read; undefined before start() and while the file is missing or broken. */
  private last: Allowlist | undefined;
  private watcher: FSWatcher | undefined;

  constructor(
    readonly file: string,
    private readonly options: AllowlistWatcherOptions = {},
  ) {}

  /** Reads the file and starts watching its folder; resolves once the watch is in place. */
  start(): Promise<void> {
    this.last = loadAllowlist(this.file, this.options.home);
    const dir = path.dirname(this.file);
    const base = path.basename(this.file);
    // Watch the folder, not the file: editors replace files by rename, and the file may not exist yet.
    const watcher = watch(dir, { depth: 0, ignoreInitial: true, ignored: (p: string) => p !== dir && path.basename(p) !== base });
    this.watcher = watcher;
    const reload = (p: string): void => {
      if (path.basename(p) !== base) return;
      this.last = loadAllowlist(this.file, this.options.home);
      this.options.onChange?.(this.last);
    };
    watcher.on('add', reload).on('change', reload).on('unlink', reload);
    watcher.on('error', () => {
      /* a folder that vanished: current() re-reads while the allowlist is not ok */
    });
    return new Promise((resolve) => watcher.once('ready', () => resolve()));
  }

  /** The allowlist now: the last valid one read, or the file read again while it is not valid (or not watched yet). */
  current(): Allowlist {
    if (!this.last?.ok) {
      this.last = loadAllowlist(this.file, this.options.home);
      // The folder may have been made after the watch began: watch it again (chokidar ignores a path it already watches).
      if (this.last.ok) this.watcher?.add(path.dirname(this.file));
    }
    return this.last;
  }

  async close(): Promise<void> {
    await this.watcher?.close();
    this.watcher = undefined;
  }
}
