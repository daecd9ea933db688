// The dashboard's charts: SVG line and stacked-area charts with axes, ticks and units,
// drawn from the server's history (/api/history/<window>). No libraries.
"use strict";

const SVGNS = "http://www.w3.org/2000/svg";
const CHART = { w: 460, h: 170, left: 62, right: 10, top: 10, bottom: 24 };
const COLORS = ["#3b6fd8", "#c62828", "#b26a00", "#1a7f37", "#7b3fb5", "#00838f", "#ad1457", "#5d4037"];

function svgNode(tag, attrs, text) {
  const e = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// Round tick steps: 1, 2 or 5 times a power of ten, about `n` of them up to `max`.
function ticks(max, n) {
  if (!(max > 0)) return [0];
  const raw = max / n;
  const p = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw);
  const out = [];
  for (let v = 0; v <= max * 1.0001 + step / 2 && out.length < 12; v += step) out.push(v);
  return out;
}

function clock(t) {
  const d = new Date(t * 1000);
  const two = (n) => String(n).padStart(2, "0");
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}`;
}

// Draws `series` ([{name, values}]) over `times` (Unix seconds) into `svg`:
// opts.unit labels the y axis, opts.fmt formats its ticks, opts.stacked stacks the series
// as areas, opts.max fixes the top of the axis.
function drawChart(svg, times, series, opts) {
  const c = CHART;
  svg.replaceChildren();
  svg.setAttribute("viewBox", `0 0 ${c.w} ${c.h}`);
  const pw = c.w - c.left - c.right, ph = c.h - c.top - c.bottom;
  const n = times.length;
  const sums = new Array(n).fill(0);
  const tops = series.map((s) => s.values.map((v, i) => {
    const y = (opts.stacked ? sums[i] : 0) + (v || 0);
    if (opts.stacked) sums[i] = y;
    return v === null || v === undefined ? null : y;
  }));
  let max = opts.max || Math.max(0, ...tops.flat().filter((v) => v !== null));
  const yt = ticks(max || 1, 4);
  max = opts.max || yt[yt.length - 1] || 1;
  const t0 = n ? times[0] : 0, t1 = n ? times[n - 1] : 1;
  const x = (t) => c.left + (t1 > t0 ? ((t - t0) / (t1 - t0)) * pw : pw);
  const y = (v) => c.top + ph - (v / max) * ph;
  // Axes, grid and tick labels.
  const axes = svgNode("g", { class: "axes" });
  for (const v of yt) {
    axes.append(svgNode("line", { x1: c.left, x2: c.left + pw, y1: y(v), y2: y(v), class: "grid" }));
    axes.append(svgNode("text", { x: c.left - 4, y: y(v) + 4, "text-anchor": "end", class: "tick y" }, opts.fmt(v)));
  }
  axes.append(svgNode("line", { x1: c.left, x2: c.left, y1: c.top, y2: c.top + ph, class: "axis" }));
  axes.append(svgNode("line", { x1: c.left, x2: c.left + pw, y1: c.top + ph, y2: c.top + ph, class: "axis" }));
  if (n === 1 || (n && t1 === t0)) {
    axes.append(svgNode("text", { x: x(t1), y: c.h - 6, "text-anchor": "end", class: "tick x" }, clock(t1)));
  } else if (n) {
    for (let k = 0; k <= 3; k++) {
      const t = t0 + ((t1 - t0) * k) / 3;
      axes.append(svgNode("text", { x: x(t), y: c.h - 6, "text-anchor": k === 0 ? "start" : k === 3 ? "end" : "middle", class: "tick x" }, clock(t)));
    }
  }
  const unit = svgNode("text", { x: 12, y: c.top + ph / 2, class: "unit", transform: `rotate(-90 12 ${c.top + ph / 2})`, "text-anchor": "middle" }, opts.unit);
  axes.append(unit);
  svg.append(axes);
  // The series, last first so that the first is drawn on top.
  series.forEach((s, k) => {
    const color = s.color || COLORS[k % COLORS.length];
    const pts = [];
    tops[k].forEach((v, i) => { if (v !== null) pts.push([x(times[i]), y(Math.min(v, max))]); });
    if (!pts.length) return;
    const line = pts.map((p) => p[0].toFixed(1) + "," + p[1].toFixed(1)).join(" ");
    if (opts.stacked) {
      const below = k ? tops[k - 1] : null;
      const base = [];
      for (let i = n - 1; i >= 0; i--) base.push(x(times[i]).toFixed(1) + "," + y(below ? (below[i] || 0) : 0).toFixed(1));
      svg.append(svgNode("polygon", { points: line + " " + base.join(" "), fill: color, "fill-opacity": "0.35", stroke: "none" }));
    }
    const attrs = { points: line, stroke: color, class: "series", "data-series": s.name };
    if (s.dashed) attrs["stroke-dasharray"] = "5 4";
    svg.append(svgNode("polyline", attrs));
  });
  svg.dataset.points = String(n);
  svg.dataset.unit = opts.unit;
  // The legend, beside the chart.
  const legend = svg.parentNode && svg.parentNode.querySelector(".legend");
  if (legend) {
    legend.replaceChildren(...series.map((s, k) => {
      const item = document.createElement("span");
      item.style.setProperty("--c", s.color || COLORS[k % COLORS.length]);
      item.textContent = s.name;
      return item;
    }));
  }
}

const perSec = (v) => Number(v).toLocaleString("en-US", { maximumFractionDigits: v < 10 ? 2 : 0 });
const percent = (v) => (v * 100).toLocaleString("en-US", { maximumFractionDigits: 1 }) + " %";
const count = (v) => Number(v).toLocaleString("en-US", { maximumFractionDigits: 0 });
function seconds(s) {
  if (!s) return "0";
  if (s < 1e-6) return (s * 1e9).toFixed(0) + " ns";
  if (s < 1e-3) return (s * 1e6).toFixed(s < 1e-5 ? 1 : 0) + " µs";
  if (s < 1) return (s * 1e3).toFixed(s < 1e-2 ? 1 : 0) + " ms";
  return s.toFixed(1) + " s";
}

// Every chart of the history card, from one answer of /api/history/<window>.
function drawHistory(h) {
  const times = h.points.map((p) => p.at);
  const stageName = (s) => `${s.slot}: ${s.name}`;
  const byStage = (f) => h.stages.map((s, i) => ({ name: stageName(s), values: h.points.map((p) => (p.stages[i] ? f(p.stages[i]) : null)) }));
  const chart = (id) => document.querySelector(`svg[data-chart="${id}"]`);
  drawChart(chart("data"), times, [
    { name: "processed", color: "#1a7f37", values: h.points.map((p) => p.processed) },
    { name: "failed", color: "#c62828", values: h.points.map((p) => p.failed) },
    { name: "dropped", color: "#b26a00", values: h.points.map((p) => p.dropped) },
  ], { unit: "data/s", fmt: perSec, stacked: true });
  drawChart(chart("errors"), times, byStage((s) => s.error_rate), { unit: "errors / call", fmt: percent });
  const capacity = h.points.map((p) => (p.capacity ? p.capacity : null));
  const queue = [{ name: "depth", values: h.points.map((p) => p.depth) }];
  if (capacity.some((c) => c !== null)) queue.push({ name: "capacity", color: "#6b7385", dashed: true, values: capacity });
  drawChart(chart("queue"), times, queue, { unit: "data queued", fmt: count });
  const latency = [];
  h.stages.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    latency.push({ name: stageName(s) + " p50", color, dashed: true, values: h.points.map((p) => p.stages[i] ? p.stages[i].p50 : null) });
    latency.push({ name: stageName(s) + " p99", color, values: h.points.map((p) => p.stages[i] ? p.stages[i].p99 : null) });
  });
  drawChart(chart("latency"), times, latency, { unit: "latency (s)", fmt: seconds });
  drawChart(chart("busy"), times, [{ name: "busy workers", values: h.points.map((p) => p.busy) }], { unit: "busy share", fmt: percent, max: 1 });
}
