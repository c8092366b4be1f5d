// 公示 (no login): the published scores of units and the leaders' contact counts by post and unit, as tables
// and a map. It reads only /v1/public/... (through the same-origin proxy) and the public boundaries: no
// personal data can reach this page.
import { config } from "../api.js";
import { h, clear, heading, fmtPct, fmtNum, fmtTime } from "../dom.js";
import { t, nameOf } from "../i18n.js";
import { boundaries, createMap, unitLayer, colourOf, legend, fit, RAMP } from "../map.js";
import { recentMonths } from "./dashboard.js";

async function publicGet(path, params) {
  const url = new URL(`${config.scoring_base}${path}`, location.origin);
  for (const [k, v] of Object.entries(params)) if (v) url.searchParams.set(k, v);
  const answer = await fetch(url, { headers: { Accept: "application/json" } });
  if (answer.status === 404) return null;
  if (!answer.ok) throw new Error(`${t("error")} (${answer.status})`);
  return answer.json();
}

/** A table cell that also carries its column's label (shown beside the value when the table is stacked). */
function cell(label, text, extra = "", title = "") {
  return h("td", { class: extra || (label === t("unit") || label === t("rank") ? "" : "num"), "data-label": label, text, title: title || null });
}

export async function render(main) {
  const months = recentMonths(12);
  const period = h("select", { id: "pub-period" }, months.map((m) => h("option", { value: m, text: m })));
  const level = h("select", { id: "pub-level" }, ["district", "street", "community"].map((l) => h("option", { value: l, text: t(`lv_${l}`) })));
  const status = h("p", { class: "hint", id: "pub-status", role: "status" });
  const mapBox = h("div", { class: "map", id: "pub-map" });
  const scoresBox = h("div", { class: "table-wrap", id: "pub-scores" });
  const leadersBox = h("div", { class: "table-wrap", id: "pub-leaders" });
  main.append(
    heading(t("public_title")),
    h("p", { text: t("public_intro") }),
    h("div", { class: "toolbar" },
      h("div", {}, h("label", { for: "pub-period", text: t("period") }), period),
      h("div", {}, h("label", { for: "pub-level", text: t("level") }), level)),
    status,
    h("div", { class: "grid-2" },
      h("section", { "aria-label": t("m_satisfaction_index") }, mapBox),
      h("section", { "aria-labelledby": "pub-scores-title" }, h("h2", { id: "pub-scores-title", text: t("m_three_rate_score") }), scoresBox)),
    h("section", { "aria-labelledby": "pub-leaders-title" }, h("h2", { id: "pub-leaders-title", text: t("leader_contacts") }), leadersBox),
  );
  const map = createMap(mapBox, { label: t("public_title") });
  let layer = null;
  let legendControl = null;

  async function draw() {
    clear(scoresBox);
    clear(leadersBox);
    status.textContent = t("loading");
    const [geo, scores, leaders] = await Promise.all([
      boundaries(level.value),
      publicGet("/v1/public/scores", { period: period.value, level: level.value, limit: "200" }),
      publicGet("/v1/public/leader-contacts", { period: period.value }),
    ]);
    const items = [...(scores?.items || []), ...(scores?.unranked || [])];
    const byCode = new Map(items.map((s) => [s.code, s]));
    status.textContent = scores ? `${t("published_at")} ${fmtTime(scores.published_at)} · ${t("as_of")} ${fmtTime(scores.as_of)}` : t("not_published");
    if (layer) layer.remove();
    layer = unitLayer(geo, {
      style: (f) => ({ fillColor: colourOf(byCode.get(f.properties.code)?.satisfaction_index ?? null, 100, RAMP), fillOpacity: 0.85 }),
      tooltip: (f) => `${nameOf(f.properties)} · ${t("m_satisfaction_index")} ${fmtNum(byCode.get(f.properties.code)?.satisfaction_index)}`,
    }).addTo(map);
    fit(map, layer);
    if (legendControl) legendControl.remove();
    legendControl = legend(map, t("m_satisfaction_index"), [[RAMP[0], "0"], [RAMP[3], "50"], [RAMP[5], "100"], ["#e0e0e0", t("legend_none")]]);
    if (items.length) {
      const sorted = [...items].sort((a, b) => (a.rank ?? 1e9) - (b.rank ?? 1e9));
      scoresBox.append(h("table", { id: "pub-scores-table", class: "stack" },
        h("thead", {}, h("tr", {}, [t("rank"), t("unit"), t("m_three_rate_score"), t("m_satisfaction_index"), t("m_response_rate"), t("m_resolution_rate"), t("m_satisfaction_rate"), t("evaluated")].map((x, i) => h("th", { scope: "col", class: i > 1 ? "num" : "", text: x })))),
        h("tbody", {}, sorted.map((s) => h("tr", { dataset: { code: s.code } },
          cell(t("rank"), s.rank ? String(s.rank) : "—", "", s.unranked_reason || ""), cell(t("unit"), s.name, "unit-name"),
          cell(t("m_three_rate_score"), fmtNum(s.three_rate_score)), cell(t("m_satisfaction_index"), fmtNum(s.satisfaction_index)),
          cell(t("m_response_rate"), fmtPct(s.response_rate)), cell(t("m_resolution_rate"), fmtPct(s.resolution_rate)),
          cell(t("m_satisfaction_rate"), fmtPct(s.satisfaction_rate)), cell(t("evaluated"), String(s.evaluated)))))));
    } else {
      scoresBox.append(h("p", { class: "empty", text: t("not_published") }));
    }
    const contacts = leaders?.items || [];
    if (contacts.length) {
      leadersBox.append(h("table", { id: "pub-leaders-table", class: "stack" },
        h("thead", {}, h("tr", {}, [t("post"), t("unit"), t("links"), t("quota"), t("contacts"), t("met")].map((x, i) => h("th", { scope: "col", class: i > 1 ? "num" : "", text: x })))),
        h("tbody", {}, contacts.map((c) => h("tr", {},
          cell(t("post"), c.post, "unit-name"), cell(t("unit"), c.unit_name), cell(t("links"), String(c.links)),
          cell(t("quota"), String(c.quota)), cell(t("contacts"), String(c.contacts)), cell(t("met"), String(c.met)))))));
    } else {
      leadersBox.append(h("p", { class: "empty", text: leaders ? t("none") : t("not_published") }));
    }
  }
  period.addEventListener("change", () => draw());
  level.addEventListener("change", () => draw());
  await draw();
}
