// What a request held for a cold wake is answered by napbox itself: browsers
// get pages, programs get JSON. A browser (a GET or HEAD navigation whose
// Accept names text/html) held longer than NAPBOX_STARTING_PAGE_AFTER gets a
// small "starting <tenant>" page that reloads itself about every second, and
// a failed wake an HTML page with the short reason; every other client is
// held as before and told a failure as JSON (api/error-response.ts).
//
// Invariants:
// - Both pages are napbox's answers, never the app's: 503 with Retry-After
//   and Cache-Control: no-store, so no proxy or browser cache keeps them in
//   place of the app's page.
// - Everything shown is HTML-escaped, and the pages load nothing: no scripts,
//   no external styles, images or fonts (they may run under a CSP sandbox).
// - Only methods that are safe to repeat get a page: a held POST is never
//   answered with a page the browser would reload by sending it again.

import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NapboxError } from '../errors.js';
import { sendError } from '../api/error-response.js';

/** Seconds between the starting page's reloads. */
const REFRESH_SECONDS = 1;

/** A browser's navigation: a GET or HEAD that accepts HTML (Accept contains text/html). */
export function wantsPage(req: Pick<IncomingMessage, 'method' | 'headers'>): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false;
  const accept = req.headers.accept;
  return typeof accept === 'string' && accept.toLowerCase().includes('text/html');
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function page(title: string, message: string, refresh: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${refresh ? `<meta http-equiv="refresh" content="${REFRESH_SECONDS}">\n` : ''}<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;display:grid;place-items:center;min-height:100vh;color:#222;background:#fafafa}main{max-width:36em;padding:2em;text-align:center}h1{font-size:1.4em;font-weight:600}p{color:#555;overflow-wrap:anywhere}</style>
</head><body><main><h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p></main></body></html>
`;
}

function sendPage(req: IncomingMessage, res: ServerResponse, status: number, headers: Record<string, string>, body: string): void {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': String(Buffer.byteLength(body)),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** The self-refreshing "starting <tenant>" page. */
export function sendStartingPage(req: IncomingMessage, res: ServerResponse, slug: string): void {
  sendPage(
    req,
    res,
    503,
    { 'retry-after': String(REFRESH_SECONDS), refresh: String(REFRESH_SECONDS) },
    page(`starting ${slug}`, 'It was asleep and is waking up: this page reloads by itself in a moment.', true),
  );
}

/**
 * Answers a request whose wake failed (or that napbox refused): a browser gets
 * a page with the error's short message, a program the JSON error as before.
 * `error` is what the client may be told (tenant-proxy.ts `told`).
 */
export function sendWaitFailure(req: IncomingMessage, res: ServerResponse, error: NapboxError): void {
  if (res.headersSent || res.destroyed) {
    if (!res.writableEnded) res.end();
    return;
  }
  if (!wantsPage(req) || error.httpStatus < 500) {
    sendError(res, error);
    return;
  }
  const retry: Record<string, string> = error.retryAfterSeconds !== undefined ? { 'retry-after': String(error.retryAfterSeconds) } : {};
  sendPage(req, res, error.httpStatus, retry, page('not available right now', error.message, false));
}
