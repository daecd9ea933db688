// The stage graph: the datum ("in"), then each stage in a column after the stages it reads
// (`f3` is the output of slot 3), an arrow per dependency; each node with its calls/s, errors
// and p99 over the last interval of the history, coloured by health. A fleet's stages are
// summed (the history sums them by slot and name).
"use strict";

const NODE = { w: 168, h: 62, gapX: 56, gapY: 14, pad: 10 };
const ARC = 34; // how far below the nodes an edge that skips columns runs

// The slot a graph key reads (`f3`, `f3_s`), or null for the datum's own keys.
function slotOf(key) {
  const m = /^f(\d+)(_s)?$/.exec(key);
  return m ? Number(m[1]) : null;
}

function health(rates) {
  if (!rates || !(rates.calls > 0)) return "idle";
  if (!rates.error_rate) return "ok";
  return rates.error_rate < 0.05 ? "warn" : "bad";
}

// `stages`: [{slot, name, reads}]; `latest`: the newest history point (or null);
// `errors`: cumulative errors by "slot:name".
function drawGraph(svg, stages, latest, errors) {
  svg.replaceChildren();
  const depth = new Map(); // slot -> column
  const column = (s, seen) => {
    if (depth.has(s.slot)) return depth.get(s.slot);
    if (seen.has(s.slot)) return 1; // a cycle cannot be built; do not loop if one is reported
    seen.add(s.slot);
    let d = 1;
    for (const key of s.reads || []) {
      const k = slotOf(key);
      const from = stages.find((t) => t.slot === k);
      if (from) d = Math.max(d, column(from, seen) + 1);
    }
    depth.set(s.slot, d);
    return d;
  };
  stages.forEach((s) => column(s, new Set()));
  const rows = new Map(); // column -> nodes placed so far
  const place = new Map(); // slot (or "in") -> {x, y}
  const at = (col) => {
    const row = rows.get(col) || 0;
    rows.set(col, row + 1);
    return { x: NODE.pad + col * (NODE.w + NODE.gapX), y: NODE.pad + row * (NODE.h + NODE.gapY) };
  };
  place.set("in", at(0));
  for (const s of [...stages].sort((a, b) => depth.get(a.slot) - depth.get(b.slot) || a.slot - b.slot)) {
    place.set(s.slot, at(depth.get(s.slot)));
  }
  const cols = Math.max(0, ...depth.values()) + 1;
  const height = Math.max(...rows.values()) * (NODE.h + NODE.gapY) + 2 * NODE.pad + ARC;
  const width = cols * (NODE.w + NODE.gapX) - NODE.gapX + 2 * NODE.pad;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.style.width = width + "px";
  svg.style.height = height + "px";
  const defs = svgNode("defs");
  const marker = svgNode("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto" });
  marker.append(svgNode("path", { d: "M0,0 L10,5 L0,10 z", class: "arrow" }));
  defs.append(marker);
  svg.append(defs);
  // Edges first, under the nodes.
  for (const s of stages) {
    const to = place.get(s.slot);
    const froms = new Set((s.reads || []).map((k) => { const f = slotOf(k); return f === null ? "in" : f; }));
    for (const f of froms) {
      const from = place.get(f);
      if (!from) continue;
      const skips = to.x - from.x > NODE.w + NODE.gapX;
      let d;
      if (skips) {
        // Past the columns in between: under the nodes, from bottom to bottom.
        const x1 = from.x + NODE.w / 2, y1 = from.y + NODE.h, x2 = to.x + NODE.w / 3, y2 = to.y + NODE.h;
        d = `M${x1},${y1} C${x1},${y1 + ARC} ${x2},${y2 + ARC} ${x2},${y2}`;
      } else {
        const x1 = from.x + NODE.w, y1 = from.y + NODE.h / 2, x2 = to.x, y2 = to.y + NODE.h / 2;
        const mid = (x1 + x2) / 2;
        d = `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
      }
      svg.append(svgNode("path", { d, class: "edge", "marker-end": "url(#arrow)", "data-from": String(f), "data-to": String(s.slot) }));
    }
  }
  const input = place.get("in");
  const inNode = svgNode("g", { class: "node input", transform: `translate(${input.x},${input.y})` });
  inNode.append(svgNode("rect", { width: NODE.w, height: NODE.h, rx: 6 }));
  inNode.append(svgNode("text", { x: 10, y: 24, class: "name" }, "datum (in)"));
  inNode.append(svgNode("text", { x: 10, y: 44 }, latest ? perSec(latest.processed + latest.failed) + " data/s" : "–"));
  svg.append(inNode);
  stages.forEach((s, i) => {
    const p = place.get(s.slot);
    const r = latest && latest.stages[i];
    const g = svgNode("g", { class: "node " + health(r), transform: `translate(${p.x},${p.y})`, "data-stage": s.name, "data-slot": String(s.slot) });
    g.append(svgNode("rect", { width: NODE.w, height: NODE.h, rx: 6 }));
    g.append(svgNode("text", { x: 10, y: 18, class: "name" }, `${s.slot}: ${s.name}`));
    g.append(svgNode("text", { x: 10, y: 36, "data-field": "calls" }, (r ? perSec(r.calls) : "–") + " calls/s"));
    const errs = errors.get(`${s.slot}:${s.name}`) || 0;
    g.append(svgNode("text", { x: 10, y: 53, "data-field": "errors" }, count(errs) + " errors"));
    g.append(svgNode("text", { x: NODE.w - 8, y: 53, "text-anchor": "end", "data-field": "p99" }, "p99 " + (r && r.p99 !== null ? seconds(r.p99) : "–")));
    const title = svgNode("title", {}, `reads ${(s.reads || []).join(", ") || "nothing"}`);
    g.append(title);
    svg.append(g);
  });
  svg.dataset.nodes = String(stages.length);
}
