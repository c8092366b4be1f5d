// 领导驾驶舱: the satisfaction index and the three rates per unit on a choropleth of districts → streets →
// communities (click to drill down), rankings with the Wilson interval and n, monthly trends, hot-spot
// alerts on the map, CSV download; every number opens its breakdown (GET /v1/scores/units/{code}).
import { api, scoring, ApiError, currentSession, config } from "../api.js";
import { h, clear, heading, toast, fmtPct, fmtNum, fmtTime } from "../dom.js";
import { t, nameOf } from "../i18n.js";
import { boundaries, createMap, unitLayer, colourOf, legend, fit, RAMP } from "../map.js";
import { lineChart } from "../charts.js";

const METRICS = ["satisfaction_index", "three_rate_score", "response_rate", "resolution_rate", "satisfaction_rate"];
const RATES = ["response_rate", "resolution_rate", "satisfaction_rate"];
const CHILD = { city: "district", district: "street", street: "community" };

/** The months to offer, newest first (the city's time zone). */
export function recentMonths(count = 6, now = new Date()) {
  const [year, month] = new Intl.DateTimeFormat("en-CA", { timeZone: config.timezone || "Asia/Shanghai", year: "numeric", month: "2-digit" })
    .format(now).split("-").map(Number);
  const out = [];
  for (let i = 0; i < count; i++) {
    const d = new Date(Date.UTC(year, month - 1 - i, 1));
    out.push(`${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, "0")}`);
  }
  return out;
}

/** A metric's value on a 0–100 scale (rates as percentages), or null. */
export function metricValue(score, metric) {
  if (!score) return null;
  if (metric === "satisfaction_index") return score.satisfaction_index?.value ?? null;
  if (metric === "three_rate_score") return score.three_rate_score?.value ?? null;
  const rate = score.rates?.[metric];
  return rate?.value === null || rate?.value === undefined ? null : rate.value * 100;
}

export async function render(main) {
  const me = currentSession().me;
  const months = recentMonths();
  const state = { period: months[0], metric: "satisfaction_index", level: "district", parent: null, path: [] };
  // A district's leader starts at their own district's streets, a street's at its communities (the scope's
  // unit says its level: GET /v1/org-units/{code}).
  if (me.scope_code) {
    const unit = await api(`/v1/org-units/${encodeURIComponent(me.scope_code)}`).catch(() => null);
    if (unit && unit.level !== "city" && CHILD[unit.level]) {
      state.level = CHILD[unit.level];
      state.parent = unit.code;
      state.parentName = nameOf(unit);
    }
  }
  const period = h("select", { id: "dash-period" }, months.map((m) => h("option", { value: m, text: m })));
  const metric = h("select", { id: "dash-metric" }, METRICS.map((m) => h("option", { value: m, text: t(`m_${m}`) })));
  const up = h("button", { type: "button", id: "dash-up", text: `↑ ${t("drill_up")}` });
  const csv = h("button", { type: "button", id: "dash-csv", text: t("download_csv") });
  const where = h("p", { class: "hint", id: "dash-where", "aria-live": "polite" });
  const notice = h("p", { class: "hint", id: "dash-notice", role: "status" });
  const mapBox = h("div", { class: "map", id: "dash-map" });
  const rankingBox = h("div", { class: "table-wrap", id: "dash-rankings" });
  const trendBox = h("div", { id: "dash-trends" });
  const alertBox = h("ul", { id: "dash-alerts" });
  const breakdownBox = h("section", { class: "card", id: "dash-breakdown", hidden: true, "aria-labelledby": "breakdown-title", tabindex: "-1" });
  main.append(
    heading(t("dashboard_title")),
    h("div", { class: "toolbar" },
      h("div", {}, h("label", { for: "dash-period", text: t("period") }), period),
      h("div", {}, h("label", { for: "dash-metric", text: t("metric") }), metric),
      up, csv),
    where, notice,
    h("div", { class: "grid-2" },
      h("section", { "aria-label": t("m_satisfaction_index") }, mapBox, h("h2", { text: t("alerts") }), alertBox),
      h("section", { "aria-labelledby": "rank-title" }, h("h2", { id: "rank-title", text: t("rankings") }), rankingBox)),
    breakdownBox,
    h("section", { class: "card", "aria-labelledby": "trend-title" }, h("h2", { id: "trend-title", text: t("trends") }), trendBox),
  );
  const map = createMap(mapBox, { label: t("dashboard_title") });
  let layer = null;
  let legendControl = null;
  const alertLayer = L.layerGroup().addTo(map);

  async function scoresOf(level, parent) {
    try {
      const page = await scoring("/v1/scores/units", { params: { period: state.period, level, parent: parent || undefined, limit: 200 } });
      return page.items;
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 404) return null; // no run for the period yet
      throw exc;
    }
  }

  async function draw() {
    clear(rankingBox);
    notice.textContent = "";
    up.disabled = !state.path.length;
    const [geo, scores] = await Promise.all([
      boundaries(state.level, state.parent),
      scoresOf(state.level, state.parent).catch((exc) => { toast(exc.message, true); return null; }),
    ]);
    const byCode = new Map((scores || []).map((s) => [s.code, s]));
    where.textContent = `${t(`lv_${state.level}`)} · ${geo.features.length}${state.parent ? ` · ${state.parentName || state.parent}` : ""}`;
    if (!scores) notice.textContent = t("no_run");
    const values = geo.features.map((f) => metricValue(byCode.get(f.properties.code), state.metric)).filter((v) => v !== null);
    const max = state.metric.endsWith("_rate") ? 100 : Math.max(100, ...values);
    if (layer) layer.remove();
    layer = unitLayer(geo, {
      style: (f) => ({ fillColor: colourOf(metricValue(byCode.get(f.properties.code), state.metric), max, RAMP), fillOpacity: 0.85 }),
      tooltip: (f) => `${nameOf(f.properties)} · ${t(`m_${state.metric}`)} ${fmtNum(metricValue(byCode.get(f.properties.code), state.metric))}`,
      onClick: (f) => drill(f.properties),
    }).addTo(map);
    fit(map, layer);
    if (legendControl) legendControl.remove();
    legendControl = legend(map, t(`m_${state.metric}`), [[RAMP[0], "0"], [RAMP[3], fmtNum(max / 2, 0)], [RAMP[5], fmtNum(max, 0)], ["#e0e0e0", t("legend_none")]]);
    drawRankings(geo, byCode);
    drawAlerts();
    drawTrends(state.parent || me.scope_code);
  }

  function drill(properties) {
    if (!CHILD[state.level]) return showBreakdown(properties.code, properties.name);
    state.path.push({ level: state.level, parent: state.parent, parentName: state.parentName });
    state.level = CHILD[state.level];
    state.parent = properties.code;
    state.parentName = nameOf(properties);
    draw().catch((exc) => toast(exc.message, true));
  }

  function numberButton(text, code, name) {
    return h("button", { type: "button", class: "numlink", text, onclick: () => showBreakdown(code, name), "aria-label": `${name} ${text} · ${t("breakdown")}` });
  }

  function rateCell(score, rate) {
    const r = score?.rates?.[rate];
    if (!r || !r.n) return h("td", { class: "num", text: `— (n=0)` });
    const lo = r.interval?.low ?? null, hi = r.interval?.high ?? null;
    return h("td", { class: "num" },
      numberButton(fmtPct(r.value), score.code, score.name),
      h("br"),
      h("span", { class: "hint", text: `[${fmtPct(lo)}–${fmtPct(hi)}] n=${r.n}` }),
      lo !== null ? h("span", { class: "interval", "aria-hidden": "true" },
        h("span", { style: `left:${lo * 100}%;width:${Math.max(1, (hi - lo) * 100)}%` }),
        h("b", { style: `left:calc(${(r.value ?? 0) * 100}% - 1px)` })) : null);
  }

  function drawRankings(geo, byCode) {
    const rows = geo.features.map((f) => ({ f, score: byCode.get(f.properties.code) }));
    rows.sort((a, b) => (metricValue(b.score, state.metric) ?? -1) - (metricValue(a.score, state.metric) ?? -1));
    const table = h("table", { id: "rankings-table" },
      h("caption", { class: "visually-hidden", text: `${t("rankings")} · ${t(`m_${state.metric}`)}` }),
      h("thead", {}, h("tr", {},
        h("th", { scope: "col", text: t("rank") }), h("th", { scope: "col", text: t("unit") }),
        h("th", { scope: "col", class: "num", text: t(`m_${state.metric}`) }),
        RATES.filter((r) => r !== state.metric).concat(RATES.includes(state.metric) ? [state.metric] : []).slice(0, 3).map((r) => h("th", { scope: "col", class: "num", text: `${t(`m_${r}`)} · ${t("interval")} · ${t("n")}` })))),
      h("tbody", {}, rows.map(({ f, score }) => {
        const value = metricValue(score, state.metric);
        return h("tr", { dataset: { code: f.properties.code } },
          h("td", { text: score?.rank ? String(score.rank) : "—", title: score?.unranked_reason || "" }),
          h("td", {}, h("button", { type: "button", class: "numlink", text: nameOf(f.properties), onclick: () => drill(f.properties) })),
          h("td", { class: "num" }, value === null ? h("span", { class: "hint", text: t("unranked") }) : numberButton(fmtNum(value), f.properties.code, f.properties.name)),
          RATES.map((r) => rateCell(score, r)));
      })));
    rankingBox.append(table);
  }

  async function drawAlerts() {
    clear(alertBox);
    alertLayer.clearLayers();
    try {
      const [page, communities] = await Promise.all([api("/v1/alerts", { params: { limit: 50 } }), boundaries("community")]);
      const where = new Map(communities.features.map((f) => [f.properties.code, f]));
      if (!page.items.length) alertBox.append(h("li", { class: "empty", text: t("none") }));
      for (const alert of page.items) {
        alertBox.append(h("li", { text: `${alert.community_name} · ${alert.category_name} · ${alert.count_24h} ${t("requests_n")} ${t("last_24h")} · ${fmtTime(alert.raised_at || alert.created_at)}` }));
        const feature = where.get(alert.community_code);
        if (feature) {
          const centre = L.geoJSON(feature).getBounds().getCenter();
          L.circleMarker(centre, { radius: 10, color: "#fff", weight: 2, fillColor: "#8a1111", fillOpacity: 0.9, className: "alert-marker" })
            .bindTooltip(`${t("hotspot")}: ${alert.community_name} · ${alert.category_name} · ${alert.count_24h}`)
            .addTo(alertLayer);
        }
      }
    } catch (exc) {
      alertBox.append(h("li", { class: "hint", text: exc.message }));
    }
  }

  async function drawTrends(code) {
    clear(trendBox);
    if (!code) return;
    const series = months.slice().reverse();
    const details = await Promise.all(series.map((p) => scoring(`/v1/scores/units/${encodeURIComponent(code)}`, { params: { period: p } }).catch(() => null)));
    const name = details.find(Boolean)?.name || code;
    trendBox.append(
      h("p", { class: "hint", text: name }),
      lineChart({
        title: `${t("trends")} · ${name}`,
        labels: series,
        series: ["satisfaction_index", ...RATES].map((m) => ({ label: t(`m_${m}`), values: details.map((d) => metricValue(d, m)) })),
      }));
  }

  async function showBreakdown(code, name) {
    breakdownBox.hidden = false;
    clear(breakdownBox).append(h("h2", { id: "breakdown-title", text: `${t("breakdown")} · ${name}` }), h("p", { class: "loading", text: t("loading") }));
    breakdownBox.focus();
    try {
      const d = await scoring(`/v1/scores/units/${encodeURIComponent(code)}`, { params: { period: state.period } });
      const b = d.breakdown || {};
      clear(breakdownBox).append(
        h("h2", { id: "breakdown-title", text: `${t("breakdown")} · ${d.name} · ${d.period}` }),
        h("p", { class: "hint", text: `run #${d.run_id} · ${t("as_of")} ${fmtTime(d.as_of)} · scheme v${d.scheme_version}` }),
        h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, ["", t("value"), "shrunk", "adjusted", t("interval"), t("n")].map((x) => h("th", { text: x })))),
          h("tbody", {}, Object.entries(d.rates || {}).map(([rate, r]) => h("tr", {},
            h("th", { scope: "row", text: t(`m_${rate}`) }),
            h("td", { class: "num", text: fmtPct(r.value) }), h("td", { class: "num", text: fmtPct(r.shrunk) }),
            h("td", { class: "num", text: fmtPct(r.adjusted) }),
            h("td", { class: "num", text: r.interval ? `${fmtPct(r.interval.low)}–${fmtPct(r.interval.high)}` : "—" }),
            h("td", { class: "num", text: String(r.n) })))))),
        h("h3", { text: t("counts") }),
        h("dl", { class: "facts" }, Object.entries(d.counts || {}).map(([k, v]) => [h("dt", { text: k }), h("dd", { text: String(v) })])),
        b.sources?.length ? [h("h3", { text: t("sources") }), h("div", { class: "table-wrap" }, h("table", {},
          h("thead", {}, h("tr", {}, h("th", { text: t("unit") }), h("th", { text: "kind" }), h("th", { class: "num", text: "evaluated" }), h("th", { class: "num", text: "response_due" }))),
          h("tbody", {}, b.sources.map((src) => h("tr", {}, h("td", { text: src.name }), h("td", { text: src.kind }),
            h("td", { class: "num", text: String(src.counts?.evaluated ?? "—") }), h("td", { class: "num", text: String(src.counts?.response_due ?? "—") }))))))] : null,
        b.formulas ? [h("h3", { text: t("formulas") }), h("ul", {}, Object.entries(b.formulas).map(([k, v]) => h("li", {}, h("code", { text: k }), `: ${v}`)))] : null,
      );
    } catch (exc) {
      clear(breakdownBox).append(h("h2", { id: "breakdown-title", text: t("breakdown") }), h("p", { class: "error", text: exc.status === 404 ? t("no_run") : exc.message }));
    }
  }

  async function downloadCsv() {
    try {
      const answer = await scoring("/v1/scores/units.csv", { params: { period: state.period, level: state.level }, raw: true });
      const blob = await answer.blob();
      const link = h("a", { href: URL.createObjectURL(blob), download: `scores-${state.level}-${state.period}.csv` });
      document.body.append(link);
      link.click();
      link.remove();
    } catch (exc) {
      toast(exc.status === 404 ? t("no_run") : exc.message, true);
    }
  }

  period.addEventListener("change", () => { state.period = period.value; draw().catch((exc) => toast(exc.message, true)); });
  metric.addEventListener("change", () => { state.metric = metric.value; draw().catch((exc) => toast(exc.message, true)); });
  up.addEventListener("click", () => {
    const back = state.path.pop();
    if (!back) return;
    Object.assign(state, back);
    draw().catch((exc) => toast(exc.message, true));
  });
  csv.addEventListener("click", downloadCsv);
  await draw();
}

