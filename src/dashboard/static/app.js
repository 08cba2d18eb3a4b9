// napbox dashboard: plain JavaScript, no build step. It reads tenants from
// GET /api/events (server-sent events: a snapshot, then changes) and acts
// through the admin API with the session cookie. Every change request carries
// the x-napbox-dashboard header, which napbox requires of cookie sessions.
// Text from the server is only ever set as textContent, never as HTML.
// @ts-check

const PAGE_SIZE = 50;
const CSRF = { 'x-napbox-dashboard': '1' };

/** @type {Map<string, any>} slug -> tenant view */
const tenants = new Map();
/** @type {Map<string, HTMLTableRowElement>} */
const rows = new Map();
let page = 0;
/** @type {string | null} */
let selected = null;
/** @type {EventSource | null} */
let events = null;
/** @type {AbortController | null} */
let buildFollow = null;
/** Whether this page has had a session: a 401 then means it ended; on a first visit it only means "sign in". */
let hadSession = false;

const $ = (/** @type {string} */ id) => /** @type {any} */ (document.getElementById(id));

class ApiError extends Error {
  constructor(/** @type {number} */ status, /** @type {string} */ message) {
    super(message);
    this.status = status;
  }
}

async function api(/** @type {string} */ method, /** @type {string} */ path, /** @type {unknown} */ body) {
  const headers = /** @type {Record<string, string>} */ ({ ...CSRF });
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, { method, headers, credentials: 'same-origin', body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const data = text && res.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text;
  if (res.status === 401 && path !== '/api/session') showSignIn(hadSession ? 'Your session ended: sign in again.' : '');
  if (!res.ok) throw new ApiError(res.status, data?.message || `${res.status} ${res.statusText}`);
  return data;
}

function say(/** @type {string} */ text, isError = false) {
  const status = $('status');
  status.textContent = text;
  status.className = isError ? 'error' : '';
}

// ---- sign-in ---------------------------------------------------------------

function showSignIn(/** @type {string} */ why = '') {
  events?.close();
  events = null;
  $('app').hidden = true;
  $('signout').hidden = true;
  $('signin').hidden = false;
  $('signin-error').textContent = why;
  $('token').focus();
}

$('signin-form').addEventListener('submit', async (/** @type {Event} */ e) => {
  e.preventDefault();
  try {
    await api('POST', '/api/session', { token: $('token').value.trim() });
    $('token').value = '';
    showApp();
  } catch (err) {
    $('signin-error').textContent =
      err instanceof ApiError && err.status === 401 ? 'That token is not valid for this napbox (or it expired).' : String(/** @type {Error} */ (err).message);
  }
});

$('signout').addEventListener('click', async () => {
  await api('DELETE', '/api/session').catch(() => undefined);
  showSignIn();
});

function showApp() {
  hadSession = true;
  $('signin').hidden = true;
  $('app').hidden = false;
  $('signout').hidden = false;
  connect();
}

// ---- live updates ----------------------------------------------------------

function connect() {
  events?.close();
  const source = new EventSource('/api/events');
  events = source;
  source.addEventListener('snapshot', (/** @type {MessageEvent} */ e) => {
    const data = JSON.parse(e.data);
    tenants.clear();
    for (const t of data.tenants) tenants.set(t.slug, t);
    $('live').textContent = 'live';
    render();
  });
  source.addEventListener('tenants', (/** @type {MessageEvent} */ e) => {
    const data = JSON.parse(e.data);
    for (const t of data.changed) tenants.set(t.slug, t);
    for (const slug of data.removed) tenants.delete(slug);
    render();
  });
  source.addEventListener('error', async () => {
    $('live').textContent = 'reconnecting…';
    if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
    // Closed for good: a refused session (401) or napbox gone. Ask which.
    try {
      await api('GET', '/api/tenants');
      setTimeout(connect, 2000);
    } catch {
      /* api() showed the sign-in form on 401 */
    }
  });
}

// ---- the table -------------------------------------------------------------

function visible() {
  const query = $('search').value.trim().toLowerCase();
  const state = $('state-filter').value;
  return [...tenants.values()]
    .filter((t) => !state || t.state === state)
    .filter((t) => !query || t.slug.includes(query) || `${t.reason} ${t.lastStartReason ?? ''} ${t.lastStopReason ?? ''}`.toLowerCase().includes(query))
    .sort((a, b) => a.slug.localeCompare(b.slug));
}

function render() {
  const counts = /** @type {Record<string, number>} */ ({});
  for (const t of tenants.values()) counts[t.state] = (counts[t.state] ?? 0) + 1;
  const parts = Object.entries(counts)
    .sort()
    .map(([s, n]) => `${n} ${s}`);
  $('summary').textContent = `${tenants.size} tenant${tenants.size === 1 ? '' : 's'}${parts.length ? `: ${parts.join(', ')}` : ''}`;

  const list = visible();
  const pages = Math.max(1, Math.ceil(list.length / PAGE_SIZE));
  page = Math.min(page, pages - 1);
  const shown = list.slice(page * PAGE_SIZE, (page + 1) * PAGE_SIZE);
  const body = $('tenants').tBodies[0];
  const wanted = shown.map((t) => rowFor(t));
  // Rebuild the body only when the set or order of rows changed, so a focused button keeps its focus.
  const current = [...body.rows];
  if (current.length !== wanted.length || current.some((r, i) => r !== wanted[i])) body.replaceChildren(...wanted);
  for (const slug of rows.keys()) if (!tenants.has(slug)) rows.delete(slug);
  $('empty').hidden = list.length > 0;
  $('page-info').textContent = `page ${page + 1} of ${pages} (${list.length} shown of ${tenants.size})`;
  $('prev').disabled = page === 0;
  $('next').disabled = page >= pages - 1;
  if (selected) renderDetail();
}

function rowFor(/** @type {any} */ t) {
  let tr = rows.get(t.slug);
  if (!tr) {
    tr = document.createElement('tr');
    tr.dataset.slug = t.slug;
    for (let i = 0; i < 8; i++) tr.appendChild(document.createElement(i === 0 ? 'th' : 'td'));
    tr.cells[0].setAttribute('scope', 'row');
    const link = document.createElement('a');
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
    tr.cells[0].appendChild(link);
    tr.cells[5].className = 'whole'; // image tags are shown whole, wrapped
    tr.cells[7].className = 'actions';
    for (const [action, label] of [
      ['details', 'Details'],
      ['wake', 'Wake'],
      ['stop', 'Stop'],
      ['delete', 'Delete'],
    ]) {
      const button = document.createElement('button');
      button.type = 'button';
      button.dataset.action = action;
      button.textContent = label;
      button.setAttribute('aria-label', `${label} ${t.slug}`);
      tr.cells[7].appendChild(button);
    }
    rows.set(t.slug, tr);
  }
  const [name, state, activity, holds, reasons, image, wakes] = tr.cells;
  const link = /** @type {HTMLAnchorElement} */ (name.firstChild);
  link.href = t.url;
  link.textContent = t.slug;
  const pausedFor = t.paused
    ? `since ${ago(t.paused.since)}${t.paused.memoryBytes === null ? '' : `, ${Math.round(t.paused.memoryBytes / 1024 ** 2)} MiB kept`}`
    : '';
  setText(state, t.state, t.state === 'failed' || t.state === 'starting' ? t.reason : pausedFor);
  state.className = `state state-${t.state}`;
  setText(activity, t.lastActivity ? ago(t.lastActivity) : 'never', t.lastActivity ? new Date(t.lastActivity).toLocaleTimeString() : '');
  setText(holds, t.holds.length ? t.holds.join(', ') : '—');
  setText(reasons, t.lastStartReason ? `started: ${t.lastStartReason}` : 'never started', t.lastStopReason ? `stopped: ${t.lastStopReason}` : '');
  const build = t.build ? `build ${t.build.state}${t.build.error ? `: ${t.build.error}` : ''}` : '';
  setText(image, t.image, [t.nextImage ? `next: ${t.nextImage}` : '', build].filter(Boolean).join('\n'));
  const recent = t.recentWakes.slice(-5).map((/** @type {any} */ w) => (w.outcome === 'ready' ? `${w.ms}` : `${w.outcome} ${w.ms}`));
  setText(wakes, recent.length ? recent.join(' · ') : '—');
  const buttons = tr.cells[7].querySelectorAll('button');
  buttons[1].disabled = t.state === 'running' || t.state === 'starting';
  buttons[2].disabled = t.state === 'stopped';
  return tr;
}

function setText(/** @type {HTMLElement} */ cell, /** @type {string} */ main, sub = '') {
  const want = `${main}\n${sub}`;
  if (cell.dataset.text === want) return;
  cell.dataset.text = want;
  // Long reasons (a failed wake's log lines) are clipped to two lines; the whole text is the cell's tooltip, and the
  // tenant's details show it in full. Image cells (class whole) are not clipped.
  const top = document.createElement('span');
  top.className = 'clip';
  top.textContent = main;
  cell.replaceChildren(top);
  if (sub) {
    const small = document.createElement('small');
    small.className = 'clip';
    small.textContent = sub;
    cell.appendChild(small);
  }
  cell.title = sub ? `${main}\n${sub}` : main;
}

function ago(/** @type {string} */ iso) {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

$('tenants').addEventListener('click', async (/** @type {MouseEvent} */ e) => {
  const button = /** @type {HTMLElement} */ (e.target).closest('button');
  const slug = button?.closest('tr')?.dataset.slug;
  if (!button || !slug) return;
  const action = button.dataset.action;
  if (action === 'details') return openDetail(slug);
  if (action === 'delete' && !confirm(`Delete tenant ${slug} and its container? Its workspace volume is removed too.`)) return;
  button.disabled = true;
  say(`${action} ${slug}…`);
  try {
    if (action === 'wake') await api('POST', `/api/tenants/${slug}/wake`);
    if (action === 'stop') await api('POST', `/api/tenants/${slug}/stop`);
    if (action === 'delete') {
      await api('DELETE', `/api/tenants/${slug}`);
      if (selected === slug) closeDetail();
    }
    say(`${action} ${slug}: done`);
  } catch (err) {
    say(`${action} ${slug} failed: ${/** @type {Error} */ (err).message}`, true);
  } finally {
    button.disabled = false;
    const t = tenants.get(slug);
    if (t) rowFor(t);
  }
});

$('create-form').addEventListener('submit', async (/** @type {Event} */ e) => {
  e.preventDefault();
  const slug = $('new-slug').value.trim();
  try {
    const t = await api('POST', '/api/tenants', { slug });
    tenants.set(t.slug, t);
    $('new-slug').value = '';
    say(`created ${slug}: ${t.url}`);
    $('search').value = slug;
    page = 0;
    render();
  } catch (err) {
    say(`create ${slug} failed: ${/** @type {Error} */ (err).message}`, true);
  }
});

$('search').addEventListener('input', () => {
  page = 0;
  render();
});
$('state-filter').addEventListener('change', () => {
  page = 0;
  render();
});
$('prev').addEventListener('click', () => {
  page = Math.max(0, page - 1);
  render();
});
$('next').addEventListener('click', () => {
  page += 1;
  render();
});

// ---- one tenant: packages, build log, chat, output -----------------------------

async function openDetail(/** @type {string} */ slug) {
  selected = slug;
  buildFollow?.abort();
  $('detail').hidden = false;
  $('detail-slug').textContent = slug;
  $('build-log').textContent = '';
  $('build-state').textContent = '';
  $('container-log').textContent = '';
  $('chat-log').replaceChildren();
  renderDetail();
  $('detail-title').scrollIntoView({ block: 'start' });
  // The lists are not editable until they are loaded: what is typed before would be overwritten by them.
  setPackagesEditable(false);
  try {
    const lists = await api('GET', `/api/tenants/${slug}/packages`);
    if (selected !== slug) return; // another tenant was opened meanwhile
    $('apt').value = (lists.apt ?? []).join('\n');
    $('npm').value = (lists.npm ?? []).join('\n');
    setPackagesEditable(true);
    const t = tenants.get(slug);
    if (t?.build && (t.build.state === 'queued' || t.build.state === 'building')) void followBuild(t.build.id);
    await loadChat();
  } catch (err) {
    say(`could not load ${slug}: ${/** @type {Error} */ (err).message}`, true);
  }
}

function setPackagesEditable(/** @type {boolean} */ editable) {
  for (const field of [$('apt'), $('npm'), $('packages-form').querySelector('button[type=submit]')]) {
    if (field) /** @type {HTMLTextAreaElement | HTMLButtonElement} */ (field).disabled = !editable;
  }
}

function renderDetail() {
  const t = selected ? tenants.get(selected) : undefined;
  if (!t) return;
  $('detail-url').href = t.url;
  $('detail-url').textContent = t.url;
  const entries = detailEntries(t);
  const list = $('detail-settings');
  const want = JSON.stringify(entries);
  if (list.dataset.text === want) return; // unchanged: keep a selection the reader made
  list.dataset.text = want;
  list.replaceChildren(
    ...entries.flatMap(([name, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = name;
      const dd = document.createElement('dd');
      dd.textContent = value;
      return [dt, dd];
    }),
  );
}

/** Settings shown with their default when the tenant has none of its own. */
const DEFAULTS = /** @type {Record<string, string>} */ ({ app: "napbox's built-in page", provider: 'echo', visibility: 'public' });
/** Settings shown first, in this order; every other key of the view's config follows, whatever it is. */
const FIRST = ['app', 'provider', 'visibility', 'port', 'env', 'wakeTimeout', 'readinessPath', 'startingPage'];

/** The tenant's state, reasons and images in full, then its settings (read generically from its config). */
function detailEntries(/** @type {any} */ t) {
  /** @type {Array<[string, string]>} */
  const entries = [['state', `${t.state}: ${t.reason}`]];
  if (t.lastStartReason) entries.push(['last start', t.lastStartReason]);
  if (t.lastStopReason) entries.push(['last stop', t.lastStopReason]);
  entries.push(['image', t.image]);
  if (t.nextImage) entries.push(['next image', `${t.nextImage} (from its next start)`]);
  if (t.build) entries.push(['build', `${t.build.id}: ${t.build.state}${t.build.error ? `: ${t.build.error}` : ''}`]);
  const config = t.config ?? {};
  const keys = [
    ...FIRST.filter((k) => k in config || k in DEFAULTS),
    ...Object.keys(config)
      .filter((k) => !FIRST.includes(k))
      .sort(),
  ];
  for (const key of keys) entries.push([key, key in config ? settingText(key, config[key]) : `${DEFAULTS[key]} (default)`]);
  return entries;
}

function settingText(/** @type {string} */ key, /** @type {unknown} */ value) {
  const v = /** @type {any} */ (value);
  if (key === 'app' && Array.isArray(v?.command)) return argv(v.command);
  if (key === 'provider' && v && typeof v === 'object') {
    if (v.kind === 'command' && Array.isArray(v.command)) return `command: ${argv(v.command)}${v.timeoutMs ? ` (timeout ${v.timeoutMs} ms)` : ''}`;
    if (v.kind === 'openai') return `openai: ${v.model} at ${v.baseUrl}${v.apiKey ? ', key set' : ''}`;
    return String(v.kind);
  }
  if (key === 'env' && v && typeof v === 'object' && !Array.isArray(v)) {
    const names = Object.keys(v).sort();
    return names.length ? names.map((n) => `${n}=${v[n]}`).join('\n') : '(none)';
  }
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v, null, 1).replace(/\n\s*/g, ' ');
}

/** An argv as a person would type it: arguments with spaces or quotes in JSON quotes. */
function argv(/** @type {unknown[]} */ args) {
  return args.map((a) => (typeof a === 'string' && /^[^\s"'\\]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

function closeDetail() {
  selected = null;
  buildFollow?.abort();
  $('detail').hidden = true;
}
$('detail-close').addEventListener('click', closeDetail);

const lines = (/** @type {string} */ text) =>
  text
    .split(/[\s,]+/)
    .map((s) => s.trim())
    .filter(Boolean);

$('packages-form').addEventListener('submit', async (/** @type {Event} */ e) => {
  e.preventDefault();
  const slug = selected;
  if (!slug) return;
  const apply = $('apply-now').checked ? '?apply=now' : '';
  $('build-log').textContent = '';
  try {
    const build = await api('PUT', `/api/tenants/${slug}/packages${apply}`, { apt: lines($('apt').value), npm: lines($('npm').value) });
    if (build.state === 'ready') {
      $('build-state').textContent = `build ${build.id}: ready${build.cached ? ' (image already built)' : ''}`;
      return;
    }
    void followBuild(build.id);
  } catch (err) {
    $('build-state').textContent = `not saved: ${/** @type {Error} */ (err).message}`;
  }
});

async function followBuild(/** @type {string} */ id) {
  buildFollow?.abort();
  const abort = new AbortController();
  buildFollow = abort;
  const log = $('build-log');
  $('build-state').textContent = `build ${id}: building…`;
  try {
    const res = await fetch(`/api/builds/${id}/log?follow=1`, { credentials: 'same-origin', signal: abort.signal });
    if (!res.ok || !res.body) throw new Error(`${res.status} ${res.statusText}`);
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
      log.append(value);
      if (atBottom) log.scrollTop = log.scrollHeight;
    }
    const build = await api('GET', `/api/builds/${id}`);
    $('build-state').textContent = `build ${id}: ${build.state}${build.error ? `: ${build.error}` : ''}`;
  } catch (err) {
    if (!abort.signal.aborted) $('build-state').textContent = `build log unavailable: ${/** @type {Error} */ (err).message}`;
  }
}

async function loadChat() {
  const slug = selected;
  if (!slug) return;
  const session = $('chat-session').value.trim();
  const data = await api('GET', `/api/tenants/${slug}/messages?session=${encodeURIComponent(session)}`);
  $('chat-log').replaceChildren();
  for (const m of data.messages) showMessage(m);
}
$('chat-session').addEventListener('change', () => loadChat().catch((err) => say(String(err.message), true)));

function showMessage(/** @type {any} */ m) {
  let item = document.getElementById(`msg-${m.id}`);
  if (!item) {
    item = document.createElement('li');
    item.id = `msg-${m.id}`;
    $('chat-log').appendChild(item);
  }
  const you = document.createElement('div');
  you.textContent = `you: ${m.text}`;
  const answer = document.createElement('div');
  if (m.state === 'done') {
    answer.className = 'out';
    answer.textContent = `${selected}: ${m.reply}`;
  } else if (m.state === 'failed') {
    answer.className = 'failed';
    answer.textContent = `failed: ${m.reason ?? 'no reason given'}`;
  } else {
    answer.className = 'muted';
    answer.textContent = `${m.state}${m.tries ? ` (try ${m.tries})` : ''}…`;
  }
  item.replaceChildren(you, answer);
}

$('chat-form').addEventListener('submit', async (/** @type {Event} */ e) => {
  e.preventDefault();
  const slug = selected;
  if (!slug) return;
  const text = $('chat-text').value;
  const session = $('chat-session').value.trim();
  try {
    let message = await api('POST', `/api/tenants/${slug}/messages`, { text, session });
    $('chat-text').value = '';
    showMessage(message);
    // One long-poll at a time until the reply (or the failure) is stored.
    for (let i = 0; i < 20 && (message.state === 'pending' || message.state === 'processing'); i++) {
      message = await api('GET', `/api/tenants/${slug}/messages/${message.id}?wait=25s`);
      showMessage(message);
    }
  } catch (err) {
    say(`message to ${slug} failed: ${/** @type {Error} */ (err).message}`, true);
  }
});

$('logs-show').addEventListener('click', async () => {
  if (!selected) return;
  try {
    $('container-log').textContent = (await api('GET', `/api/tenants/${selected}/logs?tail=100`)) || '(no output: the tenant has no container yet)';
  } catch (err) {
    $('container-log').textContent = `unavailable: ${/** @type {Error} */ (err).message}`;
  }
});

// "12s ago" ages without news from the server: redraw the visible page now and then (no request).
setInterval(() => {
  if (!$('app').hidden && document.visibilityState === 'visible') render();
}, 15_000);

// ---- start -------------------------------------------------------------------

api('GET', '/api/tenants').then(
  (data) => {
    for (const t of data.tenants) tenants.set(t.slug, t);
    showApp();
    render();
  },
  (err) => {
    if (!(err instanceof ApiError && err.status === 401)) showSignIn(`napbox did not answer: ${err.message}`);
  },
);
