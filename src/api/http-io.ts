// Reading and writing JSON over node:http, with the limits every napbox
// endpoint shares. Errors are answered by error-response.ts.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { z } from 'zod';
import { firstIssue, NapboxError } from '../errors.js';

const MAX_JSON_BODY = 1024 * 1024;

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(text);
}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new NapboxError('payload_too_large', `request body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new NapboxError('payload_too_large', `request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Reads a JSON body and validates it with `schema`; any failure is a 400 that names the problem. */
export async function readJson<S extends z.ZodType>(req: IncomingMessage, schema: S, limit = MAX_JSON_BODY): Promise<z.infer<S>> {
  const raw = await readBody(req, limit);
  let value: unknown;
  try {
    value = raw.length === 0 ? {} : JSON.parse(raw.toString('utf8'));
  } catch (err) {
    throw new NapboxError('bad_request', 'the request body is not valid JSON', { cause: err });
  }
  const parsed = schema.safeParse(value);
  if (!parsed.success) {
    throw new NapboxError('bad_request', `invalid ${firstIssue(parsed.error, 'body')}`);
  }
  return parsed.data;
}

/**
 * Every value of cookie `name` in a Cookie header, in the order sent. A
 * browser sends several of one name when they differ in Domain or Path (a
 * page on a sibling host can set one for the parent domain), so a reader
 * takes the first that verifies, never simply the first.
 */
export function readCookies(header: string | undefined, name: string): string[] {
  const values: string[] = [];
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) values.push(part.slice(eq + 1).trim());
  }
  return values;
}

/** A path parameter percent-decoded; a malformed escape or invalid UTF-8 (`%ZZ`, `%FF`) is a 400, never a URIError. */
export function decodePathParam(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch (err) {
    throw new NapboxError('bad_request', `malformed percent-encoding in the path: ${JSON.stringify(text)}`, { cause: err });
  }
}
