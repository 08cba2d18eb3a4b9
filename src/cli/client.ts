// How the CLI reaches the running server: the data dir (NAPBOX_DATA_DIR) holds
// each process's server file (where it listens, server-file.ts) and the admin key, so the CLI signs a
// short-lived token of its own for each run.
// Every answer it reads is parsed with the schema the server's answer is typed
// from (api/answers.ts); an answer that does not match is a one-line error
// naming the call and the field, never a crash. It loads little (node:http,
// not fetch's undici; of the server, only the token signer in api/auth.ts,
// and the answers' schemas with zod while the first call is on its way):
// every verb pays its start-up (issue 15's 300 ms for `napbox tenants list`).

import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { z } from 'zod';
import type * as Answers from '../api/answers.js';
import { AdminAuth, loadOrCreateKey } from '../api/auth.js';
import { firstIssue, NapboxError } from '../errors.js';
import { loadInstallId } from '../install-id.js';
import { findLiveServer } from '../server-file.js';
import { CliError, EXIT, ServerRefusal } from './exit-codes.js';

export interface ServerInfo {
  readonly url: string;
  readonly pid: number;
  readonly installId: string;
  readonly baseDomain: string;
  readonly port: number;
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
    const server = await findLiveServer(dataDir);
    const token = await adminAuth(dataDir).issue(300, 'cli');
    return new ApiClient(server, token);
  }

  private unreachable(cause: unknown): CliError {
    return new CliError(EXIT.unreachable, `napbox does not answer at ${this.server.url}: is it running? Start it with \`npm start\``, { cause });
  }

  /** A GET whose answer streams (logs that follow): the response, or the server's error message thrown. */
  async stream(apiPath: string): Promise<http.IncomingMessage> {
    const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const req = http.request(`${this.server.url}${apiPath}`, { headers: { authorization: `Bearer ${this.token}` } }, resolve);
      req.on('error', (err) => reject(this.unreachable(err)));
      req.end();
    });
    if ((res.statusCode ?? 0) >= 300) {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      throw refusal(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), (await import('../api/answers.js')).ErrorBodySchema);
    }
    return res;
  }

  request(method: string, apiPath: string, body?: unknown): Promise<{ status: number; text: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        `${this.server.url}${apiPath}`,
        { method, headers: { authorization: `Bearer ${this.token}`, ...(payload === undefined ? {} : { 'content-type': 'application/json' }) } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', (err) => reject(this.unreachable(err)));
      req.end(payload);
    });
  }

  /** A JSON call: the answer parsed with `schema`; a non-2xx answer throws the server's error message. */
  async json<S extends z.ZodType>(method: string, apiPath: string, pick: (answers: typeof Answers) => S, body?: unknown): Promise<z.output<S>> {
    const answered = this.request(method, apiPath, body);
    // Awaited below: until then a refused connection must not count as an unhandled rejection (that crashed the CLI with a stack).
    answered.catch(() => undefined);
    // The schemas (and zod) load while the server works on the call: a verb's start-up pays for the longer of the two.
    const answers = await import('../api/answers.js');
    const res = await answered;
    const schema = pick(answers);
    if (res.status < 200 || res.status >= 300) throw refusal(res.status, res.text, answers.ErrorBodySchema);
    let value: unknown;
    try {
      value = JSON.parse(res.text);
    } catch (err) {
      throw unreadable(method, apiPath, `not JSON: ${JSON.stringify(res.text.slice(0, 80))}`, err);
    }
    const parsed = schema.safeParse(value);
    if (!parsed.success) {
      throw unreadable(method, apiPath, firstIssue(parsed.error, 'the answer'), parsed.error);
    }
    return parsed.data;
  }
}

/** The server's error answer (ErrorBody), as an error whose message is the status and the server's message. */
function refusal(status: number, text: string, ErrorBodySchema: typeof Answers.ErrorBodySchema): ServerRefusal {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const parsed = ErrorBodySchema.safeParse(body);
  const message = parsed.success ? parsed.data.message : text.slice(0, 500).replace(/\s+/g, ' ').trim() || '(no message)';
  return new ServerRefusal(status, parsed.success ? parsed.data.error : '', `${status}: ${message}`);
}

function unreadable(method: string, apiPath: string, what: string, cause: unknown): NapboxError {
  return new NapboxError(
    'internal',
    `the server's answer to ${method} ${apiPath} is not what this CLI reads (${what}): are the CLI and the running server the same version? Rebuild with \`npm run build\` and restart napbox`,
    { cause },
  );
}
