'use strict';
// Renders /api/v1/status. Names, branches, paths, commit summaries and delivery details are
// hostile input: every value goes through textContent or an attribute property, never HTML,
// and only https:// links the daemon composed become hrefs.
function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}
function cell(row, text, cls) {
  const td = el('td', text, cls);
  row.appendChild(td);
  return td;
}
function link(text, url) {
  if (typeof url !== 'string' || !url.startsWith('https://')) return el('span', text);
  const a = el('a', text);
  a.href = url;
  a.rel = 'noopener noreferrer';
  a.target = '_blank';
  return a;
}
function age(seconds) {
  if (typeof seconds !== 'number' || seconds < 0) return 'never';
  const s = Math.floor(seconds);
  if (s < 120) return s + ' s ago';
  if (s < 7200) return Math.floor(s / 60) + ' min ago';
  if (s < 172800) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min ago';
  return Math.floor(s / 86400) + ' days ago';
}
function short(commit) { return commit ? String(commit).substring(0, 12) : '—'; }
function stateOf(b) {
  if (b.state_error || b.last_error) return ['error', 'error'];
  if ((b.conflicts || []).some(c => !c.resolved)) return ['conflict', 'error'];
  if (b.running) return ['syncing', 'busy'];
  if (b.queued) return ['queued', 'busy'];
  if (!b.last_synced_commit) return ['not synced yet', 'busy'];
  return ['in sync', 'ok'];
}
function table(headers, rows) {
  const t = el('table');
  const head = el('tr');
  for (const h of headers) head.appendChild(el('th', h));
  const thead = el('thead');
  thead.appendChild(head);
  t.appendChild(thead);
  const body = el('tbody');
  for (const r of rows) body.appendChild(r);
  t.appendChild(body);
  return t;
}
function summaryRow(b) {
  const row = el('tr');
  row.id = 'binding-' + b.name;
  cell(row, b.name);
  const [state, cls] = stateOf(b);
  cell(row, state, cls).setAttribute('data-state', state);
  cell(row, b.local + ' ⇄ ' + b.remote + ' (' + b.branch + (b.path ? ':' + b.path : '') + ', ' + b.direction + ')');
  const last = cell(row, '');
  if (b.last_synced_commit) {
    last.appendChild(link(short(b.last_synced_commit), b.last_synced_commit_url));
    last.appendChild(document.createTextNode(' at ' + b.last_success_time));
  } else {
    last.textContent = 'never';
  }
  cell(row, age(b.seconds_since_success), 'since-success');
  cell(row, String(b.pending_local_changes || 0));
  cell(row, b.state_error || b.last_error || '—', b.state_error || b.last_error ? 'error' : '');
  const open = (b.conflicts || []).filter(c => !c.resolved);
  const td = cell(row, open.length ? '' : '—', open.length ? 'conflict' : '');
  for (const c of open) {
    const line = el('div');
    line.appendChild(link(c.branch, c.branch_url));
    if (c.commit) line.appendChild(link('commit ' + short(c.commit), c.commit_url));
    line.appendChild(el('span', (c.files || []).join(', '), 'muted'));
    td.appendChild(line);
  }
  return row;
}
function passRows(b) {
  return (b.passes || []).map(p => {
    const row = el('tr');
    cell(row, p.time);
    cell(row, p.ok ? p.direction : 'failed', p.ok ? '' : 'error');
    cell(row, '').appendChild(link(short(p.commit), p.commit_url));
    cell(row, p.result, p.ok ? '' : 'error');
    cell(row, (p.duration_ms / 1000).toFixed(2) + ' s');
    return row;
  });
}
function deliveryRows(b) {
  return (b.deliveries || []).map(d => {
    const row = el('tr');
    cell(row, d.time);
    cell(row, (d.provider || '-') + ' ' + (d.event || '-'));
    cell(row, d.status + ' ' + d.verdict, d.status >= 400 ? 'error' : '');
    cell(row, d.detail);
    return row;
  });
}
function detail(b) {
  const s = el('section');
  s.id = 'detail-' + b.name;
  s.appendChild(el('h2', b.name));
  s.appendChild(el('h3', 'Last passes'));
  const passes = passRows(b);
  s.appendChild(passes.length ? table(['time', 'direction', 'commit', 'result', 'duration'], passes)
                              : el('div', 'no pass since the daemon started', 'muted'));
  s.appendChild(el('h3', 'Webhook deliveries to connector ' + b.connector));
  const deliveries = deliveryRows(b);
  s.appendChild(deliveries.length ? table(['time', 'event', 'answer', 'detail'], deliveries)
                                  : el('div', 'none recorded', 'muted'));
  return s;
}
function render(data) {
  const rows = [], details = [];
  for (const b of data.bindings) {
    rows.push(summaryRow(b));
    details.push(detail(b));
  }
  document.getElementById('bindings').replaceChildren(...rows);
  document.getElementById('details').replaceChildren(...details);
  document.getElementById('updated').textContent =
      data.bindings.length + ' binding(s); updated ' + new Date().toLocaleTimeString();
  focusLinked();
}
// A commit status links to its binding's section (/#detail-<name>); the section only exists
// once rendered, so the page marks it and scrolls to it itself (once).
let scrolled = false;
function focusLinked() {
  let id = '';
  try { id = decodeURIComponent(location.hash.slice(1)); } catch (e) { return; }
  const target = id ? document.getElementById(id) : null;
  if (!target || target.tagName !== 'SECTION') return;
  target.classList.add('target');
  if (!scrolled) target.scrollIntoView();
  scrolled = true;
}
// One row per binding of each live instance (/api/v1/fleet); an instance without bindings
// gets one row too.
function fleetRows(data) {
  const rows = [];
  for (const i of data.instances || []) {
    const bindings = (i.bindings || []).length ? i.bindings : [null];
    bindings.forEach((b, n) => {
      const row = el('tr');
      cell(row, n === 0 ? i.name : '');
      cell(row, n === 0 ? ((i.selectors || []).join(', ') || '(none)') : '', 'muted');
      if (!b) {
        cell(row, 'no bindings', 'muted');
        for (let k = 0; k < 3; ++k) cell(row, '');
      } else {
        row.id = 'fleet-' + i.name + '-' + b.name;
        cell(row, b.name);
        cell(row, short(b.commit));
        const state = String(b.state || '');
        cell(row, state, state === 'at head' ? 'ok' : state.startsWith('behind') ? 'busy' : 'muted')
            .setAttribute('data-state', state);
        cell(row, b.error || '—', b.error ? 'error' : '');
      }
      rows.push(row);
    });
  }
  return rows;
}
async function refreshFleet() {
  const res = await fetch('/api/v1/fleet', {cache: 'no-store'});
  if (res.status === 404) return;  // a standalone daemon
  document.getElementById('fleet-view').hidden = false;
  const note = document.getElementById('fleet-updated');
  if (!res.ok) {
    note.textContent = 'cannot read the fleet: HTTP ' + res.status;
    return;
  }
  const data = await res.json();
  document.getElementById('fleet').replaceChildren(...fleetRows(data));
  note.textContent = (data.instances || []).length + ' live instance(s); ' +
      (data.read_at ? 'read from etcd at ' + data.read_at : 'not read from etcd yet') +
      (data.error ? '; etcd: ' + data.error : '') +
      '. The head is the newest commit a webhook delivery named; "head unknown" until one arrives.';
}
async function refresh() {
  try {
    const res = await fetch('/api/v1/status', {cache: 'no-store'});
    if (!res.ok) throw new Error('HTTP ' + res.status);
    render(await res.json());
    await refreshFleet();
  } catch (e) {
    document.getElementById('updated').textContent = 'cannot reach the daemon: ' + e.message;
  }
}
refresh();
setInterval(refresh, 3000);
