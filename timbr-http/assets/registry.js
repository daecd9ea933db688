// A fleet's registry as the dashboard shows it (`timbr-watch http --redis`): every machine it
// lists, producers included, with what it said at its last beat; the stream as Redis sees
// it; and the balance (where every datum put is). The numbers are the registry's own (the
// board's `registry`, timbr-redis's FleetView serialized).
"use strict";

function registryCard(view) {
  const card = document.getElementById("registry");
  if (!view) { card.hidden = true; return; }
  card.hidden = false;
  const t = view.totals || {};
  document.getElementById("registry-name").textContent =
    `stream ${view.stream}, group ${view.group}: ${fmt(t.machines)} machines, ${fmt(t.live)} live`;
  const q = view.queue || {};
  const queue = [
    ["stream length", "stream_length", fmt(q.stream_length)],
    ["lag (unread)", "lag", q.lag === null || q.lag === undefined ? "–" : fmt(q.lag)],
    ["pending", "pending", fmt(q.pending)],
    ["dead letters", "dead_letters", fmt(q.dead_letters)],
    ["consumers", "consumers", fmt(q.consumers)],
    ["put /s (live)", "put_rate", fmtRate(t.put_rate)],
    ["done /s (live)", "rate", fmtRate(t.rate)],
  ];
  // The failure stream (failed for good, waiting for a replay), where the registry has it.
  if (q.failures !== undefined) queue.splice(4, 0, ["failed (to replay)", "failures", fmt(q.failures)]);
  const box = document.getElementById("registry-queue");
  box.replaceChildren(...queue.map(([label, field, value]) =>
    el("div", {}, el("label", {}, label), el("b", { "data-registry": field }, value))));
  const b = view.balance;
  const balance = document.getElementById("registry-balance");
  if (b) {
    const ok = b.produced === b.acked + b.pending + b.unread + b.dead + (b.failed || 0) + (b.purged || 0);
    balance.replaceChildren(`balance: produced ${fmt(b.produced)} = acked ${fmt(b.acked)} + pending ${fmt(b.pending)} + unread ${fmt(b.unread)} + dead ${fmt(b.dead)}` +
      (b.failed !== undefined ? ` + failed ${fmt(b.failed)}` : "") + (b.purged ? ` + purged ${fmt(b.purged)}` : "") + ": ",
      el("span", { class: ok ? "ok" : "bad", "data-registry": "balanced" }, ok ? "balanced" : "NOT BALANCED"));
  } else {
    balance.replaceChildren();
  }
  const head = ["machine", "role", "state", "processed", "failed", "errors", "put", "done/s", "put/s", "seen", "status"];
  const table = document.getElementById("registry-machines");
  table.replaceChildren(el("tr", {}, ...head.map((h) => el("th", {}, h))));
  for (const m of view.machines || []) {
    const e = m.earlier || {};
    const live = !m.gone && !["stopped", "completed", "failed"].includes(m.state);
    const state = m.gone ? "gone" : m.state;
    table.append(el("tr", { "data-machine": m.name, "data-role": m.role },
      el("td", {}, m.name),
      el("td", {}, m.role),
      el("td", {}, el("span", { class: "state " + (m.gone ? "stale" : m.state), "data-field": "registry-state" }, state)),
      el("td", {}, fmt((m.processed || 0) + (e.processed || 0))),
      el("td", {}, fmt((m.failed || 0) + (e.failed || 0))),
      el("td", {}, fmt((m.errors || 0) + (e.errors || 0))),
      el("td", {}, fmt((m.put || 0) + (e.put || 0))),
      // An ended or gone machine's last rate is history, not what it does now.
      el("td", {}, fmtRate(live ? m.rate : 0)),
      el("td", {}, fmtRate(live ? m.put_rate : 0)),
      el("td", {}, (m.seen_ms_ago / 1000).toFixed(1) + " s ago"),
      el("td", { class: "meta" }, m.status_endpoint ? "below" : "no status endpoint")));
  }
}
