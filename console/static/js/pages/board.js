// 派单台: requests needing dispatch, overdue (红牌) and warning (黄牌) ones in scope, on a map of the grid
// polygons coloured by open load or overdue count, and in a list; refreshed by polling.
import { api, all, config, currentSession } from "../api.js";
import { h, clear, heading, toast } from "../dom.js";
import { t, nameOf } from "../i18n.js";
import { boundaries, createMap, unitLayer, colourOf, legend, fit, HEAT } from "../map.js";
import { OPEN_STATUSES, requestItem, workingLeft, categories, dueOf } from "../requests.js";
import { navigate } from "../app.js";

const TABS = [
  ["needs_dispatch", (r) => r.status === "needs_dispatch"],
  ["overdue", (r) => r.sla_state === "overdue"],
  ["warning", (r) => r.sla_state === "warning"],
  ["open", () => true],
];
let timer = null;

export function leave() {
  if (timer) clearInterval(timer);
  timer = null;
}

export async function render(main) {
  const me = currentSession().me;
  const state = { tab: "needs_dispatch", colour: "open", requests: [], left: {} };
  const stats = h("div", { class: "stats", role: "group", "aria-label": t("board_title") });
  const list = h("ul", { class: "request-list", id: "board-list", "aria-live": "polite" });
  const updated = h("p", { class: "updated", id: "board-updated" });
  const mapBox = h("div", { class: "map", id: "board-map" });
  const colourSelect = h(
    "select",
    { id: "board-colour" },
    h("option", { value: "open", text: t("color_open") }),
    h("option", { value: "overdue", text: t("color_overdue") }),
  );
  main.append(
    heading(t("board_title")),
    stats,
    h(
      "div",
      { class: "grid-2" },
      h("section", { "aria-label": "map" }, h("div", { class: "toolbar" }, h("div", {}, h("label", { for: "board-colour", text: t("color_by") }), colourSelect)), mapBox),
      h("section", { "aria-labelledby": "board-list-title" }, h("h2", { id: "board-list-title", text: t("tab_needs_dispatch") }), updated, list),
    ),
  );
  const map = createMap(mapBox, { label: t("board_title") });
  const parent = me.scope_code && me.role !== "admin" ? me.scope_code : null;
  const [geo, cats] = await Promise.all([boundaries("grid", parent).catch(() => ({ features: [] })), categories().catch(() => new Map())]);
  let layer = null;
  let markers = L.layerGroup().addTo(map);
  let legendControl = null;

  function counts() {
    const byUnit = new Map();
    for (const r of state.requests) {
      const code = r.location?.org_unit_code;
      if (!code) continue;
      const entry = byUnit.get(code) || { open: 0, overdue: 0 };
      entry.open += 1;
      if (r.sla_state === "overdue") entry.overdue += 1;
      byUnit.set(code, entry);
    }
    return byUnit;
  }

  function drawMap() {
    const byUnit = counts();
    const values = [...byUnit.values()].map((c) => c[state.colour]);
    const max = Math.max(1, ...values);
    if (layer) layer.remove();
    layer = unitLayer(geo, {
      style: (feature) => {
        const value = byUnit.get(feature.properties.code)?.[state.colour] || 0;
        return { fillColor: value ? colourOf(value, max, HEAT) : "#eceff1", fillOpacity: value ? 0.8 : 0.35, weight: 0.5 };
      },
      tooltip: (feature) => {
        const c = byUnit.get(feature.properties.code) || { open: 0, overdue: 0 };
        return `${nameOf(feature.properties)} · ${t("color_open")} ${c.open} · ${t("color_overdue")} ${c.overdue}`;
      },
    }).addTo(map);
    if (!drawMap.fitted) {
      fit(map, layer);
      drawMap.fitted = true;
    }
    markers.clearLayers();
    for (const r of state.requests.filter(TABS.find(([n]) => n === state.tab)[1])) {
      if (r.location?.lat == null) continue;
      const colour = r.sla_state === "overdue" ? "#8a1111" : r.sla_state === "warning" ? "#c99a00" : "#0b5cad";
      L.circleMarker([r.location.lat, r.location.lon], { radius: 7, color: "#fff", weight: 2, fillColor: colour, fillOpacity: 1, className: "request-marker" })
        .bindTooltip(`#${r.id} ${r.description.slice(0, 30)}`)
        .on("click", () => navigate(`/console/requests/${r.id}`))
        .addTo(markers);
    }
    if (legendControl) legendControl.remove();
    const half = Math.max(1, Math.round(max / 2));
    legendControl = legend(map, t(state.colour === "open" ? "color_open" : "color_overdue"), [
      ["#eceff1", t("legend_none")],
      ...(max > 1 ? [[colourOf(1, max, HEAT), half > 1 ? `1–${half}` : "1"], [HEAT[5], `${half + 1}–${max}`]] : [[HEAT[5], "1"]]),
    ]);
  }

  function drawStats(summary) {
    clear(stats);
    const figures = {
      needs_dispatch: summary.by_status?.needs_dispatch || 0,
      overdue: summary.by_sla_state?.overdue || 0,
      warning: summary.by_sla_state?.warning || 0,
      open: OPEN_STATUSES.reduce((sum, s) => sum + (summary.by_status?.[s] || 0), 0),
    };
    for (const [name] of TABS) {
      stats.append(
        h(
          "button",
          { type: "button", class: "stat", "aria-pressed": String(state.tab === name), dataset: { tab: name }, onclick: () => { state.tab = name; drawList(); drawMap(); drawStats(summary); } },
          h("strong", { text: String(figures[name]) }),
          t(`tab_${name}`),
        ),
      );
    }
  }

  function drawList() {
    document.getElementById("board-list-title").textContent = t(`tab_${state.tab}`);
    clear(list);
    const shown = state.requests.filter(TABS.find(([n]) => n === state.tab)[1]);
    shown.sort((a, b) => (a.sla_state === "overdue" ? -1 : 0) - (b.sla_state === "overdue" ? -1 : 0) || a.id - b.id);
    if (!shown.length) list.append(h("li", { class: "empty", text: t("no_requests") }));
    for (const r of shown) list.append(requestItem(r, { categories: cats, left: state.left }));
  }

  async function refresh() {
    try {
      const lists = await Promise.all(OPEN_STATUSES.map((status) => all("/v1/requests", { status, sort: "due" }, 1000)));
      const summary = await api("/v1/requests/counts");
      state.requests = lists.flat();
      state.left = await workingLeft(state.requests.map(dueOf));
      drawStats(summary);
      drawList();
      drawMap();
      updated.textContent = `${t("updated_at")} ${new Date().toLocaleTimeString()}`;
    } catch (exc) {
      toast(`${t("error")}: ${exc.message}`, true);
    }
  }

  colourSelect.addEventListener("change", () => {
    state.colour = colourSelect.value;
    drawMap();
  });
  await refresh();
  timer = setInterval(refresh, (config.poll_seconds || 15) * 1000);
}
