// A tenant's package lists: the apt and npm packages installed into its own
// image. Every list is checked here, on every path (HTTP, CLI, rows read back,
// the Dockerfile generator), before a name can reach a build.
//
// Invariants:
// - A list is accepted or refused whole: one bad entry refuses it, with a
//   message that names that entry, and nothing of it is used.
// - An accepted entry matches a grammar with no shell, path or option
//   syntax in it: no spaces, quotes, `;`, `$`, backticks, `/` (except an npm
//   scope's), `..`, `:` (except a Debian epoch), and it never starts with `-`,
//   so no tool takes it for an option, a file or a URL.
// - At most MAX_PACKAGES per list, no empty entries, no package twice (by
//   name: `jq` and `jq=1.6-2.1` are the same package).
//
// The grammars (conservative subsets of what the tools accept):
// - apt: `name` or `name=version`. name: Debian policy, `^[a-z0-9][a-z0-9+.-]+$`,
//   2 to 100 characters, not ending in `-` (apt-get reads `name-` as
//   "remove name"). version: `[epoch:]upstream[-revision]`, i.e.
//   `^([0-9]+:)?[0-9][A-Za-z0-9.+~-]*$`, at most 64 characters, not ending
//   in `-`. No `name/release`, `name:arch` or `*` patterns. (A name that no
//   package has exactly is still tried by apt-get as a regex or glob, since
//   `.` and `+` are legal in names: the build may then install more than was
//   meant, in the tenant's own image only.)
// - npm: `[@scope/]name[@range]`. scope and name: lower-case letters, digits,
//   `-`, `.`, `_`, starting with a letter or digit, at most 214 characters in
//   all; not `node_modules` or `favicon.ico`, and not ending in `.tgz`,
//   `.tar` or `.tar.gz` (npm would read those as local files). range: a
//   semver range or dist-tag from `0-9 A-Z a-z . + - ^ ~ < > = * |`, at most
//   64 characters: `@^7`, `@>=1.2.0`, `@1.x`, `@latest`, `@7||8`. No spaces,
//   so ranges like `>=1 <2` must be written as one comparator.

import { z } from 'zod';
import { NapboxError } from '../errors.js';

export const MAX_PACKAGES = 50;

export interface PackageLists {
  readonly apt: readonly string[];
  readonly npm: readonly string[];
}

export const EMPTY_PACKAGES: PackageLists = Object.freeze({ apt: Object.freeze([]), npm: Object.freeze([]) });

const APT_NAME = /^[a-z0-9][a-z0-9+.-]+$/;
const APT_VERSION = /^(?:[0-9]{1,9}:)?[0-9][A-Za-z0-9.+~-]*$/;
const NPM_PART = /^[a-z0-9][a-z0-9._-]*$/;
const NPM_RANGE = /^[0-9A-Za-z.+\-^~<>=*|]+$/;
const NPM_FILE_LIKE = /\.(?:tgz|tar|tar\.gz)$/;

const APT_RULE =
  'a Debian package name is lower-case letters, digits and + - . (2 to 100 characters, starting with a letter or digit), optionally followed by =<version>';
const NPM_RULE =
  'an npm package is [@scope/]name[@range]: lower-case letters, digits and - . _ (starting with a letter or digit), and a range of letters, digits and . + - ^ ~ < > = * | with no spaces';

/** What is wrong with an apt entry, or undefined when it is good. */
export function aptEntryProblem(entry: string): string | undefined {
  const eq = entry.indexOf('=');
  const name = eq === -1 ? entry : entry.slice(0, eq);
  if (name.length < 2 || name.length > 100 || !APT_NAME.test(name) || entry.includes('..')) return APT_RULE;
  if (name.endsWith('-')) return 'a Debian package name must not end in - (apt-get would read it as "remove")';
  if (eq === -1) return undefined;
  const version = entry.slice(eq + 1);
  if (version.length === 0 || version.length > 64 || !APT_VERSION.test(version) || version.endsWith('-')) {
    return 'a Debian version is [epoch:]upstream[-revision]: it starts with a digit, then letters, digits and . + ~ - (at most 64 characters)';
  }
  return undefined;
}

/** What is wrong with an npm entry, or undefined when it is good. */
export function npmEntryProblem(entry: string): string | undefined {
  const { scope, name, range } = splitNpm(entry);
  if (scope !== undefined && !NPM_PART.test(scope)) return NPM_RULE;
  if (!NPM_PART.test(name)) return NPM_RULE;
  const full = scope === undefined ? name : `@${scope}/${name}`;
  if (full.length > 214) return 'an npm package name is at most 214 characters';
  if (name === 'node_modules' || name === 'favicon.ico') return `${name} is not an npm package name`;
  if (NPM_FILE_LIKE.test(name)) return 'an npm package name must not end in .tgz, .tar or .tar.gz (npm would read it as a local file)';
  if (full.includes('..')) return NPM_RULE;
  if (range !== undefined && (range.length === 0 || range.length > 64 || !NPM_RANGE.test(range) || range.includes('..'))) return NPM_RULE;
  return undefined;
}

/** The package an entry names, without its version: what "twice" is judged by. */
function packageName(kind: 'apt' | 'npm', entry: string): string {
  if (kind === 'apt') return entry.split('=')[0] ?? entry;
  const { scope, name } = splitNpm(entry);
  return scope === undefined ? name : `@${scope}/${name}`;
}

function splitNpm(entry: string): { scope: string | undefined; name: string; range: string | undefined } {
  let scope: string | undefined;
  let rest = entry;
  if (entry.startsWith('@')) {
    const slash = entry.indexOf('/');
    if (slash === -1) return { scope: undefined, name: entry, range: undefined }; // fails NPM_PART: starts with @
    scope = entry.slice(1, slash);
    rest = entry.slice(slash + 1);
  }
  const at = rest.indexOf('@');
  return at === -1 ? { scope, name: rest, range: undefined } : { scope, name: rest.slice(0, at), range: rest.slice(at + 1) };
}

function listSchema(kind: 'apt' | 'npm', problem: (entry: string) => string | undefined) {
  return z
    .array(z.string({ error: `every ${kind} package must be a string` }), { error: `${kind} must be an array of strings` })
    .max(MAX_PACKAGES, { error: `${kind} has more than ${MAX_PACKAGES} packages` })
    .superRefine((entries, ctx) => {
      const seen = new Map<string, string>();
      entries.forEach((entry, i) => {
        const shown = show(entry);
        const wrong = entry.length === 0 ? 'an empty package name' : problem(entry);
        if (wrong !== undefined) {
          ctx.addIssue({ code: 'custom', path: [i], message: `${kind} package ${shown} is refused: ${wrong}` });
          return;
        }
        const name = packageName(kind, entry);
        const earlier = seen.get(name);
        if (earlier !== undefined)
          ctx.addIssue({ code: 'custom', path: [i], message: `${kind} package ${shown} is refused: ${show(earlier)} names the same package` });
        else seen.set(name, entry);
      });
    })
    .default([]);
}

/** The lists as the API takes them: both keys optional (missing means none), no other keys. */
const PackageListsSchema = z
  .object(
    { apt: listSchema('apt', aptEntryProblem), npm: listSchema('npm', npmEntryProblem) },
    { error: 'packages must be an object like {"apt": ["jq"], "npm": ["is-number"]}' },
  )
  .strict();

/**
 * Checks lists from anywhere (HTTP body, CLI, a database row) and returns them
 * normalized; refuses the whole input with 'bad_request' naming the first bad entry.
 */
export function parsePackageLists(input: unknown): PackageLists {
  const result = PackageListsSchema.safeParse(input);
  if (!result.success) {
    const issues = result.error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
    const first = issues[0]?.message ?? 'invalid package lists';
    throw new NapboxError('bad_request', `${first}; nothing was changed`, { details: { issues } });
  }
  return normalize(result.data);
}

/** Sorted, exact duplicates removed. Used for the hash, so the order a list was given in never matters. */
export function normalize(lists: PackageLists): PackageLists {
  const sorted = (entries: readonly string[]) => Object.freeze([...new Set(entries)].sort());
  return Object.freeze({ apt: sorted(lists.apt), npm: sorted(lists.npm) });
}

export function isEmpty(lists: PackageLists): boolean {
  return lists.apt.length === 0 && lists.npm.length === 0;
}

/** `napbox packages add`: entries replace those naming the same package. The result is checked whole. */
export function addPackages(current: PackageLists, added: Partial<PackageLists>): PackageLists {
  const merge = (kind: 'apt' | 'npm') => {
    const incoming = added[kind] ?? [];
    const names = new Set(incoming.map((e) => packageName(kind, e)));
    return [...current[kind].filter((e) => !names.has(packageName(kind, e))), ...incoming];
  };
  return parsePackageLists({ apt: merge('apt'), npm: merge('npm') });
}

/** `napbox packages rm`: drops the packages named (a version in the removal is ignored). */
export function removePackages(current: PackageLists, removed: Partial<PackageLists>): PackageLists {
  const drop = (kind: 'apt' | 'npm') => {
    const names = new Set((removed[kind] ?? []).map((e) => packageName(kind, e)));
    return current[kind].filter((e) => !names.has(packageName(kind, e)));
  };
  return parsePackageLists({ apt: drop('apt'), npm: drop('npm') });
}

function show(entry: string): string {
  return JSON.stringify(entry.length > 80 ? `${entry.slice(0, 80)}…` : entry);
}
