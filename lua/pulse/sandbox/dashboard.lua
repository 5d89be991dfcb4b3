-- GET /_sandbox/dashboard: a page that shows the sandbox at work, made of
-- itself alone (inline CSS, SVG drawn by an inline script; nothing from
-- elsewhere): the bucket's level over the last minutes, requests a second
-- by status, the faults active, and the sample organization's counts. It
-- asks /_sandbox/stats and /_sandbox/history again every second.

local dashboard = {}

dashboard.PAGE = [[
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>pulse-sandbox</title>
<link rel="icon" href="data:,">
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.05em; margin: 1.5em 0 .4em; }
#level { font-size: 2em; font-variant-numeric: tabular-nums; }
svg { background: #fbfbfb; border: 1px solid #ddd; display: block; }
.tokens { fill: none; stroke: #2a7; stroke-width: 2; }
.bar.ok { fill: #37c; } .bar.client_error { fill: #e90; }
.bar.rate_limited { fill: #c33; } .bar.server_error { fill: #737; }
.legend span { margin-right: 1.2em; } table { border-collapse: collapse; }
td, th { padding: 1px 14px 1px 0; text-align: left; }
td.n { text-align: right; font-variant-numeric: tabular-nums; } .muted { color: #888; }
</style></head>
<body>
<h1>pulse-sandbox <span class="muted">(sample data)</span></h1>
<div id="level" data-tokens="">&hellip;</div>
<div id="refill" class="muted"></div>
<h2>The bucket, the last 5 minutes</h2>
<svg id="bucket" width="900" height="160" viewBox="0 0 900 160"></svg>
<h2>Requests a second, by status</h2>
<p class="legend"><span style="color:#37c">&#9632; 2xx/3xx</span><span style="color:#e90">&#9632; 4xx</span>
<span style="color:#c33">&#9632; 429</span><span style="color:#737">&#9632; 5xx, dropped</span></p>
<svg id="requests" width="900" height="160" viewBox="0 0 900 160"></svg>
<p id="totals"></p>
<h2>Faults active</h2>
<ul id="faults"></ul>
<h2>The sample organization</h2>
<table id="org"></table>
<script>
"use strict";
var SVG = "http://www.w3.org/2000/svg", W = 900, H = 160, KEEP = 300;
function el(name, attrs) {
  var e = document.createElementNS(SVG, name);
  for (var k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}
function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }
function x(t, now) { return W - (now - t + 1) * W / KEEP; }
function drawBucket(samples, now, burst) {
  var svg = document.getElementById("bucket"); clear(svg);
  var points = samples.map(function (s) {
    return x(s.t, now).toFixed(1) + "," + (H - 10 - (H - 20) * s.tokens / Math.max(burst, 1)).toFixed(1);
  });
  svg.appendChild(el("polyline", { "class": "tokens", points: points.join(" ") }));
}
function drawRequests(samples, now) {
  var svg = document.getElementById("requests"); clear(svg);
  var most = 1, kinds = ["ok", "client_error", "rate_limited", "server_error"];
  samples.forEach(function (s) { most = Math.max(most, s.ok + s.client_error + s.rate_limited + s.server_error); });
  samples.forEach(function (s) {
    var y = H - 10;
    kinds.forEach(function (k) {
      if (!s[k]) return;
      var h = (H - 20) * s[k] / most;
      y -= h;
      svg.appendChild(el("rect", { "class": "bar " + k, x: x(s.t, now).toFixed(1), y: y.toFixed(1),
        width: (W / KEEP).toFixed(2), height: h.toFixed(1), "data-count": s[k] }));
    });
  });
}
function show(stats, history) {
  var b = stats.bucket, level = document.getElementById("level");
  level.textContent = b.tokens + " of " + b.burst + " tokens";
  level.setAttribute("data-tokens", b.tokens);
  document.getElementById("refill").textContent = b.limit + " every " + b.window + " s; the next refill in " +
    b.reset_in.toFixed(1) + " s";
  drawBucket(history.samples, history.now, b.burst);
  drawRequests(history.samples, history.now);
  var by = stats.by_status, parts = [];
  Object.keys(by).sort().forEach(function (k) { parts.push(k + ": " + by[k]); });
  document.getElementById("totals").textContent = stats.requests + " requests (" + parts.join(", ") + ")";
  var faults = document.getElementById("faults"); clear(faults);
  if (!stats.faults.length) faults.innerHTML = '<li class="muted">none</li>';
  stats.faults.forEach(function (f) {
    var li = document.createElement("li");
    li.className = "fault";
    li.textContent = f.kind + (f.method ? " on " + f.method : "") + (f.left ? ", " + f.left + " left" : ", no end");
    faults.appendChild(li);
  });
  var org = document.getElementById("org"); clear(org);
  Object.keys(stats.organization).sort().forEach(function (kind) {
    var tr = document.createElement("tr");
    tr.innerHTML = "<th></th><td class=\"n\"></td>";
    tr.firstChild.textContent = kind;
    tr.lastChild.textContent = stats.organization[kind];
    tr.lastChild.setAttribute("data-kind", kind);
    org.appendChild(tr);
  });
  document.body.setAttribute("data-updated", String(Number(document.body.getAttribute("data-updated") || 0) + 1));
}
function refresh() {
  Promise.all([fetch("/_sandbox/stats"), fetch("/_sandbox/history")])
    .then(function (r) { return Promise.all([r[0].json(), r[1].json()]); })
    .then(function (v) { show(v[0], v[1]); })
    .catch(function (e) { document.getElementById("refill").textContent = "the sandbox did not answer: " + e; });
}
refresh();
setInterval(refresh, 1000);
</script>
</body></html>
]]

return dashboard
