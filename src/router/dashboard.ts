// The page at / on the base host. For now a plain landing page that says
// where things are; the operator's dashboard replaces it.

import type { IncomingMessage, ServerResponse } from 'node:http';

export function landingPage(exampleUrl: string) {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>napbox</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:42rem;margin:3rem auto;padding:0 1rem}code{background:#f3f3f3;padding:0 .2em}</style>
</head><body>
<h1>napbox</h1>
<p>Tenants are served at <code>http://&lt;slug&gt;.&lt;base domain&gt;/</code> and at <code>/t/&lt;slug&gt;/</code>,
for example <a href="${exampleUrl}">${exampleUrl}</a>.</p>
<p>Manage them with <code>npx napbox --help</code> or the admin API under <code>/api/</code> (a token from <code>npx napbox token</code>).</p>
</body></html>`;
  return (_req: IncomingMessage, res: ServerResponse): void => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(html);
  };
}
