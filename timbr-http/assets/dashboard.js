// The timbr dashboard: follows /api/events (server-sent events) and draws the fleet's
// totals, each machine's status table and small charts; the charts over time and the stage
// graph come from the server's history (/api/history/<window>, charts.js and graph.js).
// Plain DOM, no libraries; text goes in through textContent only, so names and error
// messages cannot inject markup.
"use strict";

const HISTORY = 300; // points kept per machine's small charts: 5 minutes at one push a second
const sparks = new Map(); // source -> [{t, rate, depth}]

const fmt = (n) => (n === null || n === undefined) ? "–" : Number(n).toLocaleString("en-US");
const fmtRate = (r) => Number(r || 0).toLocaleString("en-US", { maximumFractionDigits: 1 });

function fmtSecs(s) {
  if (!s) return "–";
  if (s < 1e-6) return (s * 1e9).toFixed(0) + " ns";
  if (s < 1e-3) return (s * 1e6).toFixed(1) + " µs";
  if (s < 1) return (s * 1e3).toFixed(1) + " ms";
  return s.toFixed(2) + " s";
}

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const SVG = "http://www.w3.org/2000/svg";
function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  return e;
}

function remember(key, rate, depth) {
  let h = sparks.get(key);
  if (!h) { h = []; sparks.set(key, h); }
  h.push({ t: Date.now(), rate, depth });
  if (h.length > HISTORY) h.shift();
  return h;
}

// A line over the last HISTORY points, scaled to the series' own maximum.
function spark(svg, points, field) {
  svg.replaceChildren();
  const w = 300, hgt = 60;
  const max = Math.max(1e-9, ...points.map((p) => p[field]));
  const step = w / (HISTORY - 1);
  const off = HISTORY - points.length;
  const coords = points.map((p, i) =>
    ((off + i) * step).toFixed(1) + "," + (hgt - 2 - (p[field] / max) * (hgt - 4)).toFixed(1));
  svg.append(svgEl("polyline", { points: coords.join(" ") }));
  const title = svgEl("title", {});
  title.textContent = "max " + fmtRate(max);
  svg.append(title);
  svg.dataset.points = String(points.length);
}

// A stage's latency distribution: one bar per bucket (calls between two bounds).
function distribution(buckets) {
  const svg = svgEl("svg", { class: "dist", viewBox: "0 0 160 28", preserveAspectRatio: "none" });
  const counts = (buckets && buckets.counts) || [];
  const own = counts.map((b, i) => b.count - (i ? counts[i - 1].count : 0));
  const max = Math.max(0, ...own);
  if (max > 0) {
    const bw = 160 / own.length;
    own.forEach((n, i) => {
      if (!n) return;
      const h = Math.max(1, (n / max) * 26);
      const r = svgEl("rect", { x: (i * bw).toFixed(1), y: (28 - h).toFixed(1), width: (bw - 0.5).toFixed(1), height: h.toFixed(1) });
      const t = svgEl("title", {});
      t.textContent = "< " + fmtSecs(counts[i].le) + ": " + fmt(n);
      r.append(t);
      svg.append(r);
    });
  }
  return svg;
}

function gauge(depth, capacity) {
  const fill = capacity ? Math.min(1, depth / capacity) : 0;
  const g = el("span", { class: "gauge", title: capacity ? `${depth} of ${capacity}` : `${depth} (unbounded)` });
  const bar = el("i");
  bar.style.width = (fill * 100).toFixed(1) + "%";
  g.append(bar);
  return el("span", {}, g, " ", el("span", { "data-field": "queue" }, fmt(depth) + (capacity ? " / " + fmt(capacity) : "")));
}

function numbers(fields) {
  const box = el("div", { class: "numbers" });
  for (const [label, field, value] of fields) {
    box.append(el("div", {}, el("label", {}, label), el("b", { "data-field": field }, value)));
  }
  return box;
}

function machineCard(m) {
  const s = m.status;
  const card = el("section", { class: "card machine", "data-source": m.source });
  const state = m.stale ? "stale" : (m.state || "unknown");
  card.append(el("h2", {},
    s ? s.name : m.source, " ",
    el("span", { class: "state " + state, "data-field": "state" }, m.state_text || state), " ",
    el("small", {}, m.source)));
  card.append(el("div", { class: "meta" },
    el("span", { class: m.live.ok ? "ok" : "bad", "data-field": "live" }, m.live.ok ? (m.live.note ? "live: " + m.live.note : "live") : "not live: " + m.live.reason), " · ",
    el("span", { class: m.ready.ok ? "ok" : "bad", "data-field": "ready" }, m.ready.ok ? "ready" : "not ready: " + m.ready.reason),
    s ? " · up " + fmtSecs(s.uptime) : null,
    m.age > 1.5 ? " · status " + m.age.toFixed(1) + " s old" : null));
  if (!s) return card;
  const c = s.counts;
  card.append(numbers([
    ["accepted", "accepted", fmt(c.accepted)],
    ["processed", "processed", fmt(c.processed)],
    ["failed", "failed", fmt(c.failed)],
    ["dropped", "dropped", fmt(c.dropped)],
    ["rejected", "rejected", fmt(c.rejected)],
    ["in flight", "in_flight", fmt(c.in_flight)],
    ["rate /s (recent)", "rate_recent", fmtRate(s.rate.recent)],
    ["rate /s (overall)", "rate_overall", fmtRate(s.rate.overall)],
  ]));
  card.append(el("div", { class: "meta" }, "queue ", gauge(s.queue.depth, s.queue.capacity)));
  const progress = s.plugins && s.plugins.progress;
  if (progress && typeof progress.percent === "number") {
    card.append(el("div", { class: "meta" }, "progress ",
      el("span", { "data-field": "progress" }, progress.percent.toFixed(1) + " %"),
      typeof progress.eta === "number" ? " · eta " + fmtSecs(progress.eta) : null));
  }
  const h = remember(m.source, s.rate.recent, s.queue.depth);
  const rateSvg = svgEl("svg", { class: "spark", viewBox: "0 0 300 60", preserveAspectRatio: "none", "data-chart": "rate" });
  const queueSvg = svgEl("svg", { class: "spark", viewBox: "0 0 300 60", preserveAspectRatio: "none", "data-chart": "queue" });
  spark(rateSvg, h, "rate");
  spark(queueSvg, h, "depth");
  card.append(el("div", { class: "charts" },
    el("figure", {}, el("figcaption", {}, "data/s"), rateSvg),
    el("figure", {}, el("figcaption", {}, "queue depth"), queueSvg)));
  const table = el("table", { class: "stages" },
    el("tr", {}, ...["stage", "calls", "errors", "skipped", "retried · recovered · gave up", "mean", "p50", "p99", "max", "distribution"].map((t) => el("th", {}, t))));
  for (const st of s.stages) {
    const l = st.latency;
    table.append(el("tr", { "data-stage": st.name },
      el("td", {}, `${st.slot}: ${st.name}`),
      el("td", { "data-field": "calls" }, fmt(st.calls)),
      el("td", { "data-field": "errors", class: st.errors ? "bad" : "" }, fmt(st.errors)),
      el("td", { "data-field": "skipped" }, fmt(st.skipped)),
      el("td", { "data-field": "retries" }, st.retries ? `${fmt(st.retries.retried)} · ${fmt(st.retries.recovered)} · ${fmt(st.retries.exhausted)}` : "–"),
      el("td", {}, l.samples ? fmtSecs(l.mean) : "–"),
      el("td", {}, l.samples ? fmtSecs(l.p50) : "–"),
      el("td", {}, l.samples ? fmtSecs(l.p99) : "–"),
      el("td", {}, l.samples ? fmtSecs(l.max) : "–"),
      el("td", {}, distribution(st.buckets))));
  }
  card.append(table);
  if (s.last_error) {
    const e = s.last_error;
    card.append(el("div", { class: "error", "data-field": "last_error" },
      `last error (${e.kind}${e.stage ? ", " + e.stage : ""}): ${e.message}`));
  }
  return card;
}

function render(board) {
  const t = board.totals;
  for (const node of document.querySelectorAll("[data-total]")) {
    const k = node.dataset.total;
    node.textContent = k.startsWith("rate") ? fmtRate(t[k]) : fmt(t[k]);
  }
  document.getElementById("fleet-size").textContent =
    `${t.machines} machine${t.machines === 1 ? "" : "s"}`;
  const health = document.getElementById("health");
  health.textContent = (board.live ? "live" : "not live") + " · " + (board.ready ? "ready" : "not ready");
  health.className = board.live && board.ready ? "ok" : "bad";
  document.getElementById("machines").replaceChildren(...board.machines.map(machineCard));
  registryCard(board.registry);
  lastBoard = board;
  failuresCard(board);
  // Errors per stage in all, summed over the machines, for the graph.
  stageErrors = new Map();
  for (const m of board.machines) {
    for (const st of (m.status && m.status.stages) || []) {
      const k = `${st.slot}:${st.name}`;
      stageErrors.set(k, (stageErrors.get(k) || 0) + st.errors);
    }
  }
  if (lastHistory) drawStages(lastHistory);
  if (board.ended) showEnd(board);
}

// The stage graph, with the history's newest rates and the errors of the newest board.
function drawStages(h) {
  drawGraph(document.getElementById("graph"), h.stages, h.points[h.points.length - 1] || null, stageErrors);
}

// The last board the server sent before it stopped: the states it shows are final.
function showEnd(board) {
  ended = true;
  const states = board.machines.map((m) => m.state_text || m.state || "unknown");
  const failed = board.machines.some((m) => m.state === "failed");
  const banner = document.getElementById("ended");
  banner.hidden = false;
  banner.className = "ended" + (failed ? " failed" : "");
  banner.textContent = "ended: " + (states.length ? states.join(", ") : "no machine");
  const conn = document.getElementById("conn");
  conn.textContent = "server stopped at " + clock(Date.now() / 1000);
  conn.className = "conn";
}

// The server went away without saying so (killed, or the network): the last states shown
// are not current any more.
function showGone() {
  if (ended || gone) return;
  gone = true;
  for (const s of document.querySelectorAll('[data-field="state"]')) {
    s.textContent = "last seen " + s.textContent;
    s.className = "state gone";
  }
}

// The charts and the graph, from the server's history over the chosen window.
let windowName = ["5m", "1h", "all"].includes(location.hash.slice(1)) ? location.hash.slice(1) : "5m";
let lastFetch = 0;
let stageErrors = new Map();
let lastHistory = null;
let lastBoard = null;
let ended = false, gone = false;
const REFRESH = { "5m": 1000, "1h": 10000, "all": 30000 };

function refreshHistory(force) {
  if (!force && Date.now() - lastFetch < REFRESH[windowName]) return;
  lastFetch = Date.now();
  fetch("api/history/" + windowName, { cache: "no-store" })
    .then((r) => r.json())
    .then((h) => {
      lastHistory = h;
      drawHistory(h);
      drawStages(h);
      document.getElementById("history-note").textContent =
        `${h.points.length} point${h.points.length === 1 ? "" : "s"} · one a ${h.interval} s, coarser further back · ${(h.memory_bytes / 1048576).toFixed(2)} MiB kept`;
      document.body.dataset.historyFetches = String(Number(document.body.dataset.historyFetches || 0) + 1);
    })
    .catch(() => {});
}

function chooseWindow(name) {
  windowName = name;
  history.replaceState(null, "", "#" + name);
  for (const b of document.querySelectorAll("[data-window]")) b.classList.toggle("on", b.dataset.window === name);
  refreshHistory(true);
}

for (const b of document.querySelectorAll("[data-window]")) b.addEventListener("click", () => chooseWindow(b.dataset.window));

function connect() {
  const conn = document.getElementById("conn");
  const source = new EventSource("api/events");
  source.onopen = () => { conn.textContent = "live"; conn.className = "conn live"; };
  source.onmessage = (msg) => {
    const board = JSON.parse(msg.data);
    gone = false;
    render(board);
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
    if (board.ended) {
      // Nothing will come any more: do not reconnect to a server that is gone (nor ask
      // it for history).
      source.close();
    } else {
      refreshHistory(false);
    }
  };
  // EventSource reconnects by itself (the server asks for one second), except after an
  // answer other than 200: the server's 503 when its event streams' budget is spent.
  let since = null;
  source.onerror = () => {
    if (ended) return;
    since = since || clock(Date.now() / 1000);
    conn.textContent = source.readyState === EventSource.CLOSED
      ? "refused: too many dashboards open (reload later)" : "server not answering since " + since + ", reconnecting…";
    conn.className = "conn";
    showGone();
  };
  source.addEventListener("open", () => { since = null; });
}

chooseWindow(windowName);
connect();
