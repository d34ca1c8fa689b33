/**
 * The dashboard: one self-contained, read-only page (inline CSS, inline script, SVG charts; nothing is fetched from
 * anywhere but this server). The script polls `/api/status` every two seconds and renders with textContent only:
 * dead-letter keys and error messages are data, never markup.
 */
export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dynashift</title>
<style>
  :root { --fg:#1d2330; --muted:#667085; --line:#e4e7ec; --bg:#f6f7f9; --card:#fff; --blue:#2563eb; --teal:#0d9488; --amber:#d97706; --red:#dc2626; --green:#16a34a; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif; color:var(--fg); background:var(--bg); }
  header { background:var(--card); border-bottom:1px solid var(--line); padding:16px 28px; display:flex; gap:16px; align-items:center; flex-wrap:wrap; }
  header h1 { font-size:18px; margin:0; font-weight:600; }
  header .muted { margin-left:auto; }
  main { padding:20px 28px; max-width:1280px; margin:0 auto; display:grid; gap:18px; }
  .muted { color:var(--muted); }
  .badge { display:inline-block; padding:3px 10px; border-radius:999px; font-weight:600; font-size:13px; background:#e0e7ff; color:#3730a3; }
  .badge.in-sync, .badge.finished { background:#dcfce7; color:#166534; }
  .badge.halted { background:#fee2e2; color:#991b1b; }
  .card { background:var(--card); border:1px solid var(--line); border-radius:10px; padding:16px 18px; }
  .card h2 { font-size:13px; text-transform:uppercase; letter-spacing:.04em; color:var(--muted); margin:0 0 10px; font-weight:600; }
  .steps { display:grid; gap:8px; }
  .next { display:flex; gap:14px; align-items:baseline; flex-wrap:wrap; }
  .next .label { color:var(--muted); width:130px; }
  .next strong { font-size:15px; }
  .stats { display:grid; grid-template-columns:repeat(auto-fit,minmax(160px,1fr)); gap:12px; }
  .stat .value { font-size:22px; font-weight:600; font-variant-numeric:tabular-nums; }
  .stat .label { color:var(--muted); font-size:12px; }
  .charts { display:grid; grid-template-columns:repeat(auto-fit,minmax(420px,1fr)); gap:18px; }
  svg.chart { width:100%; height:180px; display:block; }
  svg.chart .grid { stroke:var(--line); stroke-width:1; }
  svg.chart text { font-size:10px; fill:var(--muted); }
  .legend { display:flex; gap:14px; font-size:12px; color:var(--muted); margin-top:6px; }
  .legend i { display:inline-block; width:10px; height:3px; vertical-align:middle; margin-right:5px; }
  table { width:100%; border-collapse:collapse; font-variant-numeric:tabular-nums; }
  th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
  th { font-size:12px; color:var(--muted); font-weight:600; }
  td.num, th.num { text-align:right; }
  .bar { height:8px; background:#eef2f7; border-radius:4px; overflow:hidden; min-width:120px; }
  .bar > span { display:block; height:100%; background:var(--blue); }
  .bar.done > span { background:var(--green); }
  .ok { color:var(--green); } .warn { color:var(--amber); } .bad { color:var(--red); }
  .error { color:var(--red); font-family:ui-monospace,Menlo,monospace; font-size:12px; word-break:break-word; }
  code { font-family:ui-monospace,Menlo,monospace; font-size:12px; word-break:break-all; }
  .empty { color:var(--muted); padding:6px 0; }
</style>
</head>
<body>
<header>
  <h1>dynashift · <span id="migration">…</span></h1>
  <span id="phase" class="badge">…</span>
  <span id="running" class="muted"></span>
  <span id="updated" class="muted"></span>
</header>
<main>
  <section class="card steps">
    <div class="next"><span class="label">Safe to cut over</span><span id="safe">…</span><span id="reason"></span></div>
    <div class="next"><span class="label">Next safe step</span><strong id="next">…</strong></div>
  </section>
  <section class="card">
    <div class="stats">
      <div class="stat"><div class="value" id="stat-items">–</div><div class="label">items back-filled</div></div>
      <div class="stat"><div class="value" id="stat-items-rate">–</div><div class="label">items / s</div></div>
      <div class="stat"><div class="value" id="stat-records">–</div><div class="label">stream records applied</div></div>
      <div class="stat"><div class="value" id="stat-records-rate">–</div><div class="label">records / s</div></div>
      <div class="stat"><div class="value" id="stat-lag">–</div><div class="label">stream lag</div></div>
      <div class="stat"><div class="value" id="stat-dead">–</div><div class="label">unresolved dead letters</div></div>
    </div>
  </section>
  <section class="charts">
    <div class="card"><h2>Throughput</h2><svg id="chart-throughput" class="chart" viewBox="0 0 600 180" preserveAspectRatio="none" role="img" aria-label="throughput chart"></svg>
      <div class="legend"><span><i style="background:var(--blue)"></i>items/s (backfill)</span><span><i style="background:var(--teal)"></i>records/s (stream)</span></div></div>
    <div class="card"><h2>Stream lag</h2><svg id="chart-lag" class="chart" viewBox="0 0 600 180" preserveAspectRatio="none" role="img" aria-label="stream lag chart"></svg>
      <div class="legend"><span><i style="background:var(--amber)"></i>lag (seconds)</span></div></div>
  </section>
  <section class="card"><h2>Backfill by segment</h2><div id="segments"></div></section>
  <section class="card"><h2>Stream shards</h2><div id="shards"></div></section>
  <section class="card"><h2>Tables</h2><div id="io"></div></section>
  <section class="card"><h2>Dead letters</h2><div id="dead-letters"></div></section>
</main>
<script>
(function () {
  'use strict';
  var SVG = 'http://www.w3.org/2000/svg';
  function $(id) { return document.getElementById(id); }
  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs) for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function svg(tag, attrs, text) {
    var e = document.createElementNS(SVG, tag);
    for (var k in attrs) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = String(text);
    return e;
  }
  function num(n) { return Math.round(n).toLocaleString('en-US'); }
  function rate(n) { return n >= 100 ? num(n) : (Math.round(n * 10) / 10).toLocaleString('en-US'); }
  function lag(ms) { return ms < 1000 ? Math.round(ms) + ' ms' : ms < 120000 ? (ms / 1000).toFixed(1) + ' s' : Math.round(ms / 60000) + ' min'; }
  function table(headers, rows, numeric) {
    var t = el('table'), tr = el('tr');
    headers.forEach(function (h, i) { tr.appendChild(el('th', numeric && numeric[i] ? { class: 'num' } : null, h)); });
    var thead = el('thead'); thead.appendChild(tr); t.appendChild(thead);
    var tbody = el('tbody');
    rows.forEach(function (cells) {
      var r = el('tr');
      cells.forEach(function (c, i) {
        var td = el('td', numeric && numeric[i] ? { class: 'num' } : null);
        if (c instanceof Node) td.appendChild(c); else td.textContent = c === undefined || c === null ? '' : String(c);
        r.appendChild(td);
      });
      tbody.appendChild(r);
    });
    t.appendChild(tbody);
    return t;
  }
  function replace(id, node) { var box = $(id); box.textContent = ''; box.appendChild(node); }
  function empty(text) { return el('div', { class: 'empty' }, text); }

  /** A line chart: one polyline per series, y from 0 to the largest value, time on x. */
  function chart(id, points, series, unit) {
    var box = $(id), W = 600, H = 180, L = 44, R = 8, T = 8, B = 22;
    box.textContent = '';
    if (points.length < 2) {
      box.appendChild(svg('text', { x: W / 2, y: H / 2, 'text-anchor': 'middle' }, 'collecting data…'));
      return;
    }
    var t0 = points[0].at, t1 = points[points.length - 1].at, span = Math.max(1, t1 - t0);
    var max = 0;
    series.forEach(function (s) { points.forEach(function (p) { max = Math.max(max, s.value(p)); }); });
    max = max > 0 ? max * 1.1 : 1;
    for (var g = 0; g <= 4; g++) {
      var y = T + (H - T - B) * (1 - g / 4);
      box.appendChild(svg('line', { class: 'grid', x1: L, x2: W - R, y1: y, y2: y }));
      box.appendChild(svg('text', { x: L - 6, y: y + 3, 'text-anchor': 'end' }, rate(max * g / 4) + unit));
    }
    box.appendChild(svg('text', { x: L, y: H - 6 }, new Date(t0).toLocaleTimeString()));
    box.appendChild(svg('text', { x: W - R, y: H - 6, 'text-anchor': 'end' }, new Date(t1).toLocaleTimeString()));
    series.forEach(function (s) {
      var coords = points.map(function (p) {
        var x = L + (W - L - R) * (p.at - t0) / span, y = T + (H - T - B) * (1 - s.value(p) / max);
        return x.toFixed(1) + ',' + y.toFixed(1);
      });
      box.appendChild(svg('polyline', { points: coords.join(' '), fill: 'none', stroke: s.color, 'stroke-width': 2, 'vector-effect': 'non-scaling-stroke', 'data-series': s.name }));
    });
  }

  function render(d) {
    $('migration').textContent = d.migration;
    var phase = $('phase');
    phase.textContent = d.halt ? 'halted' : d.phase;
    phase.className = 'badge ' + (d.halt ? 'halted' : d.phase);
    $('running').textContent = d.running ? (d.direction ? 'running · replicating ' + d.direction : 'running') : 'not running';
    $('updated').textContent = 'updated ' + new Date(d.at).toLocaleTimeString();
    $('next').textContent = d.next;
    var safe = $('safe');
    safe.textContent = d.safeToCutOver ? 'yes' : 'no';
    safe.className = d.safeToCutOver ? 'ok' : 'warn';
    $('reason').textContent = d.reason;

    var items = 0, estimated = 0;
    d.backfill.forEach(function (s) { items += s.items; estimated += s.estimatedItems; });
    $('stat-items').textContent = num(items) + (estimated > 0 ? ' / ' + num(estimated) : '');
    $('stat-items-rate').textContent = rate(d.itemsPerSecond) + (d.etaSeconds !== undefined ? ' · ETA ' + lag(d.etaSeconds * 1000) : '');
    $('stat-records').textContent = num(d.stream.records);
    $('stat-records-rate').textContent = rate(d.stream.recordsPerSecond);
    $('stat-lag').textContent = lag(d.stream.lagMs) + (d.stream.caughtUp ? ' · in sync' : '');
    var dead = $('stat-dead');
    dead.textContent = num(d.deadLetters.count);
    dead.className = 'value ' + (d.deadLetters.count > 0 ? 'bad' : 'ok');

    chart('chart-throughput', d.history, [
      { name: 'items', color: '#2563eb', value: function (p) { return p.itemsPerSecond; } },
      { name: 'records', color: '#0d9488', value: function (p) { return p.recordsPerSecond; } },
    ], '');
    chart('chart-lag', d.history, [{ name: 'lag', color: '#d97706', value: function (p) { return p.lagMs / 1000; } }], 's');

    var seg = el('div');
    if (d.backfill.length === 0) seg.appendChild(empty('The backfill has not started.'));
    d.backfill.forEach(function (s) {
      seg.appendChild(el('p', null, s.source + ' (' + s.table + '): ' + s.strategy + ', ' + s.segmentsDone + '/' + s.segmentCount + ' segments done, '
        + num(s.items) + ' items' + (s.complete ? ', complete' : '')));
      var share = s.segmentCount > 0 ? Math.max(1, s.estimatedItems / s.segmentCount) : 1;
      var rows = s.segments.map(function (g) {
        var bar = el('div', { class: 'bar' + (g.done ? ' done' : '') });
        bar.appendChild(el('span', { style: 'width:' + (g.done ? 100 : Math.min(99, 100 * g.items / share)).toFixed(1) + '%' }));
        return [g.segment, bar, num(g.items), g.done ? 'done' : 'copying'];
      });
      if (rows.length > 0) seg.appendChild(table(['segment', 'progress', 'items', 'state'], rows, [false, false, true, false]));
      if (s.segments.length < s.segmentCount) seg.appendChild(empty((s.segmentCount - s.segments.length) + ' more segments (done) not listed'));
    });
    replace('segments', seg);

    replace('shards', d.stream.shards.length === 0 ? empty('No shard is being read yet.')
      : table(['source', 'shard', 'state', 'records applied', 'lag'], d.stream.shards.map(function (s) {
        return [s.source, s.shardId, s.state, num(s.applied), s.lagMs === undefined ? '' : lag(s.lagMs)];
      }), [false, false, false, true, true]));

    replace('io', d.io.length === 0 ? empty('No requests yet.')
      : table(['side', 'name', 'table', 'requests', 'throttles', 'retries', 'writes in flight', 'rate limit (units/s)'], d.io.map(function (t) {
        var limits = t.rateLimits.map(function (r) {
          return r.kind + ' ' + (r.unitsPerSecond === null ? 'unlimited' : rate(r.unitsPerSecond)) + (r.ceiling === null ? '' : ' of ' + rate(r.ceiling));
        }).join(', ');
        return [t.side, t.name, t.table, num(t.requests), num(t.throttles), num(t.retries), t.writesInFlight === undefined ? '' : num(t.writesInFlight), limits];
      }), [false, false, false, true, true, true, true, false]));

    var dl = el('div');
    if (d.deadLetters.recent.length === 0) dl.appendChild(empty(d.deadLetters.count > 0 ? 'Dead letters are counted but none could be read from ' + d.deadLetters.file : 'None.'));
    else {
      dl.appendChild(el('p', { class: 'muted' }, 'Newest first, from ' + d.deadLetters.file));
      dl.appendChild(table(['time', 'stage', 'source', 'key', 'error'], d.deadLetters.recent.map(function (r) {
        var err = el('div', { class: 'error' }, '[' + r.error.code + '] ' + r.error.message);
        return [new Date(r.at).toLocaleString(), r.stage, r.source + (r.target ? ' → ' + r.target : ''), el('code', null, r.key), err];
      })));
    }
    replace('dead-letters', dl);
  }

  function poll() {
    fetch('api/status', { cache: 'no-store' }).then(function (r) { return r.json(); }).then(function (d) {
      render(d);
      document.body.setAttribute('data-loaded', 'true');
    }).catch(function () {
      $('updated').textContent = 'not reachable: the run has stopped?';
    }).finally(function () { setTimeout(poll, 2000); });
  }
  poll();
})();
</script>
</body>
</html>
`;
