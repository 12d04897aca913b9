#include "daemon/status_page.h"

namespace gitsyncd {

std::string_view StatusPageHtml() {
  return R"html(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>gitsyncd status</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; }
  #updated { color: #666; margin-bottom: 1em; }
  table { border-collapse: collapse; width: 100%; }
  th, td { text-align: left; padding: .4em .6em; border-bottom: 1px solid #ddd; vertical-align: top; }
  th { background: #f4f4f4; }
  .ok { color: #17692f; font-weight: 600; }
  .busy { color: #8a6100; font-weight: 600; }
  .error { color: #b00020; font-weight: 600; }
  code { font-size: .95em; }
  .conflict { color: #b00020; }
</style>
</head>
<body>
<h1>gitsyncd</h1>
<div id="updated">loading…</div>
<table>
  <thead><tr><th>binding</th><th>state</th><th>folder ⇄ remote</th><th>last sync</th><th>pending</th><th>last error</th><th>conflict branches</th></tr></thead>
  <tbody id="bindings"></tbody>
</table>
<script src="/ui/status.js"></script>
</body>
</html>
)html";
}

std::string_view StatusPageScript() {
  return R"js('use strict';
// Renders /api/v1/status; every value goes through textContent (never HTML).
function cell(row, text, cls) {
  const td = document.createElement('td');
  td.textContent = text;
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}
function render(data) {
  const body = document.getElementById('bindings');
  body.replaceChildren();
  for (const b of data.bindings) {
    const row = document.createElement('tr');
    row.id = 'binding-' + b.name;
    cell(row, b.name);
    let state = 'in sync', cls = 'ok';
    if (b.last_error) { state = 'error'; cls = 'error'; }
    else if (b.running) { state = 'syncing'; cls = 'busy'; }
    else if (b.queued) { state = 'queued'; cls = 'busy'; }
    else if (!b.last_synced_commit) { state = 'not synced yet'; cls = 'busy'; }
    cell(row, state, cls).setAttribute('data-state', state);
    cell(row, b.local + ' ⇄ ' + b.remote + ' (' + b.branch + (b.path ? ':' + b.path : '') + ', ' + b.direction + ')');
    cell(row, b.last_synced_commit ? b.last_synced_commit.substring(0, 12) + ' at ' + b.last_success_time : 'never');
    cell(row, String(b.pending_local_changes || 0));
    cell(row, b.last_error || '—', b.last_error ? 'error' : '');
    const open = (b.conflicts || []).filter(c => !c.resolved).map(c => c.branch);
    cell(row, open.length ? open.join(', ') : '—', open.length ? 'conflict' : '');
    body.appendChild(row);
  }
  document.getElementById('updated').textContent =
      data.bindings.length + ' binding(s); updated ' + new Date().toLocaleTimeString();
}
async function refresh() {
  try {
    const res = await fetch('/api/v1/status', {cache: 'no-store'});
    if (!res.ok) throw new Error('HTTP ' + res.status);
    render(await res.json());
  } catch (e) {
    document.getElementById('updated').textContent = 'cannot reach the daemon: ' + e.message;
  }
}
refresh();
setInterval(refresh, 3000);
)js";
}

}  // namespace gitsyncd
