// How the CLI reaches the running server: the data dir (NAPBOX_DATA_DIR) holds
// server.json (where it listens) and the admin key, so the CLI signs a
// short-lived token of its own for each run.

import fs from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { AdminAuth, loadOrCreateKey } from '../api/auth.js';
import { NapboxError } from '../errors.js';
import { loadInstallId } from '../install-id.js';
import { SERVER_FILE } from '../server-file.js';

const ServerFileSchema = z.object({
  url: z.string().url(),
  pid: z.number().int(),
  installId: z.string(),
  baseDomain: z.string(),
  port: z.number().int(),
});

export type ServerInfo = z.infer<typeof ServerFileSchema>;

export function readServerFile(dataDir: string): ServerInfo {
  const file = path.join(dataDir, SERVER_FILE);
  let raw: string;
  try {
    raw = fs.readFileSync(file, 'utf8');
  } catch {
    throw new NapboxError('not_found', `napbox is not running for ${dataDir} (no ${SERVER_FILE}): start it with \`npm start\`, or set NAPBOX_DATA_DIR`);
  }
  const parsed = ServerFileSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new NapboxError('internal', `${file} is not a napbox server file: remove it and restart napbox`);
  return parsed.data;
}

export function adminAuth(dataDir: string): AdminAuth {
  if (!fs.existsSync(path.join(dataDir, 'install-id'))) {
    throw new NapboxError('not_found', `${dataDir} is not a napbox data dir yet: run \`npm start\` once, or set NAPBOX_DATA_DIR`);
  }
  return new AdminAuth(loadOrCreateKey(dataDir), loadInstallId(dataDir));
}

export class ApiClient {
  private constructor(
    readonly server: ServerInfo,
    private readonly token: string,
  ) {}

  static async connect(dataDir: string): Promise<ApiClient> {
    const server = readServerFile(dataDir);
    const token = await adminAuth(dataDir).issue(300, 'cli');
    return new ApiClient(server, token);
  }

  async request(method: string, apiPath: string, body?: unknown): Promise<Response> {
    let res: Response;
    try {
      res = await fetch(`${this.server.url}${apiPath}`, {
        method,
        headers: { authorization: `Bearer ${this.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (err) {
      throw new NapboxError('not_found', `napbox does not answer at ${this.server.url}: is it running? Start it with \`npm start\``, { cause: err });
    }
    return res;
  }

  /** A JSON call that throws the server's error message on a non-2xx answer. */
  async json<T = unknown>(method: string, apiPath: string, body?: unknown): Promise<T> {
    const res = await this.request(method, apiPath, body);
    const text = await res.text();
    let value: unknown = text;
    try {
      value = JSON.parse(text);
    } catch {
      /* plain text */
    }
    if (!res.ok) {
      const message = typeof value === 'object' && value && 'message' in value ? String((value as { message: unknown }).message) : text;
      throw new NapboxError('bad_request', `${res.status}: ${message}`);
    }
    return value as T;
  }
}
