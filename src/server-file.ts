// Server files: where each running napbox process listens, for the CLI. Its
// own module so the CLI can read them without loading the server (node:fs,
// node:http and node:path only).
// Invariants:
// - Every process keeps its own file, data/servers/<process id>.json, written
//   atomically (a temp file renamed into place) and removed at exit by that
//   process only. Several processes on one data dir (docs/scale-out.md) never
//   overwrite or remove each other's file; a process that died without
//   removing its own leaves a stale file, which the next process to start
//   removes when its pid is gone from their shared pid namespace.
// - The CLI uses a live process: its pid exists (when both share a pid
//   namespace) and it answers GET /healthz. An old napbox's data/server.json is
//   still read, last, when no process of this version is found.

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { NapboxError } from './errors.js';

export interface ServerFile {
  readonly url: string;
  readonly pid: number;
  readonly installId: string;
  readonly baseDomain: string;
  readonly port: number;
  /** The writer's pid namespace (Linux), so its pid is compared only by readers that share it. */
  readonly pidNamespace?: string;
}

/** The folder, under the data dir, of every process's server file. */
export const SERVERS_DIR = 'servers';
/** The one file napbox versions before issue 19 wrote (the process started last); read for compatibility. */
const LEGACY_SERVER_FILE = 'server.json';
const PROBE_TIMEOUT_MS = 1500;

/** This process's pid namespace id (Linux), or undefined where there is none to read. */
export function pidNamespace(): string | undefined {
  try {
    return /\[(\d+)\]/.exec(fs.readlinkSync('/proc/self/ns/pid'))?.[1];
  } catch {
    return undefined;
  }
}

/**
 * Writes this process's server file atomically and removes stale files of dead processes;
 * returns the function that removes it again (at exit).
 */
export function writeServerFile(dataDir: string, processId: string, info: ServerFile): () => void {
  const dir = path.join(dataDir, SERVERS_DIR);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  removeStale(dir, info.pidNamespace);
  const file = path.join(dir, `${processId}.json`);
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(info), { mode: 0o600 });
  fs.renameSync(tmp, file);
  return () => fs.rmSync(file, { force: true });
}

/** Every server file of the data dir, parsed and checked (unreadable or foreign files are skipped). */
export function readServerFiles(dataDir: string): ServerFile[] {
  const dir = path.join(dataDir, SERVERS_DIR);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.endsWith('.json'));
  } catch {
    return [];
  }
  const files: ServerFile[] = [];
  for (const name of names) {
    const info = readOne(path.join(dir, name));
    if (info) files.push(info);
  }
  return files;
}

/**
 * A live napbox process on this data dir, for the CLI: the first whose pid exists and that answers
 * /healthz; else an old version's server.json; else a not_found error saying how to start napbox.
 */
export async function findLiveServer(dataDir: string): Promise<ServerFile> {
  const ours = pidNamespace();
  const install = installIdOf(dataDir);
  // Only this data dir's install (the CLI's token is sent to the one it picks), and only processes that may live.
  const candidates = readServerFiles(dataDir).filter(
    (f) => (install === undefined || f.installId === install) && !(f.pidNamespace !== undefined && f.pidNamespace === ours && !pidExists(f.pid)),
  );
  const answers = await Promise.all(candidates.map((f) => answersHealth(f.url)));
  const live = candidates.find((_, i) => answers[i]);
  if (live) return live;
  const legacyFile = path.join(dataDir, LEGACY_SERVER_FILE);
  if (fs.existsSync(legacyFile)) {
    const legacy = readOne(legacyFile);
    if (!legacy) throw new NapboxError('internal', `${legacyFile} is not a napbox server file: remove it and restart napbox`);
    return legacy;
  }
  const seen = candidates.length > 0 ? `: no process of its ${SERVERS_DIR}/ answers` : '';
  throw new NapboxError('not_found', `napbox is not running for ${dataDir}${seen}: start it with \`npm start\`, or set NAPBOX_DATA_DIR`);
}

/** The data dir's install id (its `install-id` file), if it has one yet. */
function installIdOf(dataDir: string): string | undefined {
  try {
    return fs.readFileSync(path.join(dataDir, 'install-id'), 'utf8').trim() || undefined;
  } catch {
    return undefined;
  }
}

/** The file as napbox wrote it, checked field by field; undefined when it is not one. */
function readOne(file: string): ServerFile | undefined {
  let v: Record<string, unknown>;
  try {
    if (!fs.lstatSync(file).isFile()) return undefined; // a FIFO would block the read, a symlink could name anything
    const parsed: unknown = JSON.parse(fs.readFileSync(file, 'utf8'));
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    v = parsed as Record<string, unknown>;
  } catch {
    return undefined;
  }
  const ok =
    typeof v.url === 'string' &&
    /^http:\/\/[^\s/]+$/.test(v.url) &&
    Number.isInteger(v.pid) &&
    (v.pid as number) > 0 &&
    typeof v.installId === 'string' &&
    typeof v.baseDomain === 'string' &&
    Number.isInteger(v.port) &&
    (v.pidNamespace === undefined || typeof v.pidNamespace === 'string');
  if (!ok) return undefined;
  return {
    url: v.url as string,
    pid: v.pid as number,
    installId: v.installId as string,
    baseDomain: v.baseDomain as string,
    port: v.port as number,
    ...(typeof v.pidNamespace === 'string' ? { pidNamespace: v.pidNamespace } : {}),
  };
}

/** Removes the files of processes that are gone: only those written from our own pid namespace, whose pid no longer exists. */
function removeStale(dir: string, namespace: string | undefined): void {
  if (namespace === undefined) return;
  for (const name of fs.readdirSync(dir)) {
    const file = path.join(dir, name);
    const info = name.endsWith('.json') ? readOne(file) : undefined;
    if (info?.pidNamespace === namespace && !pidExists(info.pid)) fs.rmSync(file, { force: true });
  }
}

function pidExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function answersHealth(url: string): Promise<boolean> {
  return new Promise((resolve) => {
    let req: http.ClientRequest;
    try {
      req = http.get(`${url}/healthz`, { timeout: PROBE_TIMEOUT_MS }, (res) => {
        res.resume();
        resolve(res.statusCode === 200);
      });
    } catch {
      return resolve(false); // not a URL this client can ask: not a live server
    }
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(false));
  });
}
