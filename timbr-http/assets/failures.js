// The failures card: the newest data that failed for good on every machine (each status
// lists its newest, `failures.recent`), merged newest first and filterable by stage; the
// failure stores' counts; and what a handler kept when it stopped a machine (a Debugger
// keeps the failing datum).
"use strict";

const MAX_FAILURES = 50;
let failureStage = "";

function failuresCard(board) {
  const rows = [];
  const sums = { stored: 0, capacity: 0, dropped: 0, replayed: 0 };
  const stages = new Set();
  for (const m of board.machines) {
    // Every stage can be picked, whether or not it failed yet.
    for (const st of (m.status && m.status.stages) || []) stages.add(st.name);
    const f = m.status && m.status.failures;
    if (!f) continue;
    for (const k of Object.keys(sums)) sums[k] += f[k] || 0;
    for (const r of f.recent || []) {
      rows.push({ machine: m.status.name, time: Date.parse(r.at), ...r });
      stages.add(r.stage);
    }
  }
  // By time, not by the text: RFC 3339 fractions vary in length. Stable for equal times,
  // which keeps each status's own order (newest first).
  rows.sort((a, b) => b.time - a.time);
  // The stage filter keeps its choice while stages come and go.
  const select = document.getElementById("failure-stage");
  const options = ["", ...[...stages].sort()];
  if (failureStage && !stages.has(failureStage)) options.push(failureStage);
  if (select.options.length !== options.length || [...select.options].some((o, i) => o.value !== options[i])) {
    select.replaceChildren(...options.map((s) => el("option", { value: s }, s || "every stage")));
    select.value = failureStage;
  }
  const shown = rows.filter((r) => !failureStage || r.stage === failureStage).slice(0, MAX_FAILURES);
  document.getElementById("failures-note").textContent =
    `${fmt(sums.stored)} kept of ${fmt(sums.capacity)} · ${fmt(sums.dropped)} dropped · ${fmt(sums.replayed)} replayed`;
  const table = document.getElementById("failures");
  table.replaceChildren(el("tr", {}, ...["time", "machine", "stage", "oid", "attempts", "error"].map((h) => el("th", {}, h))));
  for (const r of shown) {
    table.append(el("tr", { "data-failure": r.oid, "data-stage": r.stage, "data-time": String(r.time) },
      el("td", {}, clock(r.time / 1000)),
      el("td", {}, r.machine),
      el("td", {}, `${r.slot}: ${r.stage}`),
      el("td", { class: "oid", title: r.origin ? "replay of " + r.origin : "" }, r.oid),
      el("td", {}, fmt(r.attempts)),
      el("td", { class: "message" }, r.error)));
  }
  if (!shown.length) {
    table.append(el("tr", {}, el("td", { colspan: "6", class: "meta" }, rows.length ? "none at this stage" : "no failure kept")));
  }
  const kept = document.getElementById("kept");
  kept.replaceChildren(...board.machines.filter((m) => m.kept).map((m) => {
    const k = m.kept;
    return el("div", { class: "kept", "data-kept": m.source },
      el("b", {}, `kept by the handler of ${m.status ? m.status.name : m.source}: `), k.event,
      k.stage ? el("div", { class: "meta" }, `stage ${k.slot}: ${k.stage} · oid ${k.oid} · ${k.at}`) : null,
      k.chain.length ? el("div", { class: "error" }, k.chain.join("\ncaused by: ")) : null,
      k.datum !== null && k.datum !== undefined
        ? el("div", { class: "meta" }, "datum:", el("pre", { "data-field": "kept-datum" }, k.datum)) : null);
  }));
}

document.getElementById("failure-stage").addEventListener("change", (e) => {
  failureStage = e.target.value;
  if (lastBoard) failuresCard(lastBoard);
});
