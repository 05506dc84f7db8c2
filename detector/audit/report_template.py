"""The Jinja2 template, CSS and script of ``report.html`` (kept in Python: no package data).

The template is rendered with autoescaping on; only the SVG strings built by
:mod:`detector.audit.svg` (which escape their own text) are passed as ``Markup``.
"""

from __future__ import annotations

__all__ = ["CSS", "SCRIPT", "TEMPLATE"]

CSS = """
:root { --fg:#1f2937; --muted:#4b5563; --line:#d1d5db; --bg:#fff; --band:#f3f4f6;
  --block:#b3261e; --throttle:#b45309; --review:#8a6d00; --allow:#4b5563; }
* { box-sizing: border-box; }
body { margin:0; color:var(--fg); background:var(--bg);
  font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main, header, footer, nav { max-width:1180px; margin:0 auto; padding:0 20px; }
header { padding-top:18px; }
h1 { font-size:1.6rem; margin:0 0 4px; }
h2 { font-size:1.3rem; margin:32px 0 10px; padding-bottom:4px;
  border-bottom:2px solid var(--line); }
h3 { font-size:1.08rem; margin:0 0 8px; overflow-wrap:anywhere; }
h4 { font-size:.95rem; margin:12px 0 4px; }
p.sub, .muted { color:var(--muted); }
nav ul { list-style:none; padding:0; margin:8px 0 0; display:flex; flex-wrap:wrap; gap:4px 16px; }
a { color:#1d4ed8; }
code, .mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:.88em; }
.id { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; overflow-wrap:anywhere; }
td.nowrap { white-space:nowrap; overflow-wrap:normal; }
table { border-collapse:collapse; width:100%; margin:6px 0 12px; font-size:.9rem; }
caption { text-align:left; font-weight:600; padding:4px 0; }
th, td { border-bottom:1px solid var(--line); padding:4px 8px; text-align:left;
  vertical-align:top; }
th { background:var(--band); font-weight:600; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
tbody tr:nth-child(even) { background:#fafafa; }
table.sortable th { cursor:pointer; user-select:none; }
table.sortable th[aria-sort=ascending]::after { content:" \\25B2"; font-size:.7em; }
table.sortable th[aria-sort=descending]::after { content:" \\25BC"; font-size:.7em; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(300px,1fr)); gap:10px 28px; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:2px 14px; margin:0; }
dl.facts dt { color:var(--muted); }
dl.facts dd { margin:0; overflow-wrap:anywhere; }
.badge { display:inline-block; padding:0 7px; border-radius:9px; font-size:.8rem; font-weight:600;
  border:1px solid currentColor; text-transform:uppercase; letter-spacing:.03em;
  white-space:nowrap; }
.act-block { color:var(--block); background:#fdecea; }
.act-throttle { color:var(--throttle); background:#fef3e2; }
.act-review { color:var(--review); background:#fdf8db; }
.act-allow { color:var(--allow); background:#f3f4f6; }
.lvl { font-size:.8rem; color:var(--muted); }
.card { border:1px solid var(--line); border-left:5px solid var(--allow); border-radius:6px;
  padding:12px 16px; margin:14px 0; }
.card.card-block { border-left-color:var(--block); }
.card.card-throttle { border-left-color:var(--throttle); }
.card.card-review { border-left-color:var(--review); }
.card .top { float:right; font-size:.85rem; }
ul.evidence { margin:2px 0 6px; padding-left:20px; }
ul.hits { list-style:none; padding:0; margin:0; }
ul.hits > li { margin:0 0 8px; }
ul.members { list-style:none; padding:0; margin:0; display:flex; flex-wrap:wrap; gap:4px 14px; }
ul.members li { white-space:nowrap; }
ul.chips { list-style:none; padding:0; margin:3px 0 0; display:flex; flex-wrap:wrap; gap:4px; }
ul.chips li { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:.8rem;
  background:var(--band); border:1px solid var(--line); border-radius:4px; padding:0 6px; }
.chart { max-width:100%; height:auto; display:block; }
.chart text { font-family:system-ui,sans-serif; fill:#374151; }
.chart .tick { font-size:10px; } .chart .val { font-size:10px; } .chart .cap { font-size:11px; }
.chart .lab { font-size:11.5px; }
figure { margin:6px 0 10px; }
figcaption { font-size:.85rem; color:var(--muted); }
.filter { margin:6px 0; }
.filter input { font:inherit; padding:3px 8px; width:min(420px,100%); }
.note { background:var(--band); border-radius:6px; padding:8px 12px; }
footer { margin-top:40px; padding-bottom:30px; border-top:1px solid var(--line);
  color:var(--muted); font-size:.88rem; }
.sr-only { position:absolute; width:1px; height:1px; overflow:hidden; clip:rect(0 0 0 0); }
@media print {
  body { font-size:11pt; }
  nav, .filter, .card .top { display:none; }
  main, header, footer { max-width:none; padding:0; }
  a { color:inherit; text-decoration:none; }
  .card, figure, tr { break-inside:avoid; }
  h2 { break-after:avoid; }
  tbody tr:nth-child(even) { background:none; }
}
"""

SCRIPT = """
(function () {
  function key(cell) {
    var v = cell.getAttribute('data-v');
    return v === null ? cell.textContent.trim().toLowerCase() : parseFloat(v);
  }
  function sortBy(table, idx, th) {
    var asc = th.getAttribute('aria-sort') !== 'ascending';
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) {
      h.removeAttribute('aria-sort');
    });
    th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[idx]), y = key(b.cells[idx]);
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1);
    });
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (t) {
    Array.prototype.forEach.call(t.tHead.rows[0].cells, function (th, i) {
      th.tabIndex = 0;
      th.title = 'Sort by this column';
      th.addEventListener('click', function () { sortBy(t, i, th); });
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(t, i, th); }
      });
    });
  });
  Array.prototype.forEach.call(document.querySelectorAll('input[data-filter]'), function (inp) {
    var table = document.getElementById(inp.getAttribute('data-filter'));
    inp.addEventListener('input', function () {
      var q = inp.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (r) {
        r.hidden = q !== '' && r.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
  });
})();
"""

TEMPLATE = """<!DOCTYPE html>
{%- macro badge(action) -%}
<span class="badge act-{{ action }}">{{ action }}</span>
{%- endmacro -%}
{%- macro figure(svg, caption) -%}
<figure>{{ svg }}<figcaption>{{ caption }}</figcaption></figure>
{%- endmacro %}
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<meta http-equiv="Content-Security-Policy"
 content="default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:">
<title>{{ title }}</title>
<style>{{ css }}</style>
</head>
<body>
<header>
<h1>{{ title }}</h1>
<p class="sub">
{% if s.time_range %}Activity from {{ s.time_range[0] }} to {{ s.time_range[1] }}
({{ s.duration }}).{% else %}No events in this audit.{% endif %} Model {{ s.model_version }}.
</p>
<nav aria-label="Sections"><ul>
<li><a href="#summary">Summary</a></li>
<li><a href="#risk">Risk distribution</a></li>
<li><a href="#accounts">Top accounts</a></li>
<li><a href="#rules">Rule hits</a></li>
<li><a href="#features">Features</a></li>
{% if clusters %}<li><a href="#clusters">Clusters</a></li>{% endif %}
<li><a href="#privacy">Privacy</a></li>
</ul></nav>
</header>
<main>

<section id="summary" aria-labelledby="h-summary">
<h2 id="h-summary">Summary</h2>
<div class="grid">
<dl class="facts">
<dt>Records read</dt><dd>{{ "{:,}".format(s.records) }}</dd>
<dt>Events parsed</dt><dd>{{ "{:,}".format(s.events) }}</dd>
<dt>Accounts</dt><dd>{{ "{:,}".format(s.accounts) }}</dd>
<dt>Time range (UTC)</dt><dd>{% if s.time_range %}{{ s.time_range[0] }} – {{ s.time_range[1] }}
 ({{ s.duration }}){% else %}none{% endif %}</dd>
<dt>Input formats</dt><dd>{{ s.formats | join(", ") if s.formats else "none" }}</dd>
<dt>Model version</dt><dd>{{ s.model_version }}</dd>
<dt>Rules loaded</dt><dd>{{ s.rules }}{% if s.rules_version %}
 <span class="muted">(version <code>{{ s.rules_version }}</code>)</span>{% endif %}</dd>
<dt>Clusters</dt><dd>{{ s.clusters }}</dd>
</dl>
<dl class="facts">
{% for action, count in s.actions %}
<dt>{{ badge(action) }}</dt><dd>{{ "{:,}".format(count) }} accounts</dd>
{% endfor %}
<dt>Alerts</dt><dd>{{ "{:,}".format(s.alerts) }}
 <span class="muted">({{ s.account_alerts }} account{{ "" if s.account_alerts == 1 else "s" }}
{%- if s.cluster_alerts %}, {{ s.cluster_alerts }} cluster{{ "" if s.cluster_alerts == 1 else "s" }}
{%- endif %})</span></dd>
<dt>Quarantined</dt><dd>{{ "{:,}".format(s.quarantined) }} records
{% if s.quarantine %}<ul class="evidence">
{% for reason, count in s.quarantine %}<li>{{ reason }}: {{ "{:,}".format(count) }}</li>{% endfor %}
</ul>{% endif %}</dd>
</dl>
</div>
<table>
<caption>Input files</caption>
<thead><tr><th scope="col">File</th><th scope="col">Format</th>
<th scope="col" class="num">Events</th><th scope="col" class="num">Quarantined</th></tr></thead>
<tbody>
{% for f in s.files %}
<tr><td class="mono">{{ f.file }}</td><td>{{ f.format }}</td>
<td class="num">{{ "{:,}".format(f.events) }}</td>
<td class="num">{{ "{:,}".format(f.quarantined) }}</td></tr>
{% else %}
<tr><td colspan="4">No input files.</td></tr>
{% endfor %}
</tbody>
</table>
</section>

<section id="risk" aria-labelledby="h-risk">
<h2 id="h-risk">Risk distribution</h2>
{% if dist %}
<div class="grid">
{{ figure(dist.histogram, "Accounts per risk band; bar heights on a log scale so that the few
 high-risk accounts stay visible. Risk fuses rule hits, the anomaly score and cluster
 evidence.") }}
{{ figure(dist.actions, "Accounts per recommended action.") }}
</div>
{% if dist.activity %}
{{ figure(dist.activity, dist.activity_caption) }}
{% endif %}
{% else %}
<p class="note">No accounts were scored.</p>
{% endif %}
</section>

<section id="accounts" aria-labelledby="h-accounts">
<h2 id="h-accounts">Top accounts</h2>
<p>{{ "{:,}".format(top.n_flagged) }} account{{ " is" if top.n_flagged == 1 else "s are" }}
 flagged (action other than allow).
{% if top.rows %}The {{ top.rows | length }} highest-risk accounts are detailed below; the full list
is in <code>accounts.csv</code>.{% endif %}</p>
{% if top.rows %}
<div class="filter"><label for="filter-accounts">Filter accounts </label>
<input id="filter-accounts" type="search" data-filter="top-table"
 placeholder="account, action, rule, cluster…"></div>
<table id="top-table" class="sortable">
<caption class="sr-only">Top accounts by risk</caption>
<thead><tr><th scope="col" class="num">#</th><th scope="col">Account</th>
<th scope="col" class="num">Risk</th><th scope="col">Action</th><th scope="col">Cluster</th>
<th scope="col" class="num">Rules</th><th scope="col" class="num">Events</th>
<th scope="col">Main reason</th></tr></thead>
<tbody>
{% for a in top.rows %}
<tr><td class="num" data-v="{{ a.rank }}">{{ a.rank }}</td>
<td class="id nowrap"><a href="#{{ a.anchor }}" title="{{ a.id }}">{{ a.short_id }}</a></td>
<td class="num" data-v="{{ a.risk }}">{{ "%.2f" | format(a.risk) }}</td>
<td>{{ badge(a.action) }}</td>
<td class="id nowrap">{% if a.cluster_id %}{% if a.cluster_anchor %}<a
 href="#{{ a.cluster_anchor }}" title="{{ a.cluster_id }}">{{ a.short_cluster }}</a>
{%- else %}{{ a.short_cluster }}{% endif %}
{%- endif %}</td>
<td class="num" data-v="{{ a.hits | length }}">{{ a.hits | length }}</td>
<td class="num" data-v="{{ a.n_events }}">{{ "{:,}".format(a.n_events) }}</td>
<td>{{ a.main_reason }}</td></tr>
{% endfor %}
</tbody>
</table>

{% for a in top.rows %}
<article class="card card-{{ a.action }}" id="{{ a.anchor }}" aria-labelledby="{{ a.anchor }}-h">
<a class="top" href="#accounts">back to list</a>
<h3 id="{{ a.anchor }}-h">#{{ a.rank }} <span class="id">{{ a.id }}</span>
 {{ badge(a.action) }}</h3>
<div class="grid">
<div>
<dl class="facts">
<dt>Risk</dt><dd>{{ "%.2f" | format(a.risk) }}</dd>
<dt>Recommended action</dt><dd>{{ a.action }}{% if a.allowlisted %} (allowlisted: capped at
 review){% endif %}</dd>
<dt>Cluster</dt><dd>{% if a.cluster_id %}{% if a.cluster_anchor %}<a class="id"
 href="#{{ a.cluster_anchor }}">{{ a.cluster_id }}</a>{% else %}<span class="id">
{{- a.cluster_id }}</span>{% endif %}{% else %}none{% endif %}</dd>
<dt>Requests</dt><dd>{{ "{:,}".format(a.n_events) }}</dd>
<dt>Active</dt><dd>{{ a.active }}</dd>
<dt>Anomaly score</dt><dd>{{ a.anomaly }}</dd>
</dl>
{% if a.infra %}
<h4>Most used (heavy hitters)</h4>
<dl class="facts">
{% for name, values in a.infra %}<dt>{{ name }}</dt><dd class="id">{{ values }}</dd>{% endfor %}
</dl>
{% endif %}
{% if a.other_reasons %}
<h4>Other signals</h4>
<ul class="evidence">{% for r in a.other_reasons %}<li>{{ r }}</li>{% endfor %}</ul>
{% endif %}
</div>
<div>
<h4>Activity over the audit window</h4>
{{ a.timeline }}
<h4>Hour-of-day profile</h4>
{{ a.hours }}
</div>
</div>
<h4>Rule hits</h4>
{% if a.hits %}
<ul class="hits">
{% for h in a.hits %}
<li><strong>{{ h.title }}</strong> <span class="lvl">{{ h.level }} · {{ h.family }} ·
 recommends</span> {{ badge(h.action) }} <code class="lvl">{{ h.rule_id }}</code>
<ul class="chips" aria-label="conditions that held">
{%- for e in h.evidence %}<li>{{ e }}</li>{% endfor %}</ul></li>
{% endfor %}
</ul>
{% else %}<p class="muted">No rule matched.</p>{% endif %}
{% if a.features %}
<table>
<caption>Features that set the account apart</caption>
<thead><tr><th scope="col">Feature</th><th scope="col" class="num">Value</th>
<th scope="col">Population percentile</th><th scope="col" class="num">Population median</th>
<th scope="col">Meaning</th></tr></thead>
<tbody>
{% for f in a.features %}
<tr><td><code>{{ f.name }}</code></td><td class="num">{{ f.value }}</td><td>{{ f.words }}</td>
<td class="num">{{ f.median }}</td><td>{{ f.meaning }}</td></tr>
{% endfor %}
</tbody>
</table>
{% endif %}
</article>
{% endfor %}
{% else %}
<p class="note">No account was flagged in this audit.</p>
{% endif %}
</section>

<section id="rules" aria-labelledby="h-rules">
<h2 id="h-rules">Rule hits</h2>
{% if rules %}
<table class="sortable">
<caption class="sr-only">Rules and the accounts they matched</caption>
<thead><tr><th scope="col">Rule</th><th scope="col">Id</th><th scope="col">Level</th>
<th scope="col">Action</th><th scope="col">Family</th>
<th scope="col" class="num">Accounts matched</th><th scope="col" class="num">Of which flagged</th>
</tr></thead>
<tbody>
{% for r in rules %}
<tr><td>{{ r.title }}</td>
<td class="nowrap"><code title="{{ r.rule_id }}">{{ r.short_id }}</code></td>
<td data-v="{{ r.level_rank }}">{{ r.level }}</td><td>{{ badge(r.action) }}</td>
<td>{{ r.family }}</td><td class="num" data-v="{{ r.matched }}">{{ "{:,}".format(r.matched) }}</td>
<td class="num" data-v="{{ r.flagged }}">{{ "{:,}".format(r.flagged) }}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p class="note">No rules were loaded and none matched.</p>
{% endif %}
</section>

<section id="features" aria-labelledby="h-features">
<h2 id="h-features">Features: flagged accounts vs the others</h2>
{% if features %}
<table>
<caption>Medians of key features ({{ "{:,}".format(feature_counts[0]) }} flagged,
 {{ "{:,}".format(feature_counts[1]) }} other accounts)</caption>
<thead><tr><th scope="col">Feature</th><th scope="col">Meaning</th>
<th scope="col" class="num">Median, flagged</th><th scope="col" class="num">Median, others</th>
<th scope="col" class="num">90th percentile, others</th></tr></thead>
<tbody>
{% for f in features %}
<tr><td><code>{{ f.name }}</code></td><td>{{ f.meaning }}</td>
<td class="num">{{ f.flagged }}</td><td class="num">{{ f.others }}</td>
<td class="num">{{ f.others_p90 }}</td></tr>
{% endfor %}
</tbody>
</table>
{% else %}
<p class="note">No features to summarise.</p>
{% endif %}
</section>

{% if clusters %}
<section id="clusters" aria-labelledby="h-clusters">
<h2 id="h-clusters">Linked-account clusters</h2>
<p>{{ clusters | length }} of {{ s.clusters }} clusters shown, highest risk first.</p>
{% for c in clusters %}
<article class="card card-{{ c.action }}" id="{{ c.anchor }}" aria-labelledby="{{ c.anchor }}-h">
<h3 id="{{ c.anchor }}-h">Cluster <span class="id">{{ c.id }}</span> {{ badge(c.action) }}</h3>
<div class="grid">
<div>
<dl class="facts">
<dt>Risk</dt><dd>{{ c.risk }}</dd>
<dt>Recommended action</dt><dd>{{ c.action }} (for every member)</dd>
<dt>Members</dt><dd>{{ c.n_members }}</dd>
<dt>Links</dt><dd>{{ c.n_edges }}</dd>
{% if c.active %}<dt>Active</dt><dd>{{ c.active }}</dd>{% endif %}
</dl>
{% if c.evidence %}
<h4>Evidence</h4>
<ul class="evidence">{% for x in c.evidence %}<li>{{ x }}</li>{% endfor %}</ul>
{% elif c.reason %}
<h4>Reason</h4>
<p>{{ c.reason }}</p>
{% endif %}
{% if c.features %}
<h4>Cluster features</h4>
<ul class="chips">{% for x in c.features %}<li>{{ x }}</li>{% endfor %}</ul>
{% endif %}
<h4>Members</h4>
<ul class="members">
{% for m in c.members %}
<li>{% if m.anchor %}<a class="id" href="#{{ m.anchor }}">{{ m.id }}</a>{% else %}<span
 class="id">{{ m.id }}</span>{% endif %}{% if m.action %} {{ badge(m.action) }}{% endif %}</li>
{% endfor %}
{% if c.more_members %}<li class="muted">and {{ c.more_members }} more</li>{% endif %}
</ul>
</div>
<div>{{ figure(c.graph, c.graph_caption) }}</div>
</div>
{% if c.edges %}
<table>
<caption>Strongest links and their evidence</caption>
<thead><tr><th scope="col">Account</th><th scope="col">Account</th>
<th scope="col" class="num">Strength</th><th scope="col">Evidence</th></tr></thead>
<tbody>
{% for e in c.edges %}
<tr><td class="id nowrap">{{ e.a }}</td><td class="id nowrap">{{ e.b }}</td>
<td class="num">{{ "%.2f" | format(e.weight) }}</td>
<td><ul class="chips">{% for x in e.evidence %}<li>{{ x }}</li>{% endfor %}</ul></td></tr>
{% endfor %}
</tbody>
</table>
{% if c.more_edges %}<p class="muted">and {{ c.more_edges }} weaker links.</p>{% endif %}
{% endif %}
</article>
{% endfor %}
</section>
{% endif %}
</main>

<footer id="privacy" aria-labelledby="h-privacy">
<h2 id="h-privacy">Privacy</h2>
<p>No prompt text is stored or shown: the audit keeps fingerprints (hashes of prompts, templates
and system prompts) and counts only. Account ids, user agents, IP prefixes and model names are
copied from the logs as they are. This file is self-contained: it loads nothing from the
network.</p>
<p>Generated by distillwatch{% if s.time_range %} for audit data up to {{ s.as_of }}{% endif %}.</p>
</footer>
<script>{{ script }}</script>
</body>
</html>
"""
