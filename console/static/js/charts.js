// Line charts as inline SVG (no chart library): months along x, 0–100 along y; gaps where there is no value.
import { h, s } from "./dom.js";

const COLOURS = ["#0b5cad", "#9e1c1c", "#1e6b34", "#6b4e00", "#5b2c8a"];

/** series: [{label, values: [number|null per x]}]; labels: x labels. */
export function lineChart({ title, labels, series, max = 100 }) {
  const W = 640, H = 260, L = 40, R = 12, T = 12, B = 32;
  const x = (i) => L + (labels.length <= 1 ? 0 : (i * (W - L - R)) / (labels.length - 1));
  const y = (v) => T + (H - T - B) * (1 - v / max);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  svg.append(s("title", {}, title));
  for (const tick of [0, 25, 50, 75, 100]) {
    svg.append(s("line", { x1: L, x2: W - R, y1: y(tick), y2: y(tick), stroke: "#d0d7de" }));
    svg.append(s("text", { x: L - 6, y: y(tick) + 4, "text-anchor": "end", "font-size": 11, fill: "#4a5561" }, String(tick)));
  }
  labels.forEach((label, i) => svg.append(s("text", { x: x(i), y: H - 10, "text-anchor": "middle", "font-size": 11, fill: "#4a5561" }, label)));
  series.forEach((one, k) => {
    const colour = COLOURS[k % COLOURS.length];
    let d = "";
    one.values.forEach((v, i) => {
      if (v === null || v === undefined) return;
      const prev = one.values[i - 1];
      d += `${prev === null || prev === undefined || i === 0 ? "M" : "L"}${x(i).toFixed(1)},${y(v).toFixed(1)} `;
      svg.append(s("circle", { cx: x(i), cy: y(v), r: 3.5, fill: colour }, s("title", {}, `${one.label} ${label(labels[i])}: ${v.toFixed(1)}`)));
    });
    if (d) svg.append(s("path", { d, fill: "none", stroke: colour, "stroke-width": 2 }));
  });
  const table = h("table", { class: "visually-hidden" },
    h("caption", { text: title }),
    h("tr", {}, h("th", { text: "" }), labels.map((l) => h("th", { text: l }))),
    series.map((one) => h("tr", {}, h("th", { text: one.label }), one.values.map((v) => h("td", { text: v === null || v === undefined ? "—" : v.toFixed(1) })))));
  return h("figure", { class: "chart" },
    svg,
    h("figcaption", { class: "series-legend" }, series.map((one, k) => h("span", {}, h("i", { style: `background:${COLOURS[k % COLOURS.length]}` }), one.label))),
    table);
}

function label(text) {
  return text;
}
