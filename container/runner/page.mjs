// The built-in page: names the tenant, and has a chat box that talks to
// napbox's chat socket, /_napbox/chat (napbox serves it, not this container).
// The socket's path is computed from the page's own location, so the page
// works both at http://<slug>.<domain>/ and at http://<napbox>/t/<slug>/.
// Everything shown comes from frames and is set as text, never as HTML.

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

// Runs in the browser. Plain JS, no framework; kept free of `${` so it can sit in a template literal.
const CHAT_SCRIPT = `
(function () {
  var tenant = document.body.getAttribute('data-tenant');
  var log = document.getElementById('chat-log');
  var status = document.getElementById('chat-status');
  var form = document.getElementById('chat-form');
  var input = document.getElementById('chat-text');
  var button = document.getElementById('chat-send');
  var storageKey = 'napbox.chat.session.' + tenant;

  function randomSession() {
    var bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return 's' + Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }
  var session;
  try {
    session = localStorage.getItem(storageKey);
    if (!session || !/^[A-Za-z0-9_-]{1,64}$/.test(session)) {
      session = randomSession();
      localStorage.setItem(storageKey, session);
    }
  } catch (e) {
    session = session || randomSession(); // storage disabled: a session for this page only
  }

  // /t/<slug>/... when napbox serves the tenant under a path, / when under its own host name.
  var prefix = '/t/' + encodeURIComponent(tenant) + '/';
  var underPath = location.pathname.indexOf(prefix) === 0 || location.pathname === prefix.slice(0, -1);
  var base = underPath ? prefix : '/';
  var url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + base + '_napbox/chat?session=' + encodeURIComponent(session);

  var items = {}; // message id -> list item
  var pending = []; // items sent and not yet accepted, in order

  function addItem(direction, text) {
    var li = document.createElement('li');
    li.className = direction;
    var who = document.createElement('strong');
    who.textContent = direction === 'in' ? 'You: ' : 'Agent: ';
    var body = document.createElement('span');
    body.className = 'text';
    body.textContent = text;
    li.appendChild(who);
    li.appendChild(body);
    log.appendChild(li);
    li.scrollIntoView({ block: 'nearest' });
    return li;
  }
  function answerItem(id) {
    var key = 'out:' + id;
    if (!items[key]) items[key] = addItem('out', '');
    return items[key];
  }
  function setText(li, text) { li.querySelector('.text').textContent = text; }
  function setStatus(text) { status.textContent = text; }

  var socket;
  var retryMs = 1000;
  function connect() {
    setStatus('Connecting…');
    socket = new WebSocket(url);
    socket.onopen = function () {
      retryMs = 1000;
      button.disabled = false;
      setStatus('Connected (session ' + session + ').');
    };
    socket.onclose = function () {
      button.disabled = true;
      setStatus('Disconnected; trying again in ' + Math.round(retryMs / 1000) + ' s.');
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 15000);
    };
    socket.onmessage = function (event) {
      var frame;
      try { frame = JSON.parse(event.data); } catch (e) { return; }
      if (!frame || typeof frame !== 'object') return;
      if (frame.type === 'history' && Array.isArray(frame.messages)) {
        log.textContent = '';
        items = {};
        pending = [];
        frame.messages.forEach(function (m) {
          var li = addItem(m.direction === 'out' ? 'out' : 'in', String(m.text));
          items[(m.direction === 'out' ? 'out:' : 'in:') + m.id] = li;
          if (m.direction === 'in' && m.state === 'failed' && !items['out:' + m.id]) { answerItem(m.id).classList.add('failed'); setText(answerItem(m.id), 'failed'); }
        });
      } else if (frame.type === 'accepted') {
        if (frame.session !== undefined && frame.session !== session) return;
        if (items['in:' + frame.id]) return; // already shown (a duplicate)
        // Every client of the session hears of every message: match it to one sent from here, or show it.
        var at = pending.findIndex(function (li) { return li.querySelector('.text').textContent === String(frame.text); });
        var sent = at >= 0 ? pending.splice(at, 1)[0] : addItem('in', String(frame.text));
        sent.classList.remove('sending');
        items['in:' + frame.id] = sent;
      } else if (frame.type === 'error') {
        var refused = pending.shift();
        if (refused) { refused.classList.remove('sending'); refused.classList.add('failed'); }
        setStatus('Not sent: ' + String(frame.message));
      } else if (frame.type === 'progress') {
        var li = answerItem(frame.id);
        li.classList.add('working');
        setText(li, li.querySelector('.text').textContent + String(frame.text));
      } else if (frame.type === 'reply') {
        var done = answerItem(frame.id);
        done.classList.remove('working');
        setText(done, String(frame.text));
      } else if (frame.type === 'failed') {
        var failed = answerItem(frame.id);
        failed.classList.remove('working');
        failed.classList.add('failed');
        setText(failed, 'failed: ' + String(frame.message));
      }
    };
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) return;
    if (!socket || socket.readyState !== WebSocket.OPEN) { setStatus('Not connected: your message was not sent.'); return; }
    socket.send(JSON.stringify({ type: 'send', text: text, session: session }));
    var li = addItem('in', text);
    li.classList.add('sending');
    pending.push(li);
    input.value = '';
    input.focus();
  });
  input.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey) { event.preventDefault(); form.requestSubmit(); }
  });
  connect();
})();
`;

export function page(tenant) {
  const name = escapeHtml(tenant);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${name} · napbox</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
code{background:#f3f3f3;padding:0 .2em}
#chat-log{list-style:none;padding:0;margin:1rem 0;max-height:24rem;overflow-y:auto;border:1px solid #ccc;border-radius:4px}
#chat-log:empty{display:none}
#chat-log li{padding:.4rem .6rem;white-space:pre-wrap;border-bottom:1px solid #eee}
#chat-log li.out{background:#f6f8fa}
#chat-log li.sending,#chat-log li.working{opacity:.7}
#chat-log li.failed{color:#a00}
#chat-form textarea{width:100%;box-sizing:border-box;font:inherit}
#chat-status{color:#555;font-size:.9em}
</style>
</head><body data-tenant="${name}">
<h1>Tenant <span id="tenant">${name}</span></h1>
<p>This page is served by the <code>${name}</code> container, started by napbox when it was first needed.</p>
<section aria-labelledby="chat-heading">
<h2 id="chat-heading">Chat</h2>
<ol id="chat-log" aria-live="polite" aria-label="Conversation"></ol>
<form id="chat-form">
<label for="chat-text">Message</label>
<textarea id="chat-text" name="text" rows="3" required></textarea>
<button id="chat-send" type="submit" disabled>Send</button>
</form>
<p id="chat-status" role="status">Not connected.</p>
</section>
<script>${CHAT_SCRIPT}</script>
</body></html>
`;
}
