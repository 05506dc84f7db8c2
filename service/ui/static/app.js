/* distillwatch dashboard: plain JavaScript, no build step, nothing from the internet.
 *
 * Every page is an HTML shell; this script fetches the analyst JSON APIs from the same
 * origin (the session cookie authenticates, X-Requested-With marks our own requests) and
 * renders tables and SVG charts. Live alert updates arrive by server-sent events from
 * /ui/events.
 */
(function () {
  "use strict";

  // ---------------------------------------------------------------- small DOM helpers
  const SVG_NS = "http://www.w3.org/2000/svg";

  function $(sel, root) {
    return (root || document).querySelector(sel);
  }

  function append(node, children) {
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      if (Array.isArray(child)) append(node, child);
      else if (child instanceof Node) node.appendChild(child);
      else node.appendChild(document.createTextNode(String(child)));
    }
    return node;
  }

  function setAttrs(node, attrs) {
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key === "class") node.setAttribute("class", value);
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("on") && typeof value === "function") {
        node.addEventListener(key.slice(2), value);
      } else if (key === "dataset") Object.assign(node.dataset, value);
      else node.setAttribute(key, value === true ? "" : String(value));
    }
    return node;
  }

  /** An HTML element: h("a", {href: "/x", class: "y"}, "text", child...). */
  function h(tag, attrs, ...children) {
    return append(setAttrs(document.createElement(tag), attrs), children);
  }

  /** An SVG element. */
  function s(tag, attrs, ...children) {
    return append(setAttrs(document.createElementNS(SVG_NS, tag), attrs), children);
  }

  function clear(node) {
    while (node.firstChild) node.removeChild(node.firstChild);
    return node;
  }

  function fill(node, ...children) {
    clear(node);
    append(node, children);
    node.removeAttribute("aria-busy");
    return node;
  }

  // ---------------------------------------------------------------- formatting
  const NUM = new Intl.NumberFormat("en", { maximumFractionDigits: 0 });
  const DEC = new Intl.NumberFormat("en", { maximumFractionDigits: 2 });

  function fmtInt(n) {
    return n === null || n === undefined || Number.isNaN(n) ? "–" : NUM.format(n);
  }

  function fmtNum(n) {
    if (n === null || n === undefined || Number.isNaN(n)) return "–";
    const a = Math.abs(n);
    if (a >= 1000) return NUM.format(n);
    if (a >= 10) return DEC.format(n);
    if (a === 0) return "0";
    return n.toPrecision(3).replace(/\.?0+$/, "");
  }

  function fmtRisk(r) {
    return r === null || r === undefined ? "–" : Number(r).toFixed(2);
  }

  function toDate(t) {
    if (t === null || t === undefined || t === "") return null;
    const d = typeof t === "number" ? new Date(t * 1000) : new Date(t);
    return Number.isNaN(d.getTime()) ? null : d;
  }

  function fmtTime(t) {
    const d = toDate(t);
    if (!d) return "–";
    return d.toISOString().replace("T", " ").slice(0, 16) + " UTC";
  }

  function ago(t) {
    const d = toDate(t);
    if (!d) return "–";
    const sec = Math.round((Date.now() - d.getTime()) / 1000);
    if (sec < 0) return fmtTime(t);
    if (sec < 60) return sec + " s ago";
    if (sec < 3600) return Math.round(sec / 60) + " min ago";
    if (sec < 86400) return Math.round(sec / 3600) + " h ago";
    return Math.round(sec / 86400) + " d ago";
  }

  function timeEl(t, relative) {
    const d = toDate(t);
    if (!d) return h("span", { class: "muted" }, "–");
    return h("time", { datetime: d.toISOString(), title: fmtTime(t) }, relative ? ago(t) : fmtTime(t));
  }

  const STATUS_TEXT = {
    firing: "Firing",
    acknowledged: "Acknowledged",
    resolved: "Resolved",
    false_positive: "False positive",
  };
  const ACTION_TEXT = {
    block: "Block",
    throttle: "Throttle",
    review: "Review",
    allow: "Allow",
  };
  const TRAIL_TEXT = {
    acknowledge: "acknowledged the alert",
    resolve: "resolved the alert",
    false_positive: "marked it a false positive",
    confirm_block: "confirmed the block",
    clear_decision: "cleared the decision",
    note: "added a note",
  };

  function humanize(s) {
    if (!s) return "";
    return String(s).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
  }

  function sevBadge(sev) {
    return h("span", { class: "badge sev-" + (sev || "none") }, humanize(sev || "none"));
  }

  function statusBadge(status) {
    return h(
      "span",
      { class: "badge status-" + (status || "none"), dataset: { status: status || "" } },
      STATUS_TEXT[status] || humanize(status) || "–"
    );
  }

  function actionBadge(action) {
    return h("span", { class: "badge act-" + (action || "none") }, ACTION_TEXT[action] || humanize(action) || "–");
  }

  function accountLink(id) {
    return h("a", { href: "/ui/accounts/" + encodeURIComponent(id), class: "mono" }, id);
  }

  function clusterLink(id) {
    if (!id) return h("span", { class: "muted" }, "–");
    return h("a", { href: "/ui/clusters/" + encodeURIComponent(id), class: "mono" }, id);
  }

  // ---------------------------------------------------------------- rule names
  // Rule ids are UUIDs; pages show titles once /ui/api/rules answered (it never blocks a
  // first render: ids are shown short and replaced in place).
  const rules = { map: null, waiters: [] };

  function ruleTitle(id) {
    const r = rules.map && rules.map[id];
    return r ? r.title : id.slice(0, 8);
  }

  function ruleEl(id) {
    return h("span", { class: "rule", dataset: { ruleId: id }, title: id }, ruleTitle(id));
  }

  /** The first rule's name and "+N" for the others (all names in the tooltip). */
  function rulesBrief(ids) {
    if (!ids || !ids.length) return h("span", { class: "muted" }, "–");
    const more = ids.length > 1 ? h("span", { class: "muted" }, " +" + (ids.length - 1)) : null;
    return h("span", { class: "rules-brief", dataset: { ruleIds: ids.join(",") } }, ruleEl(ids[0]), more);
  }

  function refreshRuleNames(root) {
    (root || document).querySelectorAll("[data-rule-id]").forEach((node) => {
      node.textContent = ruleTitle(node.dataset.ruleId);
    });
    (root || document).querySelectorAll("[data-rule-ids]").forEach((node) => {
      node.title = node.dataset.ruleIds.split(",").map(ruleTitle).join("\n");
    });
  }

  function loadRules() {
    return fetch("/ui/api/rules", { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then((r) => (r.ok ? r.json() : { rules: {} }))
      .then((d) => {
        rules.map = d.rules || {};
        refreshRuleNames();
        for (const fn of rules.waiters) fn();
      })
      .catch(() => {
        rules.map = {};
      });
  }

  function onRules(fn) {
    if (rules.map) fn();
    else rules.waiters.push(fn);
  }

  // ---------------------------------------------------------------- API access
  class ApiError extends Error {
    constructor(status, detail) {
      super(detail || "HTTP " + status);
      this.status = status;
    }
  }

  function detailText(data) {
    if (!data) return "";
    const d = data.detail;
    if (typeof d === "string") return d;
    if (Array.isArray(d)) return d.map((e) => (e.loc || []).join(".") + ": " + e.msg).join("; ");
    return JSON.stringify(d || data);
  }

  // the risk bands of the fusion (GET /v1/vocabulary), fetched once per page
  let riskBandsP = null;
  function riskBands() {
    if (!riskBandsP) {
      riskBandsP = api("/v1/vocabulary")
        .then((v) => {
          const at = (name) => (v.risk_bands.find((b) => b.name === name) || {}).lo;
          return { review: at("review"), block: at("block") };
        })
        .catch(() => ({ review: undefined, block: undefined })); // no shading without them
    }
    return riskBandsP;
  }

  async function api(path, opts) {
    const o = opts || {};
    const headers = { Accept: "application/json", "X-Requested-With": "distillwatch" };
    let body;
    if (o.body !== undefined) {
      headers["Content-Type"] = "application/json";
      body = JSON.stringify(o.body);
    }
    const res = await fetch(path, {
      method: o.method || "GET",
      headers,
      body,
      credentials: "same-origin",
      cache: "no-store",
    });
    if (res.status === 401) {
      const back = location.pathname + location.search;
      location.assign("/ui/login?next=" + encodeURIComponent(back));
      throw new ApiError(401, "signed out");
    }
    let data = null;
    try {
      data = await res.json();
    } catch (_e) {
      data = null;
    }
    if (!res.ok) throw new ApiError(res.status, detailText(data));
    return data;
  }

  function post(path, body) {
    return api(path, { method: "POST", body: body || {} });
  }

  function qs(params) {
    const u = new URLSearchParams();
    for (const [k, v] of Object.entries(params)) {
      if (v !== null && v !== undefined && v !== "") u.set(k, v);
    }
    return u.toString();
  }

  function errorBox(node, err) {
    fill(node, h("p", { class: "error", role: "alert" }, "Could not load: " + (err.message || err)));
  }

  // ---------------------------------------------------------------- announcements
  let announceTimer = null;

  function announce(text) {
    const node = $("#announcer");
    if (!node) return;
    node.textContent = "";
    clearTimeout(announceTimer);
    announceTimer = setTimeout(() => {
      node.textContent = text;
    }, 50);
  }

  let toastTimer = null;

  function toast(text, kind) {
    const node = $("#toast");
    if (!node) return;
    node.textContent = text;
    node.className = "toast" + (kind ? " toast-" + kind : "");
    node.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => {
      node.hidden = true;
    }, 5000);
  }

  function debounce(fn, ms) {
    let timer = null;
    return function (...args) {
      clearTimeout(timer);
      timer = setTimeout(() => fn.apply(this, args), ms);
    };
  }

  // ---------------------------------------------------------------- live updates (SSE)
  const live = { listeners: [], received: 0, source: null };

  function setLive(on, text) {
    const node = $("#live-status");
    document.body.dataset.live = on ? "on" : "off";
    if (!node) return;
    node.textContent = text || (on ? "Live" : "Live: reconnecting");
    node.classList.toggle("live-on", on);
    node.classList.toggle("live-off", !on);
  }

  function onLive(fn) {
    live.listeners.push(fn);
  }

  function startLive() {
    if (!window.EventSource) {
      setLive(false, "Live: not supported");
      return;
    }
    const es = new EventSource("/ui/events");
    live.source = es;
    es.addEventListener("open", () => setLive(true));
    es.addEventListener("hello", () => setLive(true));
    es.addEventListener("error", () => {
      setLive(false);
      if (es.readyState === EventSource.CLOSED) {
        // refused (e.g. signed out): api() sends us to the sign-in page on a 401;
        // otherwise try again a little later
        api("/ui/api/whoami")
          .then(() => setTimeout(startLive, 5000))
          .catch(() => {});
      }
    });
    es.addEventListener("signed-out", () => {
      es.close();
      location.assign("/ui/login");
    });
    es.addEventListener("alert", (ev) => {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch (_e) {
        return;
      }
      live.received += 1;
      document.body.dataset.liveEvents = String(live.received);
      for (const fn of live.listeners) {
        try {
          fn(data);
        } catch (e) {
          console.error(e);
        }
      }
    });
    window.addEventListener("pagehide", () => es.close());
  }

  function describeAlert(d) {
    const who = d.account_id ? " on account " + d.account_id : "";
    const sev = d.severity ? humanize(d.severity) + " alert" : "Alert";
    return sev + who + ": " + (STATUS_TEXT[d.status] || d.status || "updated");
  }

  // ---------------------------------------------------------------- charts (SVG)
  function svgRoot(width, height, label) {
    const titleId = "t" + Math.random().toString(36).slice(2, 9);
    return s(
      "svg",
      {
        viewBox: "0 0 " + width + " " + height,
        class: "svg-chart",
        role: "img",
        "aria-labelledby": titleId,
        preserveAspectRatio: "xMidYMid meet",
      },
      s("title", { id: titleId }, label)
    );
  }

  function histogram(bins, label, bands) {
    const W = 420,
      H = 200,
      L = 44,
      B = 34,
      T = 10,
      R = 8;
    const max = Math.max(1, ...bins.map((b) => b.count));
    const svg = svgRoot(W, H, label);
    const bw = (W - L - R) / bins.length;
    const scale = (v) => T + (H - T - B) * (1 - Math.sqrt(v / max));
    for (const tick of [0, max / 4, max]) {
      const y = scale(tick);
      svg.appendChild(s("line", { x1: L, x2: W - R, y1: y, y2: y, class: "grid-line" }));
      svg.appendChild(s("text", { x: L - 6, y: y + 4, class: "axis-label", "text-anchor": "end" }, fmtInt(Math.round(tick))));
    }
    bins.forEach((b, i) => {
      const x = L + i * bw + 2;
      const y = scale(b.count);
      const cls = b.lo >= bands.block ? "bar bar-high" : b.lo >= bands.review ? "bar bar-mid" : "bar";
      svg.appendChild(
        s(
          "rect",
          { x, y, width: Math.max(bw - 4, 1), height: Math.max(H - B - y, 0), class: cls },
          s("title", {}, b.lo.toFixed(1) + "–" + b.hi.toFixed(1) + ": " + fmtInt(b.count) + " accounts")
        )
      );
      svg.appendChild(s("text", { x: x + bw / 2 - 2, y: H - B + 14, class: "axis-label", "text-anchor": "middle" }, b.lo.toFixed(1)));
    });
    svg.appendChild(s("text", { x: (W + L) / 2, y: H - 4, class: "axis-title", "text-anchor": "middle" }, "risk (bar height: square root of the count)"));
    return svg;
  }

  /** A line chart of points [{x: epoch s, y}], with optional dashed reference lines. */
  function lineChart(points, opts) {
    const o = opts || {};
    const W = o.width || 640,
      H = o.height || 200,
      L = o.left || 46,
      R = 12,
      T = 12,
      B = 28;
    const svg = svgRoot(W, H, o.label || "chart");
    const xs = points.map((p) => p.x);
    const refs = (o.refs || []).filter((r) => r.value !== null && r.value !== undefined);
    const ys = points.map((p) => p.y).concat(refs.map((r) => r.value));
    let x0 = Math.min(...xs),
      x1 = Math.max(...xs);
    if (x0 === x1) {
      x0 -= 1800;
      x1 += 1800;
    }
    let y0 = o.yMin !== undefined ? o.yMin : Math.min(0, ...ys);
    let y1 = o.yMax !== undefined ? o.yMax : Math.max(...ys);
    if (y0 === y1) y1 = y0 + 1;
    y1 += (y1 - y0) * (o.yMax !== undefined ? 0 : 0.08);
    const X = (v) => L + ((v - x0) / (x1 - x0)) * (W - L - R);
    const Y = (v) => T + (1 - (v - y0) / (y1 - y0)) * (H - T - B);
    for (const f of [0, 0.5, 1]) {
      const v = y0 + f * (y1 - y0);
      svg.appendChild(s("line", { x1: L, x2: W - R, y1: Y(v), y2: Y(v), class: "grid-line" }));
      svg.appendChild(s("text", { x: L - 5, y: Y(v) + 4, class: "axis-label", "text-anchor": "end" }, fmtNum(v)));
    }
    svg.appendChild(s("text", { x: L, y: H - 6, class: "axis-label" }, fmtTime(x0)));
    svg.appendChild(s("text", { x: W - R, y: H - 6, class: "axis-label", "text-anchor": "end" }, fmtTime(x1)));
    for (const r of refs) {
      const y = Y(r.value);
      svg.appendChild(s("line", { x1: L, x2: W - R, y1: y, y2: y, class: "ref-line ref-" + r.name }));
      svg.appendChild(s("text", { x: W - R - 2, y: y - 3, class: "ref-label", "text-anchor": "end" }, r.name));
    }
    if (o.bands) {
      for (const band of o.bands) {
        svg.appendChild(
          s("rect", { x: L, width: W - L - R, y: Y(band.hi), height: Math.max(Y(band.lo) - Y(band.hi), 0), class: band.class })
        );
      }
    }
    const d = points.map((p, i) => (i ? "L" : "M") + X(p.x).toFixed(1) + " " + Y(p.y).toFixed(1)).join(" ");
    svg.appendChild(s("path", { d, class: "series" }));
    for (const p of points) {
      svg.appendChild(
        s(
          "circle",
          { cx: X(p.x), cy: Y(p.y), r: o.dot || 3, class: "dot " + (p.cls || "") },
          s("title", {}, fmtTime(p.x) + ": " + fmtNum(p.y) + (p.note ? " (" + p.note + ")" : ""))
        )
      );
    }
    return svg;
  }

  function dataTable(caption, headers, rows) {
    return h(
      "table",
      { class: "data compact" },
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows.map((r) => h("tr", {}, r.map((c, i) => (i === 0 ? h("th", { scope: "row" }, c) : h("td", {}, c))))))
    );
  }

  // ---------------------------------------------------------------- pager helper
  function pager(onChange) {
    const prev = $("#page-prev"),
      next = $("#page-next"),
      info = $("#page-info");
    const state = { offset: 0, limit: 50, total: 0 };
    prev.addEventListener("click", () => onChange(Math.max(0, state.offset - state.limit)));
    next.addEventListener("click", () => onChange(state.offset + state.limit));
    return {
      state,
      update(offset, limit, total, shown) {
        Object.assign(state, { offset, limit, total });
        prev.disabled = offset <= 0;
        next.disabled = offset + limit >= total;
        const first = total ? offset + 1 : 0;
        const last = offset + (shown === undefined ? Math.min(limit, total - offset) : shown);
        info.textContent = total
          ? "Page " + (Math.floor(offset / limit) + 1) + " of " + Math.ceil(total / limit) + " (" + fmtInt(first) + "–" + fmtInt(last) + " of " + fmtInt(total) + ")"
          : "Nothing to show";
      },
    };
  }

  function pageSize() {
    return parseInt(document.body.dataset.pageSize || "50", 10) || 50;
  }

  // ================================================================= Overview
  async function pageOverview() {
    const updated = $("#ov-updated");
    async function load() {
      try {
        const [d, bands] = await Promise.all([api("/ui/api/overview"), riskBands()]);
        renderOverview(d, bands);
        const at = new Date(d.generated_at * 1000).toISOString().slice(11, 19);
        updated.textContent = "Updated " + at + " UTC" + (d.model.active ? " · model " + d.model.active : "");
        // count refreshes: the visible time has one-second resolution
        document.body.dataset.overviewLoads = String(Number(document.body.dataset.overviewLoads || 0) + 1);
      } catch (e) {
        if (e.status !== 401) updated.textContent = "Could not refresh: " + e.message;
      }
    }
    await load();
    setInterval(load, 15000);
    const reload = debounce(load, 800);
    onLive((d) => {
      announce(describeAlert(d));
      reload();
    });
  }

  const LEVEL_TEXT = { critical: "critical", high: "high", medium: "medium", low: "low", informational: "info" };

  /** One reason: a rule hit reads as its title, its level and what matched. */
  function reasonEl(text) {
    const m = /^rule '(.+?)' \((\w+)\): (.*)$/.exec(text);
    if (!m) return h("li", {}, text);
    const conditions = m[3].split("; ").map((c) => c.replace(/_/g, " "));
    return h(
      "li",
      { class: "rule-hit" },
      h("strong", {}, m[1]),
      " ",
      h("span", { class: "badge level-" + m[2] }, (LEVEL_TEXT[m[2]] || m[2]) + " rule"),
      h("div", { class: "muted small" }, "Matched because " + conditions.join(", ") + ".")
    );
  }

  function renderOverview(d, bands) {
    // alerts by severity x status
    const sevs = ["critical", "warning", "info"];
    for (const k of Object.keys(d.alerts.by)) if (!sevs.includes(k)) sevs.push(k);
    const statuses = ["firing", "acknowledged", "resolved", "false_positive"];
    const cell = (sev, st) => {
      const n = (d.alerts.by[sev] || {})[st] || 0;
      return n ? h("a", { href: "/ui/alerts?" + qs({ severity: sev, status: st }) }, fmtInt(n)) : h("span", { class: "muted" }, "0");
    };
    const table = h(
      "table",
      { class: "data compact", id: "ov-alert-table" },
      h("caption", { class: "visually-hidden" }, "Alert counts by severity (rows) and status (columns)"),
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Severity"), statuses.map((st) => h("th", { scope: "col", class: "num" }, STATUS_TEXT[st])))),
      h(
        "tbody",
        {},
        sevs.map((sev) => h("tr", {}, h("th", { scope: "row" }, sevBadge(sev)), statuses.map((st) => h("td", { class: "num", dataset: { sev, status: st } }, cell(sev, st)))))
      )
    );
    const firing = Object.values(d.alerts.by).reduce((a, m) => a + (m.firing || 0), 0);
    fill(
      $("#ov-alerts"),
      h("p", { class: "big-figure" }, h("strong", { id: "ov-firing" }, fmtInt(firing)), " firing of ", fmtInt(d.alerts.total), " alerts"),
      table,
      d.alerts.capped ? h("p", { class: "muted small" }, "Counted over the most recently updated alerts only.") : null
    );

    // risk histogram
    const bins = d.risk.bins;
    const high = bins.filter((b) => b.lo >= bands.block).reduce((a, b) => a + b.count, 0);
    const blockAt = bands.block === undefined ? "?" : String(bands.block);
    const label = "Risk distribution of " + fmtInt(d.risk.scored) + " scored accounts; " + fmtInt(high) + " at risk " + blockAt + " or more (block band)";
    fill(
      $("#ov-risk"),
      histogram(bins, label, bands),
      h("p", { class: "muted small" }, fmtInt(d.risk.scored) + " accounts scored, " + fmtInt(d.risk.with_state) + " with window state; " + fmtInt(high) + " at risk ≥ " + blockAt + " (block band)."),
      h(
        "details",
        {},
        h("summary", {}, "Risk distribution as a table"),
        dataTable("Accounts per risk band", ["Risk", "Accounts"], bins.map((b) => [b.lo.toFixed(1) + "–" + b.hi.toFixed(1), fmtInt(b.count)]))
      )
    );

    // ingest health
    const g = d.ingest;
    const rate = (v) => (v === null || v === undefined ? "measuring…" : fmtNum(v) + " /s");
    const lagCls = g.lag && g.lag > 10000 ? "warn" : "";
    const reasons = Object.entries(g.quarantined || {})
      .sort((a, b) => b[1] - a[1])
      .slice(0, 4)
      .map(([r, n]) => r + " " + fmtInt(n))
      .join(", ");
    const rows = [
      ["Events ingested", rate(g.ingested_per_s)],
      ["Events processed", rate(g.processed_per_s)],
      ["Worker lag", g.lag === null ? "no worker group" : fmtInt(g.lag) + " waiting, " + fmtInt(g.pending) + " pending"],
      ["Quarantined", fmtInt(g.quarantined_total) + (reasons ? " (" + reasons + ")" : "")],
      ["Dead letters", fmtInt(g.deadletter_len)],
      ["Totals", fmtInt(g.ingested) + " ingested, " + fmtInt(g.duplicates) + " duplicates, " + fmtInt(g.processed) + " processed"],
      ["Latest event", g.clock ? fmtTime(g.clock) : "–"],
      ["Model", d.model.active || d.model.published || "none yet"],
    ];
    fill(
      $("#ov-ingest"),
      h(
        "dl",
        { class: "kv" + (lagCls ? " " + lagCls : "") },
        rows.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])
      )
    );

    // gateway answers of this service process (its own counters since start)
    const gw = d.gateway || { decisions: {}, shed: {} };
    const actions = Object.entries(gw.decisions || {})
      .sort((a, b) => b[1] - a[1])
      .map(([a, n]) => a + " " + fmtInt(n))
      .join(", ");
    const shedWhy = Object.entries(gw.shed || {})
      .map(([r, n]) => r + " " + fmtInt(n))
      .join(", ");
    fill(
      $("#ov-gateway"),
      h(
        "dl",
        { class: "kv" + (gw.shed_total || gw.fail_mode_answers ? " warn" : "") },
        [
          ["Decisions", actions || "none yet"],
          ["Fail-mode answers", fmtInt(gw.fail_mode_answers || 0)],
          ["Shed (503, overload)", fmtInt(gw.shed_total || 0) + (shedWhy ? " (" + shedWhy + ")" : "")],
          ["In flight", fmtInt(gw.inflight || 0)],
          ["Event-loop lag", fmtNum((gw.loop_lag_s || 0) * 1000) + " ms"],
        ].map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])
      )
    );

    // top accounts
    fill(
      $("#ov-accounts"),
      d.top_accounts.length
        ? h(
            "table",
            { class: "data compact" },
            h("caption", { class: "visually-hidden" }, "The ten riskiest accounts"),
            h("thead", {}, h("tr", {}, ["Account", "Risk", "Action", "Rules", "Cluster"].map((t, i) => h("th", { scope: "col", class: i === 1 ? "num" : null }, t)))),
            h(
              "tbody",
              {},
              d.top_accounts.map((a) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, accountLink(a.account_id)),
                  h("td", { class: "num" }, fmtRisk(a.risk)),
                  h("td", {}, actionBadge(a.action), a.suppressed ? h("span", { class: "muted small" }, " (false positive)") : null),
                  h("td", { class: "small" }, rulesBrief(a.rule_ids)),
                  h("td", {}, clusterLink(a.cluster_id))
                )
              )
            )
          )
        : h("p", { class: "muted" }, "No account has been scored yet.")
    );

    // top clusters
    fill(
      $("#ov-clusters"),
      d.top_clusters.length
        ? h(
            "table",
            { class: "data compact" },
            h("caption", { class: "visually-hidden" }, "The riskiest linked clusters"),
            h("thead", {}, h("tr", {}, ["Cluster", "Members", "Risk", "Action"].map((t, i) => h("th", { scope: "col", class: i === 1 || i === 2 ? "num" : null }, t)))),
            h(
              "tbody",
              {},
              d.top_clusters.map((c) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, clusterLink(c.cluster_id)),
                  h("td", { class: "num" }, fmtInt(c.size)),
                  h("td", { class: "num" }, fmtRisk(c.risk)),
                  h("td", {}, actionBadge(c.action))
                )
              )
            )
          )
        : h("p", { class: "muted" }, "No linked clusters in the current window.")
    );
  }

  // ================================================================= Alert queue
  const FILTERS = ["severity", "status", "rule", "cluster_id", "account_id", "sort"];

  async function pageAlerts() {
    const form = $("#alert-filters");
    const rowsEl = $("#alert-rows");
    const selected = new Set();
    const canTriage = document.body.dataset.canTriage === "1";
    let items = [];
    let fresh = 0;
    const pg = pager((offset) => {
      current.offset = offset;
      pushUrl();
      load();
    });

    const url = new URLSearchParams(location.search);
    const current = { offset: parseInt(url.get("offset") || "0", 10) || 0 };
    for (const f of FILTERS) {
      current[f] = url.get(f) || "";
      if (form.elements[f]) form.elements[f].value = current[f] || (f === "sort" ? "risk" : "");
    }

    onRules(() => {
      const sel = form.elements.rule;
      const entries = Object.entries(rules.map).sort((x, y) => x[1].title.localeCompare(y[1].title));
      for (const [rid, r] of entries) sel.appendChild(h("option", { value: rid }, r.title));
      if (current.rule && !rules.map[current.rule]) sel.appendChild(h("option", { value: current.rule }, current.rule));
      sel.value = current.rule || "";
    });

    function pushUrl() {
      const params = {};
      for (const f of FILTERS) params[f] = current[f];
      params.offset = current.offset || "";
      if (params.sort === "risk") params.sort = "";
      const q = qs(params);
      history.replaceState(null, "", "/ui/alerts" + (q ? "?" + q : ""));
    }

    function apiParams() {
      const p = {
        severity: current.severity,
        status: current.status,
        rule: current.rule,
        cluster_id: current.cluster_id,
        account_id: current.account_id,
        sort: current.sort || "risk",
      };
      return p;
    }

    function updateBulk() {
      const n = selected.size;
      $("#bulk-count").textContent = n + " selected";
      $("#bulk-ack").disabled = n === 0 || !canTriage;
      const boxes = rowsEl.querySelectorAll("input[type=checkbox]");
      const all = $("#select-all");
      all.checked = boxes.length > 0 && [...boxes].every((b) => b.checked);
      all.indeterminate = !all.checked && [...boxes].some((b) => b.checked);
    }

    function row(a) {
      const box = h("input", {
        type: "checkbox",
        value: a.fingerprint,
        "aria-label": "Select the alert on account " + a.account_id,
        checked: selected.has(a.fingerprint),
        disabled: !canTriage,
        onchange: (ev) => {
          if (ev.target.checked) selected.add(a.fingerprint);
          else selected.delete(a.fingerprint);
          updateBulk();
        },
      });
      return h(
        "tr",
        { id: "alert-" + a.fingerprint, dataset: { fingerprint: a.fingerprint } },
        h("td", { class: "col-check" }, box),
        h("td", {}, sevBadge(a.severity)),
        h("td", { class: "status-cell" }, statusBadge(a.status)),
        h("th", { scope: "row" }, accountLink(a.account_id), a.summary ? h("div", { class: "muted small clamp" }, a.summary) : null),
        h("td", { class: "num" }, fmtRisk(a.risk)),
        h("td", {}, actionBadge(a.action)),
        h("td", { class: "small" }, rulesBrief(a.rule_ids)),
        h("td", {}, clusterLink(a.cluster_id)),
        h("td", { class: "small nowrap" }, timeEl(a.last_seen, true))
      );
    }

    async function load() {
      rowsEl.setAttribute("aria-busy", "true");
      const limit = pageSize();
      const params = Object.assign(apiParams(), { offset: current.offset, limit });
      $("#csv-link").href = "/v1/alerts.csv?" + qs(apiParams());
      try {
        const d = await api("/v1/alerts?" + qs(params));
        items = d.items || [];
        if (!items.length && current.offset > 0 && d.total > 0) {
          current.offset = Math.max(0, Math.floor((d.total - 1) / limit) * limit);
          pushUrl();
          return load();
        }
        fill(rowsEl, items.length ? items.map(row) : h("tr", {}, h("td", { colspan: 9, class: "muted" }, "No alert matches these filters.")));
        pg.update(current.offset, limit, d.total, items.length);
        $("#queue-range").textContent = fmtInt(d.total) + " alerts match.";
        fresh = 0;
        $("#live-banner").hidden = true;
        updateBulk();
      } catch (e) {
        fill(rowsEl, h("tr", {}, h("td", { colspan: 9, class: "error" }, "Could not load alerts: " + e.message)));
      }
    }

    form.addEventListener("submit", (ev) => {
      ev.preventDefault();
      for (const f of FILTERS) current[f] = (form.elements[f].value || "").trim();
      current.offset = 0;
      selected.clear();
      pushUrl();
      load();
    });
    form.addEventListener("reset", () => {
      setTimeout(() => {
        for (const f of FILTERS) current[f] = "";
        form.elements.sort.value = "risk";
        current.offset = 0;
        selected.clear();
        pushUrl();
        load();
      }, 0);
    });
    for (const f of ["severity", "status", "rule", "sort"]) {
      form.elements[f].addEventListener("change", () => form.requestSubmit());
    }
    $("#select-all").addEventListener("change", (ev) => {
      for (const a of items) {
        if (ev.target.checked) selected.add(a.fingerprint);
        else selected.delete(a.fingerprint);
      }
      rowsEl.querySelectorAll("input[type=checkbox]").forEach((b) => {
        b.checked = ev.target.checked;
      });
      updateBulk();
    });
    $("#bulk-ack").addEventListener("click", async () => {
      const fps = [...selected];
      if (!fps.length) return;
      const btn = $("#bulk-ack");
      btn.disabled = true;
      const note = $("#bulk-note").value.trim();
      try {
        const d = await post("/v1/alerts/acknowledge", { fingerprints: fps, note: note || null });
        const results = (d && (d.results || d.items)) || [];
        const counts = {};
        for (const r of results) counts[r.result] = (counts[r.result] || 0) + 1;
        const parts = Object.entries(counts).map(([k, n]) => n + " " + humanize(k).toLowerCase());
        const msg = parts.length ? parts.join(", ") : fps.length + " acknowledged";
        toast(msg, "ok");
        announce(msg);
        selected.clear();
        $("#bulk-note").value = "";
        await load();
      } catch (e) {
        toast("Bulk acknowledge failed: " + e.message, "error");
        updateBulk();
      }
    });
    $("#live-banner-show").addEventListener("click", () => load());

    onLive((d) => {
      const tr = d.fingerprint ? document.getElementById("alert-" + d.fingerprint) : null;
      if (tr && d.status) {
        const cell = tr.querySelector(".status-cell");
        fill(cell, statusBadge(d.status));
        const item = items.find((a) => a.fingerprint === d.fingerprint);
        if (item) item.status = d.status;
        tr.classList.remove("flash");
        void tr.offsetWidth;
        tr.classList.add("flash");
        announce(describeAlert(d));
      } else if (d.status === "firing") {
        fresh += 1;
        $("#live-banner-text").textContent = fresh + (fresh === 1 ? " new alert" : " new alerts") + " since this page was loaded.";
        $("#live-banner").hidden = false;
        announce(describeAlert(d));
      }
    });

    await load();
  }

  // ================================================================= Accounts list
  async function pageAccounts() {
    const rowsEl = $("#acct-rows");
    const url = new URLSearchParams(location.search);
    let offset = parseInt(url.get("offset") || "0", 10) || 0;
    const pg = pager((o) => {
      offset = o;
      history.replaceState(null, "", "/ui/accounts" + (o ? "?offset=" + o : ""));
      load();
    });
    $("#account-jump").addEventListener("submit", (ev) => {
      ev.preventDefault();
      const id = $("#jump-id").value.trim();
      if (id) location.assign("/ui/accounts/" + encodeURIComponent(id));
    });
    async function load() {
      const limit = pageSize();
      rowsEl.setAttribute("aria-busy", "true");
      try {
        const d = await api("/v1/accounts?" + qs({ offset, limit }));
        fill(
          rowsEl,
          d.items.length
            ? d.items.map((a) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, accountLink(a.account_id)),
                  h("td", { class: "num" }, fmtRisk(a.risk)),
                  h("td", {}, actionBadge(a.action), a.suppressed ? h("span", { class: "muted small" }, " (false positive)") : null),
                  h("td", { class: "small" }, rulesBrief(a.rule_ids)),
                  h("td", {}, clusterLink(a.cluster_id)),
                  h("td", { class: "num" }, fmtInt(a.n_events)),
                  h("td", { class: "small" }, timeEl(a.scored_at, true))
                )
              )
            : h("tr", {}, h("td", { colspan: 7, class: "muted" }, "No account has been scored yet."))
        );
        pg.update(offset, limit, d.total, d.items.length);
        $("#acct-range").textContent = fmtInt(d.total) + " accounts ranked by risk.";
      } catch (e) {
        fill(rowsEl, h("tr", {}, h("td", { colspan: 7, class: "error" }, "Could not load accounts: " + e.message)));
      }
    }
    await load();
  }

  // ================================================================= Clusters list
  async function pageClusters() {
    const rowsEl = $("#cl-rows");
    let offset = 0;
    const pg = pager((o) => {
      offset = o;
      load();
    });
    async function load() {
      const limit = pageSize();
      try {
        const d = await api("/v1/clusters?" + qs({ offset, limit }));
        fill(
          rowsEl,
          d.items.length
            ? d.items.map((c) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, clusterLink(c.cluster_id)),
                  h("td", { class: "num" }, fmtInt(c.size)),
                  h("td", { class: "num" }, fmtRisk(c.risk)),
                  h("td", {}, actionBadge(c.action)),
                  h("td", { class: "num" }, fmtInt((c.features || {}).n_events)),
                  h("td", { class: "small" }, c.reason || "–")
                )
              )
            : h("tr", {}, h("td", { colspan: 6, class: "muted" }, "No linked clusters in the current window."))
        );
        pg.update(offset, limit, d.total, d.items.length);
        $("#cl-range").textContent = fmtInt(d.total) + " clusters.";
      } catch (e) {
        fill(rowsEl, h("tr", {}, h("td", { colspan: 6, class: "error" }, "Could not load clusters: " + e.message)));
      }
    }
    await load();
  }

  // ================================================================= Account page
  const FEATURE_LABELS = {
    events_per_hour: "Requests per hour",
    completion_tokens_per_hour: "Completion tokens per hour",
    distinct_prompt_ratio: "Share of distinct prompts",
    template_share: "Share of templated prompts",
    cot_share: "Share asking for step-by-step reasoning",
    finish_length_share: "Share cut off at max length",
    logprobs_share: "Share requesting logprobs",
    logit_bias_share: "Share using logit bias",
    max_tokens_tiny_share: "Share with tiny max_tokens",
    gap_cv: "Irregularity of request gaps (CV)",
    distinct_ips: "Distinct IP addresses",
    distinct_ip_prefixes: "Distinct IP prefixes",
  };
  const BAND_ORDER = { "above p99": 0, "p90-p99": 1, "p50-p90": 2, "at or below p50": 3 };

  async function pageAccount() {
    const root = $("#account-root");
    const id = root.dataset.accountId;
    const enc = encodeURIComponent(id);
    const state = { account: null, alert: null };

    async function fetchAlert(fp) {
      try {
        return await api("/v1/alerts/" + encodeURIComponent(fp));
      } catch (_e) {
        return null;
      }
    }

    async function loadAlert() {
      // the account's open alert carries the trail; it is one O(1) read
      const fp = state.account && state.account.open_alert;
      state.alert = fp ? await fetchAlert(fp) : null;
    }

    async function loadPastAlert() {
      // no open alert: look for the latest one of the account (a filtered list, slower
      // on a large alert index, so it runs after the first render)
      if (state.alert || !state.account) return;
      try {
        const d = await api("/v1/alerts?" + qs({ account_id: id, sort: "last_seen", limit: 1 }));
        const latest = (d.items || [])[0];
        if (!latest) return;
        state.alert = await fetchAlert(latest.fingerprint);
      } catch (_e) {
        return;
      }
      if (state.alert) {
        renderVerdict();
        renderTrail();
      }
    }

    async function loadAccount() {
      try {
        state.account = await api("/v1/accounts/" + enc);
      } catch (e) {
        const err = $("#acct-error");
        err.textContent = e.status === 404 ? "No account " + id + " is known in the current window." : "Could not load the account: " + e.message;
        err.hidden = false;
        for (const sel of ["#acct-verdict", "#acct-why", "#acct-linked", "#acct-trail"]) fill($(sel), h("p", { class: "muted" }, "–"));
        state.account = null;
      }
    }

    async function refresh() {
      await loadAccount();
      await loadAlert();
      renderVerdict();
      renderWhy();
      renderLinked();
      renderTrail();
      loadPastAlert();
    }

    const historyP = api("/v1/accounts/" + enc + "/history?" + qs({ limit: 200 })).catch((e) => e);
    const featuresP = api("/v1/accounts/" + enc + "/features").catch((e) => e);
    await refresh();
    const [hist, feats, bands] = await Promise.all([historyP, featuresP, riskBands()]);
    renderRisk(hist, bands);
    renderFeatures(hist, feats);

    function renderVerdict() {
      const a = state.account;
      const node = $("#acct-verdict");
      if (!a) return;
      const alert = state.alert;
      const decision = a.decision;
      const rec = {
        block: "Block this account: its traffic looks like output harvesting.",
        throttle: "Throttle this account while it is reviewed.",
        review: "Review this account: some signals are unusual.",
        allow: "No action needed.",
      };
      fill(
        $("#acct-badges"),
        h("span", { class: "risk-figure", title: "Fused risk in [0, 1]" }, "Risk ", h("strong", { id: "acct-risk" }, fmtRisk(a.risk))),
        actionBadge(a.action),
        alert ? statusBadge(alert.status) : null,
        decision && decision.action === "block" ? h("span", { class: "badge act-block", id: "acct-decision-badge" }, "Block confirmed") : null
      );
      const lines = [
        h("p", { class: "lead" }, rec[a.action] || "Recommended: " + a.action),
        a.suppressed ? h("p", { class: "note-box" }, "The alert was marked a false positive" + (a.suppressed_by ? " by " + a.suppressed_by : "") + "; gateways allow the account.") : null,
        a.allowlisted ? h("p", { class: "note-box" }, "This account is on an allowlist.") : null,
        decision
          ? h(
              "p",
              { class: "note-box decision", id: "acct-decision" },
              h("strong", {}, humanize(decision.action) + " confirmed"),
              " by " + decision.by + " at " + fmtTime(decision.at),
              decision.note ? ": “" + decision.note + "”" : ""
            )
          : null,
        alert
          ? h(
              "p",
              {},
              "Alert ",
              h("span", { class: "mono" }, alert.fingerprint),
              " is ",
              h("strong", { id: "acct-alert-status", dataset: { status: alert.status } }, (STATUS_TEXT[alert.status] || alert.status).toLowerCase()),
              alert.fired_at ? ", fired " + ago(alert.fired_at) : "",
              "."
            )
          : h("p", { class: "muted" }, "No alert for this account."),
        h(
          "dl",
          { class: "kv" },
          h("dt", {}, "Events in window"),
          h("dd", {}, fmtInt(a.n_events)),
          h("dt", {}, "Scored"),
          h("dd", {}, timeEl(a.scored_at)),
          h("dt", {}, "Model"),
          h("dd", { class: "mono small" }, a.model_version || "–")
        ),
      ];
      fill(node, lines);
      const form = $("#triage-form");
      if (form) {
        form.hidden = false;
        const st = alert ? alert.status : null;
        $("#btn-block").disabled = !!(decision && decision.action === "block");
        $("#btn-fp").disabled = !alert || st === "false_positive";
        $("#btn-ack").disabled = !alert || st !== "firing";
        $("#btn-note").disabled = !alert;
      }
    }

    function renderWhy() {
      const a = state.account;
      if (!a) return;
      const reasons = a.reasons || [];
      const pct = a.anomaly_percentile;
      fill(
        $("#acct-why"),
        reasons.length ? h("ul", { class: "reasons" }, reasons.map(reasonEl)) : h("p", { class: "muted" }, "No rule or model signal stands out."),
        h(
          "dl",
          { class: "kv" },
          h("dt", {}, "Rules matched"),
          h(
            "dd",
            {},
            (a.rule_ids || []).length
              ? h("ul", { class: "rule-list" }, a.rule_ids.map((r) => h("li", {}, h("a", { href: "/ui/alerts?" + qs({ rule: r }), title: "Alerts matching this rule" }, ruleEl(r)))))
              : "none"
          ),
          h("dt", {}, "Signal families"),
          h("dd", {}, (a.families || []).map(humanize).join(", ") || "–"),
          h("dt", {}, "Anomaly model"),
          h("dd", {}, pct !== null && pct !== undefined ? "more unusual than " + Math.round(pct * 100) + "% of accounts" : "–")
        )
      );
    }

    function renderLinked() {
      const a = state.account;
      if (!a) return;
      const c = a.cluster;
      if (!c) {
        fill($("#acct-linked"), h("p", { class: "muted" }, "Not linked to other accounts in the current window."));
        return;
      }
      const linked = c.linked_accounts || [];
      fill(
        $("#acct-linked"),
        h("p", {}, "Member of cluster ", clusterLink(c.cluster_id), c.size ? " with " + fmtInt(c.size) + " accounts" : "", c.action ? "; recommended: " : "", c.action ? actionBadge(c.action) : null),
        c.reason ? h("p", { class: "small" }, c.reason) : null,
        linked.length ? h("ul", { class: "chips" }, linked.map((m) => h("li", {}, accountLink(m)))) : null,
        c.size && c.size - 1 > linked.length ? h("p", { class: "small" }, h("a", { href: "/ui/clusters/" + encodeURIComponent(c.cluster_id) }, "All " + fmtInt(c.size) + " members")) : null
      );
    }

    function renderTrail() {
      const node = $("#acct-trail");
      const a = state.account;
      const entries = [];
      if (state.alert && state.alert.trail) {
        for (const t of state.alert.trail) entries.push(t);
      }
      if (a && a.decision && !entries.some((t) => t.action === "confirm_block" && t.at === a.decision.at)) {
        entries.push({ by: a.decision.by, at: a.decision.at, action: "confirm_block", note: a.decision.note });
      }
      entries.sort((x, y) => String(y.at).localeCompare(String(x.at)));
      if (state.alert && state.alert.fired_at) {
        entries.push({ by: "detector", at: state.alert.fired_at, action: "fired", note: state.alert.summary || null });
      }
      fill(
        node,
        entries.length
          ? h(
              "ol",
              { class: "trail", id: "trail-list" },
              entries.map((t) =>
                h(
                  "li",
                  { dataset: { action: t.action } },
                  h("div", {}, h("strong", {}, t.by || "?"), " ", t.action === "fired" ? "fired the alert" : TRAIL_TEXT[t.action] || humanize(t.action), " ", h("span", { class: "muted small" }, timeEl(t.at))),
                  t.note ? h("blockquote", {}, t.note) : null
                )
              )
            )
          : h("p", { class: "muted" }, "No triage yet.")
      );
    }

    function renderRisk(hist, bands) {
      const node = $("#acct-risk-chart");
      if (hist instanceof Error || !hist || !(hist.items || []).length) {
        fill(node, h("p", { class: "muted" }, hist instanceof Error && hist.status !== 404 ? "Could not load the history: " + hist.message : "No score history yet."));
        return;
      }
      const items = hist.items.slice().reverse();
      const pts = items.map((x) => ({ x: x.as_of || x.t, y: x.risk, cls: "act-" + x.action, note: x.action }));
      const first = pts[0].y,
        last = pts[pts.length - 1].y;
      const label = "Risk over " + pts.length + " scorings, from " + fmtRisk(first) + " to " + fmtRisk(last);
      fill(
        node,
        lineChart(pts, {
          label,
          yMin: 0,
          yMax: 1,
          width: 900,
          height: 200,
          dot: 3.5,
          bands:
            bands.review === undefined
              ? []
              : [
                  { lo: bands.block, hi: 1, class: "band-high" },
                  { lo: bands.review, hi: bands.block, class: "band-mid" },
                ],
        }),
        h("p", { class: "muted small" }, label + " (event time). Shaded: the review band (risk ≥ " + bands.review + ") and the block band (≥ " + bands.block + ")."),
        h(
          "details",
          {},
          h("summary", {}, "Risk history as a table"),
          dataTable(
            "Score snapshots, newest first",
            ["Event time", "Risk", "Action", "Rules"],
            hist.items.slice(0, 50).map((x) => [fmtTime(x.as_of || x.t), fmtRisk(x.risk), ACTION_TEXT[x.action] || x.action, (x.rule_ids || []).map(ruleTitle).join("; ") || "–"])
          )
        )
      );
    }

    function renderFeatures(hist, feats) {
      const node = $("#acct-features");
      const pop = {};
      if (feats && !(feats instanceof Error)) for (const f of feats.features || []) pop[f.name] = f;
      const items = hist && !(hist instanceof Error) ? (hist.items || []).slice().reverse() : [];
      const names = new Set();
      for (const x of items) for (const k of Object.keys(x.features || {})) names.add(k);
      if (!names.size) for (const k of Object.keys(FEATURE_LABELS)) if (pop[k]) names.add(k);
      if (!names.size) {
        fill(node, h("p", { class: "muted" }, "No feature values stored for this account."));
        return;
      }
      const order = [...names].sort((a, b) => {
        const ba = BAND_ORDER[(pop[a] || {}).band] ?? 9,
          bb = BAND_ORDER[(pop[b] || {}).band] ?? 9;
        return ba - bb || a.localeCompare(b);
      });
      const cards = order.map((name) => {
        const p = pop[name] || {};
        let pts = items.filter((x) => x.features && x.features[name] !== undefined).map((x) => ({ x: x.as_of || x.t, y: x.features[name] }));
        if (!pts.length && p.value !== undefined) pts = [{ x: (feats && feats.scored_as_of) || Date.now() / 1000, y: p.value }];
        const current = p.value !== undefined ? p.value : pts.length ? pts[pts.length - 1].y : null;
        const title = FEATURE_LABELS[name] || humanize(name);
        const band = p.band || null;
        const label = title + ": " + fmtNum(current) + (band ? ", " + band + " of the population" : "");
        return h(
          "figure",
          { class: "feature" + (band === "above p99" ? " feature-hot" : band === "p90-p99" ? " feature-warm" : "") },
          h("figcaption", {}, h("span", { class: "feature-name" }, title), h("span", { class: "feature-value" }, fmtNum(current), band ? h("span", { class: "band" }, " " + band) : null)),
          pts.length
            ? lineChart(pts, {
                label,
                width: 300,
                height: 120,
                left: 40,
                dot: 2,
                refs: [
                  { name: "p50", value: p.p50 },
                  { name: "p90", value: p.p90 },
                  { name: "p99", value: p.p99 },
                ],
              })
            : h("p", { class: "muted small" }, "no values")
        );
      });
      fill(node, cards);
    }

    // triage
    const form = $("#triage-form");
    if (form) {
      const status = $("#triage-status");
      const note = () => $("#triage-note").value.trim() || null;
      async function act(label, fn, needsNote) {
        if (needsNote && !note()) {
          status.textContent = "Write a note first.";
          $("#triage-note").focus();
          return;
        }
        const buttons = form.querySelectorAll("button");
        buttons.forEach((b) => (b.disabled = true));
        status.textContent = label + "…";
        try {
          await fn();
          $("#triage-note").value = "";
          await refresh();
          status.textContent = label + ": done.";
          toast(label + ": done.", "ok");
        } catch (e) {
          status.textContent = label + " failed: " + e.message;
          toast(label + " failed: " + e.message, "error");
          renderVerdict();
        }
      }
      const fp = () => state.alert && state.alert.fingerprint;
      $("#btn-block").addEventListener("click", () =>
        act("Confirm block", () => post("/v1/accounts/" + enc + "/confirm-block", { note: note() }))
      );
      $("#btn-fp").addEventListener("click", () =>
        act("Mark false positive", () => post("/v1/alerts/" + encodeURIComponent(fp()) + "/false-positive", { note: note() }))
      );
      $("#btn-ack").addEventListener("click", () =>
        act("Acknowledge", () => post("/v1/alerts/" + encodeURIComponent(fp()) + "/acknowledge", { note: note() }))
      );
      $("#btn-note").addEventListener("click", () =>
        act("Add note", () => post("/v1/alerts/" + encodeURIComponent(fp()) + "/notes", { note: note() }), true)
      );
    }

    const reload = debounce(async () => {
      await refresh();
      announce("This account's alert changed.");
    }, 600);
    onLive((d) => {
      if (d.account_id === id) reload();
    });
  }

  // ================================================================= Cluster page
  async function pageCluster() {
    const root = $("#cluster-root");
    const id = root.dataset.clusterId;
    let c;
    try {
      c = await api("/v1/clusters/" + encodeURIComponent(id));
    } catch (e) {
      const err = $("#cl-error");
      err.textContent = e.status === 404 ? "No cluster " + id + " in the current window (clusters are rebuilt at each population refresh)." : "Could not load the cluster: " + e.message;
      err.hidden = false;
      for (const sel of ["#cl-summary", "#cl-graph", "#cl-members", "#cl-links"]) fill($(sel), h("p", { class: "muted" }, "–"));
      return;
    }
    const f = c.features || {};
    fill($("#cl-badges"), h("span", { class: "risk-figure" }, "Risk ", h("strong", {}, fmtRisk(c.risk))), actionBadge(c.action));
    fill(
      $("#cl-summary"),
      h("p", { class: "lead" }, c.reason || "Linked accounts."),
      h(
        "dl",
        { class: "kv" },
        h("dt", {}, "Members"),
        h("dd", {}, fmtInt(c.size)),
        h("dt", {}, "Combined volume"),
        h("dd", { id: "cl-volume" }, fmtInt(c.volume !== undefined ? c.volume : f.n_events) + " requests" + (f.completion_tokens ? ", " + fmtInt(f.completion_tokens) + " completion tokens" : "")),
        f.events_per_hour !== undefined ? [h("dt", {}, "Rate"), h("dd", {}, fmtNum(f.events_per_hour) + " requests per hour")] : null,
        h("dt", {}, "Active"),
        h("dd", {}, fmtTime(c.first_ts) + " to " + fmtTime(c.last_ts)),
        h("dt", {}, "Links"),
        h("dd", {}, fmtInt((c.edges || []).length) + (f.edges && f.edges > (c.edges || []).length ? " shown of " + fmtInt(f.edges) : "")),
        f.harvest !== undefined ? [h("dt", {}, "Harvest score"), h("dd", {}, fmtNum(f.harvest))] : null,
        f.coordination !== undefined ? [h("dt", {}, "Coordination"), h("dd", {}, fmtNum(f.coordination))] : null
      ),
      (c.evidence || []).length ? [h("h3", {}, "Shared evidence"), h("ul", { class: "reasons" }, c.evidence.map((e) => h("li", {}, e)))] : null
    );
    fill($("#cl-graph"), clusterGraph(c));
    const members = c.members || [];
    fill(
      $("#cl-members"),
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { class: "data compact" },
          h("caption", { class: "visually-hidden" }, "Member accounts, riskiest first"),
          h("thead", {}, h("tr", {}, ["Account", "Risk", "Action", "Events"].map((t, i) => h("th", { scope: "col", class: i === 1 || i === 3 ? "num" : null }, t)))),
          h(
            "tbody",
            {},
            members.map((m) =>
              h(
                "tr",
                {},
                h("th", { scope: "row" }, accountLink(m.account_id)),
                h("td", { class: "num" }, fmtRisk(m.risk)),
                h("td", {}, m.known === false ? h("span", { class: "muted" }, "not scored") : actionBadge(m.action), m.suppressed ? h("span", { class: "muted small" }, " (false positive)") : null),
                h("td", { class: "num" }, fmtInt(m.n_events))
              )
            )
          )
        )
      )
    );
    linksTable(c.edges || []);
  }

  function linksTable(edges) {
    const node = $("#cl-links");
    if (!edges.length) {
      fill(node, h("p", { class: "muted" }, "No link details stored."));
      return;
    }
    const per = 50;
    let page = 0;
    const sorted = edges.slice().sort((a, b) => b.weight - a.weight);
    function render() {
      const slice = sorted.slice(page * per, page * per + per);
      fill(
        node,
        h(
          "div",
          { class: "table-wrap" },
          h(
            "table",
            { class: "data compact" },
            h("caption", { class: "visually-hidden" }, "Links between members with their evidence, strongest first"),
            h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Account"), h("th", { scope: "col" }, "Linked to"), h("th", { scope: "col", class: "num" }, "Strength"), h("th", { scope: "col" }, "Evidence"))),
            h(
              "tbody",
              {},
              slice.map((e) =>
                h(
                  "tr",
                  {},
                  h("th", { scope: "row" }, accountLink(e.a)),
                  h("td", {}, accountLink(e.b)),
                  h("td", { class: "num" }, fmtNum(e.weight)),
                  h("td", { class: "small" }, (e.evidence || []).join(" · ") || "–")
                )
              )
            )
          )
        ),
        sorted.length > per
          ? h(
              "nav",
              { class: "pager", "aria-label": "Link pages" },
              h("button", { type: "button", class: "btn", disabled: page === 0, onclick: () => { page -= 1; render(); } }, "Previous links"),
              h("span", { class: "muted small" }, "Links " + (page * per + 1) + "–" + Math.min(sorted.length, page * per + per) + " of " + sorted.length),
              h("button", { type: "button", class: "btn", disabled: (page + 1) * per >= sorted.length, onclick: () => { page += 1; render(); } }, "Next links")
            )
          : null
      );
    }
    render();
  }

  /** Force-directed layout (deterministic), drawn as SVG; nodes link to account pages. */
  function clusterGraph(c) {
    const members = (c.members || []).slice(0, 150);
    const index = new Map(members.map((m, i) => [m.account_id, i]));
    const edges = (c.edges || []).filter((e) => index.has(e.a) && index.has(e.b));
    const W = 520,
      H = 360,
      n = members.length;
    const label = "Graph of " + n + " member accounts and " + edges.length + " links; node size shows request volume, colour the recommended action";
    if (!n) return h("p", { class: "muted" }, "No members.");
    const pairs = (n * (n - 1)) / 2;
    const dense = n <= 3 || edges.length >= 0.5 * pairs;
    const pos = members.map((_m, i) => {
      const a = (2 * Math.PI * i) / n - Math.PI / 2;
      return { x: W / 2 + (W / 3) * Math.cos(a), y: H / 2 + (H / 3) * Math.sin(a), dx: 0, dy: 0 };
    });
    if (!dense) {
      // Fruchterman-Reingold from the circle (deterministic: no random start)
      const k = Math.sqrt((W * H) / Math.max(n, 1)) * 0.6;
      let temp = W / 10;
      for (let it = 0; it < 200; it++) {
        for (const p of pos) p.dx = p.dy = 0;
        for (let i = 0; i < n; i++) {
          for (let j = i + 1; j < n; j++) {
            const dx = pos[i].x - pos[j].x,
              dy = pos[i].y - pos[j].y;
            const d2 = Math.max(dx * dx + dy * dy, 0.01);
            const f = (k * k) / d2;
            pos[i].dx += dx * f;
            pos[i].dy += dy * f;
            pos[j].dx -= dx * f;
            pos[j].dy -= dy * f;
          }
        }
        for (const e of edges) {
          const i = index.get(e.a),
            j = index.get(e.b);
          const dx = pos[i].x - pos[j].x,
            dy = pos[i].y - pos[j].y;
          const d = Math.max(Math.sqrt(dx * dx + dy * dy), 0.01);
          const f = d / k;
          pos[i].dx -= dx * f;
          pos[i].dy -= dy * f;
          pos[j].dx += dx * f;
          pos[j].dy += dy * f;
        }
        for (const p of pos) {
          const d = Math.max(Math.sqrt(p.dx * p.dx + p.dy * p.dy), 0.01);
          p.x += (p.dx / d) * Math.min(d, temp);
          p.y += (p.dy / d) * Math.min(d, temp);
        }
        temp *= 0.98;
      }
      // fit the drawing to the box
      const xs = pos.map((p) => p.x),
        ys = pos.map((p) => p.y);
      const minX = Math.min(...xs),
        maxX = Math.max(...xs),
        minY = Math.min(...ys),
        maxY = Math.max(...ys);
      const M = 40;
      const sc = Math.min((W - 2 * M) / Math.max(maxX - minX, 1), (H - 2 * M) / Math.max(maxY - minY, 1));
      for (const p of pos) {
        p.x = M + (p.x - minX) * sc + (W - 2 * M - (maxX - minX) * sc) / 2;
        p.y = M + (p.y - minY) * sc + (H - 2 * M - (maxY - minY) * sc) / 2;
      }
    }
    const maxEv = Math.max(1, ...members.map((m) => m.n_events || 0));
    const svg = svgRoot(W, H, label);
    svg.classList.add("graph-svg");
    const maxW = Math.max(0.01, ...edges.map((e) => e.weight || 0));
    for (const e of edges) {
      const a = pos[index.get(e.a)],
        b = pos[index.get(e.b)];
      svg.appendChild(
        s(
          "line",
          { x1: a.x.toFixed(1), y1: a.y.toFixed(1), x2: b.x.toFixed(1), y2: b.y.toFixed(1), class: "edge", "stroke-width": (0.6 + 2.6 * ((e.weight || 0) / maxW)).toFixed(2) },
          s("title", {}, e.a + " – " + e.b + ": " + (e.evidence || []).join("; "))
        )
      );
    }
    members.forEach((m, i) => {
      const r = 5 + 11 * Math.sqrt((m.n_events || 0) / maxEv);
      const p = pos[i];
      const link = s(
        "a",
        { href: "/ui/accounts/" + encodeURIComponent(m.account_id), class: "node-link", "aria-label": "Account " + m.account_id + ", risk " + fmtRisk(m.risk) + ", " + (m.action || "not scored") },
        s("circle", { cx: p.x.toFixed(1), cy: p.y.toFixed(1), r: r.toFixed(1), class: "node act-" + (m.action || "none") }),
        s("title", {}, m.account_id + ": risk " + fmtRisk(m.risk) + ", " + fmtInt(m.n_events) + " requests")
      );
      svg.appendChild(link);
      if (n <= 30) {
        svg.appendChild(s("text", { x: (p.x + r + 2).toFixed(1), y: (p.y + 4).toFixed(1), class: "node-label" }, m.account_id.length > 16 ? m.account_id.slice(0, 15) + "…" : m.account_id));
      }
    });
    const legend = h(
      "p",
      { class: "legend small" },
      ["block", "throttle", "review", "allow"].map((a) => h("span", { class: "legend-item" }, h("span", { class: "swatch act-" + a }), ACTION_TEXT[a])),
      c.members && c.members.length > members.length ? h("span", { class: "muted" }, " (first " + members.length + " members drawn)") : null
    );
    return [svg, legend];
  }

  // ================================================================= boot
  const PAGES = {
    overview: pageOverview,
    alerts: pageAlerts,
    accounts: pageAccounts,
    account: pageAccount,
    clusters: pageClusters,
    cluster: pageCluster,
  };

  function boot() {
    const page = document.body.dataset.page;
    const fn = PAGES[page];
    if (!fn) return;
    startLive();
    loadRules();
    Promise.resolve(fn())
      .catch((e) => {
        if (e && e.status !== 401) console.error(e);
      })
      .finally(() => {
        document.body.dataset.ready = "1";
      });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", boot);
  else boot();
})();
