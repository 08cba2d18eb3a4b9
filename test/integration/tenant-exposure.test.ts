// What napbox shows strangers of a tenant, and whom it lets in, over plain
// HTTP against a real napbox and the real engine: a failed wake tells an
// anonymous visitor a short reason and a request id (the logs go to the
// operator); message text with control characters is refused; a private
// tenant's session is taken from its own pages only, and signing out
// revokes it; the chat socket is opened only from the tenant's own origin;
// pages under /t/ are sandboxed and private tenants are signed in to on
// their own host.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { api, removeInstall, request, startNapbox, tenantHost, type NapboxProcess } from '../helpers/napbox-process.js';
import { eventually, until } from '../helpers/wait.js';

const SECRET = 'SECRET-LOG-LINE-4711';
const LOOSE_APP = `require('http').createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/html', 'cross-origin-resource-policy': 'cross-origin', 'content-security-policy': 'frame-ancestors *' });
  res.end('<p>secret app</p>');
}).listen(Number(process.env.PORT), '0.0.0.0');`;

/** Opens a WebSocket through napbox with these headers; resolves with the first frame, or the refused status. */
function socket(nb: NapboxProcess, path: string, headers: Record<string, string>): Promise<{ opened: boolean; status?: number; body?: string; first?: any }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${nb.port}${path}`, { headers });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ opened: false, status: res.statusCode ?? 0, body }));
    });
    ws.once('message', (data) => {
      resolve({ opened: true, first: JSON.parse(data.toString()) });
      ws.close();
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

/** napbox's log line that names `text`, waiting a little for the log to be written. */
async function logLine(nb: NapboxProcess, text: string): Promise<string | undefined> {
  const find = () =>
    nb
      .output()
      .split('\n')
      .find((l) => l.includes(text));
  return eventually(find, (line) => line !== undefined, 3000, `a log line with ${text}`).catch(() => undefined);
}

describe('what strangers see of a tenant, and whom it lets in', () => {
  let nb: NapboxProcess;
  let signInPath: string;
  before(async () => {
    nb = await startNapbox();
    for (const body of [
      // Its app writes a line to its log and exits: every wake fails.
      { slug: 'broken', app: { command: ['sh', '-c', `echo ${SECRET} >&2; exit 3`] } },
      { slug: 'talk' },
      // Its app would let any origin load and frame its answers; napbox's headers win.
      { slug: 'secret', visibility: 'private', app: { command: ['node', '-e', LOOSE_APP] } },
    ])
      assert.equal((await api(nb, 'POST', '/api/tenants', body)).status, 201);
    const link = new URL((await api(nb, 'POST', '/api/tenants/secret/open')).json.url);
    signInPath = `${link.pathname}${link.search}`;
  });
  after(async () => {
    await nb?.stop();
    if (nb) await removeInstall(nb.installId);
  });

  it("answers a failed wake with a short reason and a request id, never the container's log lines; the operator gets them", async () => {
    const bodies: string[] = [];
    for (const options of [{ host: tenantHost(nb, 'broken') }, { path: '/t/broken/' }, { host: tenantHost(nb, 'broken') }]) {
      const res = await request(nb.port, options);
      assert.equal(res.status, 503, res.body);
      assert.ok(Number(res.headers['retry-after']) >= 1, 'Retry-After kept');
      const body = JSON.parse(res.body);
      assert.deepEqual(Object.keys(body).sort(), ['error', 'message', 'requestId']);
      assert.match(body.error, /^(wake_failed|circuit_open)$/);
      assert.ok(body.message.includes(body.requestId), body.message);
      assert.ok(body.message.length < 200, body.message);
      assert.doesNotMatch(res.body, new RegExp(`${SECRET}|exit code`));
      if (options.path) assert.match(String(res.headers['content-security-policy']), /^sandbox /, "napbox's own answers under /t/ are sandboxed too");
      bodies.push(res.body);
      // The operator finds the whole error in napbox's log under the request id.
      const line = await logLine(nb, body.requestId);
      assert.ok(line, `a log line with ${body.requestId}`);
      if (body.error === 'wake_failed') assert.match(line, new RegExp(SECRET));
    }
    const upgrade = await socket(nb, '/ws', { host: tenantHost(nb, 'broken') });
    assert.equal(upgrade.status, 503);
    assert.deepEqual(Object.keys(JSON.parse(upgrade.body!)).sort(), ['error', 'message', 'requestId']);
    assert.doesNotMatch(upgrade.body!, new RegExp(SECRET));
    // The operator's views keep the details.
    assert.match((await api(nb, 'GET', '/api/tenants/broken')).json.reason, new RegExp(SECRET));
    const wake = await api(nb, 'POST', '/api/tenants/broken/wake');
    assert.equal(wake.status, 503);
    assert.match(wake.json.logs, new RegExp(SECRET));
  });

  it('refuses message text with NUL or other control characters, and stores nothing', async () => {
    for (const text of ['\u0000', 'a\u0000b', 'bell\u0007', 'esc\u001b[31m']) {
      const res = await api(nb, 'POST', '/api/tenants/talk/messages', { text, session: 'ctl' });
      assert.equal(res.status, 400, JSON.stringify(text));
      assert.match(res.json.message, /^invalid text: .*control characters/);
    }
    const chat = new WebSocket(`ws://127.0.0.1:${nb.port}/_napbox/chat?session=ctl`, { headers: { host: tenantHost(nb, 'talk') } });
    const frames: any[] = [];
    chat.on('message', (d) => frames.push(JSON.parse(d.toString())));
    await new Promise((resolve, reject) => chat.once('open', resolve).once('error', reject));
    chat.send(JSON.stringify({ type: 'send', text: 'nul\u0000' }));
    await until(() => frames.some((f) => f.type === 'error'), 5000, 'an error frame on the chat socket');
    chat.close();
    assert.match(frames.find((f) => f.type === 'error')?.message ?? '', /invalid text/);
    assert.deepEqual((await api(nb, 'GET', '/api/tenants/talk/messages?session=ctl')).json.messages, [], 'nothing stored');
    assert.equal(
      (await api(nb, 'POST', '/api/tenants/talk/messages', { text: 'tab\there\r\nnew line', session: 'ctl2' })).status,
      202,
      'tab, CR and LF are text',
    );
  });

  it("opens the chat socket only from the tenant's own origin", async () => {
    const own = `http://${tenantHost(nb, 'talk')}`;
    const sibling = `http://${tenantHost(nb, 'evil')}`;
    assert.equal((await socket(nb, '/_napbox/chat', { host: tenantHost(nb, 'talk') })).opened, true, 'no Origin: not a browser');
    assert.equal((await socket(nb, '/_napbox/chat', { host: tenantHost(nb, 'talk'), origin: own })).opened, true);
    for (const origin of [sibling, 'null', `http://127.0.0.1:${nb.port}`]) {
      const refused = await socket(nb, '/_napbox/chat', { host: tenantHost(nb, 'talk'), origin });
      assert.equal(refused.status, 403, origin);
    }
    // Under /t/ the page is sandboxed (Origin: null): taken for a public tenant, where no credential is at stake.
    assert.equal((await socket(nb, '/t/talk/_napbox/chat', { origin: 'null' })).opened, true);
    assert.equal((await socket(nb, '/t/talk/_napbox/chat', { origin: sibling })).status, 403);
  });

  it("takes a private tenant's session from its own pages only, and sends /t/ sign-ins to the tenant's host", async () => {
    const underPath = await request(nb.port, { path: `/t/secret${signInPath}` });
    assert.equal(underPath.status, 303);
    assert.equal(underPath.headers.location, `http://${tenantHost(nb, 'secret')}${signInPath}`);
    assert.equal(underPath.headers['set-cookie'], undefined);
    const signIn = await request(nb.port, { host: tenantHost(nb, 'secret'), path: signInPath });
    assert.equal(signIn.status, 303);
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const status = (headers: Record<string, string>) =>
      request(nb.port, { host: tenantHost(nb, 'secret'), path: '/_napbox/status', headers: { cookie, ...headers } });
    assert.equal((await status({})).status, 200);
    assert.equal((await status({ origin: `http://${tenantHost(nb, 'secret')}` })).status, 200);
    assert.equal((await status({ 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' })).status, 200, 'a link followed');
    const foreign: Array<Record<string, string>> = [
      { origin: `http://${tenantHost(nb, 'evil')}` },
      { origin: 'null' },
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'script' },
      { 'sec-fetch-site': 'same-site', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'iframe' },
    ];
    for (const headers of foreign) {
      const res = await status(headers);
      assert.equal(res.status, 401, JSON.stringify(headers));
    }
    const ws = await socket(nb, '/_napbox/chat', { host: tenantHost(nb, 'secret'), cookie, origin: `http://${tenantHost(nb, 'evil')}` });
    assert.equal(ws.opened, false, 'a sibling cannot open the chat with the session');
    // The app's own answers: only its own pages may load or frame them.
    const page = await request(nb.port, { host: tenantHost(nb, 'secret'), headers: { cookie } });
    assert.equal(page.status, 200);
    assert.match(page.body, /secret app/);
    assert.equal(page.headers['cross-origin-resource-policy'], 'same-origin', "napbox's, in place of the app's");
    assert.match(String(page.headers['content-security-policy']), /frame-ancestors \*, frame-ancestors 'self'/, "the app's and napbox's: both apply");
  });

  it("revokes a private tenant's session when it signs out", async () => {
    const signIn = await request(nb.port, { host: tenantHost(nb, 'secret'), path: signInPath });
    const cookie = String(signIn.headers['set-cookie']).split(';')[0]!;
    const status = () => request(nb.port, { host: tenantHost(nb, 'secret'), path: '/_napbox/status', headers: { cookie } });
    assert.equal((await status()).status, 200);
    const forged = await request(nb.port, {
      method: 'POST',
      host: tenantHost(nb, 'secret'),
      path: '/_napbox/signout',
      headers: { cookie, origin: `http://${tenantHost(nb, 'evil')}` },
    });
    assert.equal(forged.status, 401);
    assert.equal((await status()).status, 200, 'a sign-out from another origin changed nothing');
    const out = await request(nb.port, {
      method: 'POST',
      host: tenantHost(nb, 'secret'),
      path: '/_napbox/signout',
      headers: { cookie, origin: `http://${tenantHost(nb, 'secret')}` },
    });
    assert.equal(out.status, 200);
    assert.equal(JSON.parse(out.body).signedOut, true);
    assert.match(String(out.headers['set-cookie']), /^napbox_session=; Path=\/; Max-Age=0/);
    assert.equal((await status()).status, 401, 'the copied cookie stopped working');
  });
});
