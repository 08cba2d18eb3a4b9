// The dashboard's own files on the base host: the page at `/` and its script
// and style under `/dashboard/`. They are plain files in ./static, read once
// at start-up; the page talks to the admin API (src/api/admin-api.ts) with the
// session cookie and follows GET /api/events. A strict Content-Security-Policy
// allows only these files and calls back to napbox itself; the page is never
// framed (frame-ancestors 'none', X-Frame-Options) and keeps no opener.
// No tenant bytes are ever served in this origin: /t/<slug>/ pages are
// sandboxed into opaque origins (src/router/tenant-proxy.ts).

import fs from 'node:fs';
import path from 'node:path';
import { projectRoot } from '../project-root.js';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sendError } from '../api/error-response.js';
import { NapboxError } from '../errors.js';

const FILES: Readonly<Record<string, { file: string; type: string }>> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/dashboard/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

const HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-content-type-options': 'nosniff',
  // Never in a frame, and no window another page opened keeps a handle on it.
  'x-frame-options': 'DENY',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

export type DashboardRoute = (req: IncomingMessage, res: ServerResponse, pathname: string) => boolean;

/** Serves the dashboard's files; returns false for any other path. */
export function dashboardFiles(staticDir = path.join(projectRoot(import.meta.url), 'src', 'dashboard', 'static')): DashboardRoute {
  const loaded = new Map<string, { body: Buffer; type: string }>();
  for (const [route, { file, type }] of Object.entries(FILES)) loaded.set(route, { body: fs.readFileSync(path.join(staticDir, file)), type });
  return (req, res, pathname) => {
    const hit = loaded.get(pathname);
    if (!hit) return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendError(res, new NapboxError('method_not_allowed', `${req.method} is not allowed on ${pathname}: use GET or HEAD`), { allow: 'GET, HEAD' });
      return true;
    }
    res.writeHead(200, { ...HEADERS, 'content-type': hit.type, 'content-length': hit.body.length });
    res.end(req.method === 'HEAD' ? undefined : hit.body);
    return true;
  };
}
