// Small SVG charts: horizontal bars, stacked columns over time, lines, and
// the directed flow graph. Each returns an <svg> sized by its viewBox, so it
// scales with the page; values are in <title> tooltips and data-* attributes
// (the browser test reads them).

import { s, fmtInt } from './ui.js';

// niceMax rounds up to 1, 2 or 5 times a power of ten, and ticks() divides it.
export function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

function ticks(max, n = 4) {
  const out = [];
  for (let i = 0; i <= n; i++) out.push((max * i) / n);
  return out;
}

function tickLabel(v) {
  if (v >= 1e6) return (v / 1e6).toFixed(v % 1e6 ? 1 : 0) + 'M';
  if (v >= 1e3) return (v / 1e3).toFixed(v % 1e3 ? 1 : 0) + 'k';
  return Number.isInteger(v) ? String(v) : v.toFixed(2);
}

// hbars: [{label, value, text?, color?}] as horizontal bars on a 0..max scale.
export function hbars(items, opts = {}) {
  const width = opts.width || 520;
  const labelW = opts.labelWidth || 130;
  const valueW = opts.valueWidth || 70;
  const barH = opts.barHeight || 18;
  const gap = 8;
  const max = opts.max || niceMax(Math.max(0, ...items.map((i) => i.value)));
  const plotW = width - labelW - valueW;
  const height = items.length * (barH + gap) + gap;
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': opts.title || 'bar chart', 'data-test': opts.test });
  items.forEach((it, i) => {
    const y = gap + i * (barH + gap);
    const w = Math.max(0, Math.min(1, it.value / max)) * plotW;
    const g = s('g', { 'data-label': it.label, 'data-value': it.value });
    g.append(
      s('text', { x: labelW - 8, y: y + barH / 2 + 4, 'text-anchor': 'end', class: 'axis-label', text: it.label }),
      s('rect', { x: labelW, y, width: plotW, height: barH, class: 'bar-track' }),
      s('rect', { x: labelW, y, width: Math.max(w, it.value > 0 ? 1.5 : 0), height: barH, fill: it.color || '#0b5cad' },
        s('title', { text: `${it.label}: ${it.text ?? it.value}` })),
      s('text', { x: labelW + plotW + 6, y: y + barH / 2 + 4, class: 'value-label', text: it.text ?? tickLabel(it.value) }),
    );
    svg.append(g);
  });
  return svg;
}

function axes(svg, { left, top, plotW, plotH, max, yLabel }) {
  for (const t of ticks(max)) {
    const y = top + plotH - (t / max) * plotH;
    svg.append(
      s('line', { x1: left, x2: left + plotW, y1: y, y2: y, class: t === 0 ? 'axis' : 'gridline' }),
      s('text', { x: left - 6, y: y + 4, 'text-anchor': 'end', class: 'axis-label', text: tickLabel(t) }),
    );
  }
  if (yLabel) {
    svg.append(s('text', { x: 12, y: top + plotH / 2, class: 'axis-title', transform: `rotate(-90 12 ${top + plotH / 2})`, 'text-anchor': 'middle', text: yLabel }));
  }
}

function xLabels(svg, labels, xOf, y, maxLabels = 12) {
  const step = Math.max(1, Math.ceil(labels.length / maxLabels));
  labels.forEach((l, i) => {
    if (i % step !== 0 && i !== labels.length - 1) return;
    svg.append(s('text', { x: xOf(i), y, 'text-anchor': 'middle', class: 'axis-label', text: l }));
  });
}

function legend(svg, series, x, y, width) {
  let cx = x;
  let cy = y;
  for (const se of series) {
    const w = 22 + se.name.length * 7 + 16;
    if (cx + w > x + width) { cx = x; cy += 18; }
    svg.append(
      s('rect', { x: cx, y: cy - 10, width: 12, height: 12, fill: se.color, rx: 2 }),
      s('text', { x: cx + 17, y: cy, class: 'legend-label', text: se.name }),
    );
    cx += w;
  }
  return cy;
}

// stackedColumns: labels along x, series [{name, color, values[]}] stacked.
export function stackedColumns({ labels, series, yLabel, test, height = 300, width = 960 }) {
  const left = 64;
  const right = 16;
  const top = 34;
  const bottom = 34;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const totals = labels.map((_, i) => series.reduce((a, se) => a + (se.values[i] || 0), 0));
  const max = niceMax(Math.max(0, ...totals));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': yLabel || 'chart', 'data-test': test });
  legend(svg, series, left, 16, plotW);
  axes(svg, { left, top, plotW, plotH, max, yLabel });
  const slot = plotW / Math.max(1, labels.length);
  const bw = Math.max(1, Math.min(48, slot * 0.7));
  const xOf = (i) => left + slot * i + slot / 2;
  labels.forEach((l, i) => {
    let y0 = top + plotH;
    const g = s('g', { 'data-bucket': l, 'data-total': totals[i] });
    for (const se of series) {
      const v = se.values[i] || 0;
      if (v <= 0) continue;
      const hgt = (v / max) * plotH;
      y0 -= hgt;
      g.append(s('rect', { x: xOf(i) - bw / 2, y: y0, width: bw, height: hgt, fill: se.color },
        s('title', { text: `${l} · ${se.name}: ${fmtInt(v)}` })));
    }
    svg.append(g);
  });
  xLabels(svg, labels, xOf, top + plotH + 20);
  return svg;
}

// lines: labels along x, series [{name, color, values[] (null = no value)}].
export function lines({ labels, series, yLabel, max, test, height = 280, width = 960 }) {
  const left = 64;
  const right = 16;
  const top = 34;
  const bottom = 34;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = series.flatMap((se) => se.values.filter((v) => v !== null && v !== undefined));
  const yMax = max || niceMax(Math.max(0, ...all));
  const svg = s('svg', { class: 'chart', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': yLabel || 'chart', 'data-test': test });
  legend(svg, series, left, 16, plotW);
  axes(svg, { left, top, plotW, plotH, max: yMax, yLabel });
  const n = labels.length;
  const xOf = (i) => (n === 1 ? left + plotW / 2 : left + 20 + ((plotW - 40) * i) / (n - 1));
  const yOf = (v) => top + plotH - (v / yMax) * plotH;
  for (const se of series) {
    let d = '';
    let pen = false;
    se.values.forEach((v, i) => {
      if (v === null || v === undefined) { pen = false; return; }
      d += `${pen ? 'L' : 'M'}${xOf(i).toFixed(1)},${yOf(v).toFixed(1)}`;
      pen = true;
    });
    const g = s('g', { 'data-series': se.name });
    if (d) g.append(s('path', { d, fill: 'none', stroke: se.color, 'stroke-width': 2.5, 'stroke-linejoin': 'round' }));
    se.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      g.append(s('circle', { cx: xOf(i), cy: yOf(v), r: 4, fill: '#fff', stroke: se.color, 'stroke-width': 2 },
        s('title', { text: `${se.name} · ${labels[i]}: ${v}` })));
    });
    svg.append(g);
  }
  xLabels(svg, labels, xOf, top + plotH + 20);
  return svg;
}

// flowGraph draws departments on a circle and one arrow per directed edge
// {from, to, weight, label, dashed, width?, bend?}; edge width grows with the
// square root of the weight so that one heavy flow does not hide the others.
export function flowGraph({ nodes, edges, test, width = 860, height = 600 }) {
  const cx = width / 2;
  const cy = height / 2 + 6;
  const R = Math.min(width, height) / 2 - 90;
  const pos = new Map();
  nodes.forEach((n, i) => {
    const a = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, nodes.length);
    pos.set(n.id, { x: cx + R * Math.cos(a), y: cy + R * Math.sin(a) });
  });
  const maxW = Math.max(1, ...edges.filter((e) => !e.width).map((e) => e.weight || 0));
  const maxSize = Math.max(1, ...nodes.map((n) => n.size || 0));
  const radius = (n) => 26 + 16 * Math.sqrt((n.size || 0) / maxSize);
  const svg = s('svg', { class: 'chart flow', viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'data flows between departments', 'data-test': test });
  const defs = s('defs');
  const markers = new Set();
  const marker = (color, w) => {
    const size = Math.round(9 + 1.3 * w);
    const id = `arrow-${color.replace('#', '')}-${size}`;
    if (!markers.has(id)) {
      markers.add(id);
      defs.append(s('marker', { id, viewBox: '0 0 10 10', refX: 8, refY: 5, markerWidth: size, markerHeight: size, orient: 'auto', markerUnits: 'userSpaceOnUse' },
        s('path', { d: 'M0,0 L10,5 L0,10 z', fill: color })));
    }
    return `url(#${id})`;
  };
  svg.append(defs);
  const nodeById = new Map(nodes.map((n) => [n.id, n]));
  const edgeLayer = s('g', { class: 'edges' });
  const labelLayer = s('g', { class: 'edge-labels' });
  for (const e of edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const ra = radius(nodeById.get(e.from));
    const rb = radius(nodeById.get(e.to));
    // Every edge curves to the same side of its direction, so A→B and B→A
    // take opposite arcs; an "outward" edge curves away from the centre
    // instead, clear of the edges across the circle.
    const dx = b.x - a.x;
    const dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    let nx = -dy / len;
    let ny = dx / len;
    if (e.outward && nx * ((a.x + b.x) / 2 - cx) + ny * ((a.y + b.y) / 2 - cy) < 0) {
      nx = -nx;
      ny = -ny;
    }
    const bend = (e.bend || 0.18) * len;
    const mx = (a.x + b.x) / 2 + nx * bend;
    const my = (a.y + b.y) / 2 + ny * bend;
    const start = toward(a, { x: mx, y: my }, ra + 2);
    const end = toward(b, { x: mx, y: my }, rb + 4);
    const w = e.width || (e.weight > 0 ? 1.5 + 9 * Math.sqrt(e.weight / maxW) : 1.5);
    const color = e.color || '#4a5568';
    const g = s('g', { class: 'edge', 'data-from': e.from, 'data-to': e.to, 'data-weight': e.weight || 0 });
    g.append(s('path', {
      d: `M${start.x.toFixed(1)},${start.y.toFixed(1)} Q${mx.toFixed(1)},${my.toFixed(1)} ${end.x.toFixed(1)},${end.y.toFixed(1)}`,
      fill: 'none', stroke: color, 'stroke-width': w.toFixed(2), 'stroke-opacity': e.dashed ? 0.55 : 0.8,
      'stroke-dasharray': e.dashed ? (e.dashed === true ? '6 5' : e.dashed) : null, 'marker-end': marker(color, w),
    }, s('title', { text: e.title || e.label || '' })));
    edgeLayer.append(g);
    if (e.label) {
      // The label sits at the curve's midpoint, on a white plate.
      const lx = 0.25 * start.x + 0.5 * mx + 0.25 * end.x;
      const ly = 0.25 * start.y + 0.5 * my + 0.25 * end.y;
      const tw = e.label.length * 6.8 + 10;
      labelLayer.append(s('g', { class: 'edge-label' },
        s('rect', { x: lx - tw / 2, y: ly - 10, width: tw, height: 18, rx: 4 }),
        s('text', { x: lx, y: ly + 3.5, 'text-anchor': 'middle', text: e.label })));
    }
  }
  svg.append(edgeLayer);
  for (const n of nodes) {
    const p = pos.get(n.id);
    const r = radius(n);
    svg.append(s('g', { class: 'node', 'data-node': n.id },
      s('circle', { cx: p.x, cy: p.y, r, fill: n.color, 'fill-opacity': 0.14, stroke: n.color, 'stroke-width': 2.5 },
        s('title', { text: n.title || n.id })),
      s('text', { x: p.x, y: p.y + 5, 'text-anchor': 'middle', class: 'node-label', text: n.label }),
      n.sub ? s('text', { x: p.x, y: p.y + r + 16, 'text-anchor': 'middle', class: 'node-sub', text: n.sub }) : null));
  }
  svg.append(labelLayer);
  return svg;
}

function toward(from, to, dist) {
  const dx = to.x - from.x;
  const dy = to.y - from.y;
  const len = Math.hypot(dx, dy) || 1;
  return { x: from.x + (dx / len) * dist, y: from.y + (dy / len) * dist };
}
