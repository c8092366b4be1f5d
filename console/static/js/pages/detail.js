// 工单详情: the citizen's words, the location on the map, the whole trail as a timeline, the deadlines with
// the working time left, and the actions the signed-in user may take (the API checks them again).
import { api, ApiError, currentSession } from "../api.js";
import { h, clear, heading, toast, fmtTime, fmtWorking, slaBadge, statusBadge, groupTracking } from "../dom.js";
import { t, nameOf } from "../i18n.js";
import { boundaries, createMap, unitLayer } from "../map.js";
import { workingLeft, categories, categoryName } from "../requests.js";

const OPEN = ["received", "assigned", "accepted", "needs_dispatch", "suspended", "return_review"];

/** Which actions to offer: by role, by status, and (for handlers) whether the request is theirs or their unit's. */
export function offeredActions(me, request) {
  const dispatcher = me.role === "dispatcher";
  const handler = me.role === "handler" && (request.handling.handler_id === me.id || request.handling.handler_id === null);
  const s = request.status;
  const acts = [];
  if ((handler || dispatcher) && s === "assigned") acts.push("accept");
  if ((handler || dispatcher) && ["assigned", "accepted", "suspended", "needs_dispatch"].includes(s)) acts.push("note");
  if ((handler || dispatcher) && s === "accepted") acts.push("resolve", "suspend");
  if ((handler || dispatcher) && s === "suspended") acts.push("resume");
  if (handler && ["assigned", "accepted"].includes(s)) acts.push("return");
  if ((handler || dispatcher) && OPEN.includes(s)) acts.push("escalate");
  if (dispatcher && OPEN.includes(s)) acts.push("reassign");
  if (dispatcher && ["assigned", "accepted", "suspended"].includes(s)) acts.push("joint");
  if (dispatcher && s === "needs_dispatch") acts.push("classify");
  if (dispatcher && s === "return_review") acts.push("return-review");
  return acts;
}

/** A joint request's open co-unit tasks a handler may work on (the API checks the membership). */
export function offeredCoTasks(me, request) {
  if (me.role !== "handler") return [];
  const acts = [];
  for (const task of request.co_tasks || []) {
    if (task.status === "assigned") acts.push({ name: "co_accept", task });
    if (["assigned", "accepted"].includes(task.status)) acts.push({ name: "co_reply", task });
  }
  return acts;
}

export function render(main, { id }) {
  return show(main, id, false);
}

async function show(main, id, reveal) {
  const me = currentSession().me;
  let request;
  try {
    request = await api(`/v1/requests/${id}`, { params: reveal ? { reveal_pii: "true" } : {} });
  } catch (exc) {
    clear(main).append(heading(exc.status === 404 ? t("not_found") : t("error")), h("p", { text: exc.message }));
    return;
  }
  const [events, cats, left] = await Promise.all([
    api(`/v1/requests/${id}/events`).catch(() => ({ items: [], chain_intact: null })),
    categories().catch(() => new Map()),
    workingLeft([request.due.respond_by, request.due.resolve_by]).catch(() => ({})),
  ]);
  clear(main);
  const reload = () => show(main, id, reveal);
  const mapBox = h("div", { class: "map small", id: "detail-map" });
  const handling = request.handling || {};
  main.append(
    h("p", {}, h("a", { href: "/console/", "data-link": true, text: `← ${t("back")}` })),
    heading(`${t("detail_title")} #${request.id}`),
    h("p", { class: "meta" }, slaBadge(request.sla_state), " ", statusBadge(request.status), " ",
      h("span", { text: `${t("tracking_no")} ${groupTracking(request.tracking_no)}` })),
    h(
      "div",
      { class: "grid-2" },
      h(
        "div",
        {},
        h("section", { class: "card", "aria-labelledby": "words-title" },
          h("h2", { id: "words-title", text: t("citizen_words") }),
          h("p", { class: "citizen-words", id: "citizen-words", text: request.description }),
          h("dl", { class: "facts" },
            fact(t("category"), `${categoryName(cats, request.category)} (${request.category})`),
            fact(t("channel"), t(`ch_${request.channel}`)),
            fact(t("priority"), t(`prio_${request.priority}`)),
            fact(t("received_at"), fmtTime(request.received_at)),
            fact(t("address"), request.location?.address || "—"),
            fact(t("unit"), request.location?.org_unit_code || "—"),
            fact(t("lead_unit"), handling.lead_team_name || handling.lead_department_name || "—"),
            fact(t("handler"), handling.handler_name || "—"),
            fact(t("co_units"), (request.co_tasks || []).map((c) => `${c.unit_name} (${c.status})`).join("、") || "—"),
          )),
        h("section", { class: "card", "aria-labelledby": "deadlines-title" },
          h("h2", { id: "deadlines-title", text: t("deadlines") }),
          h("dl", { class: "facts", id: "deadlines" },
            fact(t("respond_by"), `${fmtTime(request.due.respond_by)} · ${t("time_left")}: ${request.status === "accepted" || !OPEN.includes(request.status) ? "—" : fmtWorking(left[request.due.respond_by])}`),
            fact(t("resolve_by"), `${fmtTime(request.due.resolve_by)} · ${t("time_left")}: ${OPEN.includes(request.status) ? fmtWorking(left[request.due.resolve_by]) : "—"}`),
          )),
        h("section", { class: "card", "aria-labelledby": "citizen-title" },
          h("h2", { id: "citizen-title", text: t("citizen") }),
          h("dl", { class: "facts" },
            fact(t("name"), request.citizen?.name || "—"),
            fact(t("phone"), request.citizen?.phone || "—"),
          ),
          request.citizen?.masked && (me.role === "dispatcher" || handling.handler_id === me.id)
            ? h("div", { class: "actions" }, h("button", { type: "button", id: "reveal", text: t("reveal"), onclick: () => show(main, id, true) }))
            : null),
        actionsSection(me, request, reload),
      ),
      h(
        "div",
        {},
        h("section", { class: "card", "aria-labelledby": "location-title" }, h("h2", { id: "location-title", text: t("location") }), mapBox),
        h("section", { class: "card", "aria-labelledby": "trail-title" },
          h("h2", { id: "trail-title", text: t("trail") }),
          events.chain_intact === null ? null : h("p", { class: events.chain_intact ? "hint" : "error", text: events.chain_intact ? `✓ ${t("chain_ok")}` : `✗ ${t("chain_bad")}` }),
          h("ol", { class: "timeline", id: "timeline" }, events.items.map((e) =>
            h("li", { dataset: { kind: e.kind } },
              h("time", { datetime: e.occurred_at, text: fmtTime(e.occurred_at) }),
              h("div", {}, h("strong", { text: t(`ev_${e.kind}`) === `ev_${e.kind}` ? e.kind : t(`ev_${e.kind}`) }), e.to_status ? ` ${e.from_status ? t(`st_${e.from_status}`) : ""} → ${t(`st_${e.to_status}`)}` : "", h("span", { class: "hint", text: ` · ${e.actor}` })),
              e.note ? h("div", { text: e.note }) : null,
            ))),
        ),
      ),
    ),
  );
  drawLocation(mapBox, request);
  document.getElementById("page-title").focus();
}

function fact(term, value) {
  return [h("dt", { text: term }), h("dd", { text: value })];
}

async function drawLocation(box, request) {
  const map = createMap(box, { label: t("location") });
  const code = request.location?.org_unit_code;
  try {
    const grids = await boundaries("grid");
    const feature = grids.features.find((f) => f.properties.code === code);
    if (feature) {
      const layer = unitLayer({ type: "FeatureCollection", features: [feature] }, { style: () => ({ fillColor: "#9ecae1", weight: 2 }) }).addTo(map);
      map.fitBounds(layer.getBounds(), { padding: [20, 20] });
    }
  } catch {
    /* the marker alone still shows where */
  }
  if (request.location?.lat != null) {
    L.circleMarker([request.location.lat, request.location.lon], { radius: 8, color: "#fff", weight: 2, fillColor: "#9e1c1c", fillOpacity: 1 }).addTo(map);
    if (!code) map.setView([request.location.lat, request.location.lon], 15);
  }
}

function actionsSection(me, request, reload) {
  const acts = offeredActions(me, request);
  const coActs = offeredCoTasks(me, request);
  if (!acts.length && !coActs.length) return null;
  return h("section", { class: "card", "aria-labelledby": "actions-title" },
    h("h2", { id: "actions-title", text: t("actions") }),
    h("div", { class: "actions", id: "actions" },
      acts.map((name) =>
        h("button", { type: "button", class: ["accept", "resolve"].includes(name) ? "primary" : "", dataset: { action: name }, text: t(`act_${name}`), onclick: () => openAction(name, request, reload) })),
      coActs.map(({ name, task }) =>
        h("button", { type: "button", dataset: { action: name, task: task.id }, text: `${t(`act_${name}`)} · ${task.unit_name}`, onclick: () => openAction(name, request, reload, task) }))));
}

// ---- the action dialogs -----------------------------------------------------------------------------

function field(label, input, hint) {
  return [h("label", { for: input.id, text: label }), input, hint ? h("p", { class: "hint", text: hint }) : null];
}

function textArea(id, required = false) {
  return h("textarea", { id, name: id, required, maxlength: "2000" });
}

function select(id, options) {
  return h("select", { id, name: id }, options.map(([value, label]) => h("option", { value, text: label })));
}

/** The form of each action: fields, and how to build the body from them. */
const FORMS = {
  accept: () => ({ fields: field(t("note"), textArea("f-note")), body: (f) => ({ note: f["f-note"] || null }) }),
  note: () => ({
    fields: [field(t("note"), textArea("f-text", true)), h("label", { class: "inline" }, h("input", { type: "checkbox", id: "f-public" }), t("public_note"))],
    body: (f, form) => ({ text: f["f-text"], public: form.querySelector("#f-public").checked }),
  }),
  suspend: () => ({ fields: field(t("reason"), textArea("f-reason", true)), body: (f) => ({ reason: f["f-reason"] }) }),
  resume: () => ({ fields: field(t("note"), textArea("f-note")), body: (f) => ({ note: f["f-note"] || null }) }),
  escalate: () => ({ fields: field(t("note"), textArea("f-note", true)), body: (f) => ({ note: f["f-note"] }) }),
  return: () => ({
    fields: [
      field(t("reason"), select("f-reason", ["not_ours", "wrong_location", "wrong_category"].map((r) => [r, t(`ret_${r}`)]))),
      field(t("note"), textArea("f-note", true)),
    ],
    body: (f) => ({ reason: f["f-reason"], note: f["f-note"] }),
  }),
  resolve: () => ({
    fields: [
      field(t("outcome"), select("f-outcome", ["resolved", "explained", "unresolvable"].map((o) => [o, t(`out_${o}`)]))),
      field(t("reply"), textArea("f-reply", true)),
    ],
    body: (f) => ({ outcome: f["f-outcome"], reply: f["f-reply"] }),
  }),
  classify: async () => {
    const cats = [...(await categories()).values()].filter((c) => c.code !== "unknown" && c.active !== false);
    return {
      fields: field(t("category"), select("f-category", cats.map((c) => [c.code, `${nameOf(c)} (${c.code})`]))),
      body: (f) => ({ category: f["f-category"] }),
    };
  },
  "return-review": () => ({
    fields: [
      field(t("decision"), select("f-decision", [["confirm", t("review_confirm")], ["reject", t("review_reject")]])),
      field(t("note"), textArea("f-note", true)),
    ],
    body: (f) => ({ decision: f["f-decision"], note: f["f-note"] }),
  }),
  co_accept: () => ({ fields: field(t("note"), textArea("f-note")), body: (f) => ({ note: f["f-note"] || null }) }),
  co_reply: () => ({
    fields: [field(t("reply"), textArea("f-reply", true)), h("label", { class: "inline" }, h("input", { type: "checkbox", id: "f-public" }), t("public_note"))],
    body: (f, form) => ({ reply: f["f-reply"], public: form.querySelector("#f-public").checked }),
  }),
  reassign: () => directoryForm({ joint: false }),
  joint: () => directoryForm({ joint: true }),
};

/** Reassign or joint: choose a grid team (and optionally a member) or a department from the directory. */
function directoryForm({ joint }) {
  const kind = select("f-kind", [["team", t("team")], ["department", t("department")]]);
  const query = h("input", { id: "f-query", type: "search", autocomplete: "off" });
  const target = h("select", { id: "f-target", required: true, size: "6" });
  const member = h("select", { id: "f-member" });
  const note = textArea("f-note");
  let found = [];
  let seq = 0;
  async function search() {
    const mine = ++seq;
    const path = kind.value === "team" ? "/v1/directory/teams" : "/v1/directory/departments";
    try {
      const page = await api(path, { params: { q: query.value.trim() || undefined, limit: 50 } });
      if (mine !== seq) return;
      found = page.items;
      clear(target);
      for (const item of found) {
        const label = `${item.name} · ${t("open_load")} ${item.open_load} · ${t("on_duty")} ${item.on_duty_count}`;
        target.append(h("option", { value: String(kind.value === "team" ? item.id : item.code), text: label }));
      }
      fillMembers();
    } catch (exc) {
      toast(exc.message, true);
    }
  }
  function fillMembers() {
    clear(member).append(h("option", { value: "", text: `— ${t("none")} —` }));
    const item = found.find((x) => String(kind.value === "team" ? x.id : x.code) === target.value);
    for (const m of item?.members || []) {
      member.append(h("option", { value: String(m.staff_id), text: `${m.display_name} (${m.username}) · ${m.on_duty ? t("on_duty") : "—"} · ${t("open_load")} ${m.open_load}` }));
    }
  }
  kind.addEventListener("change", search);
  query.addEventListener("input", () => search());
  target.addEventListener("change", fillMembers);
  search();
  return {
    fields: [
      field(t("assign_to"), kind),
      field(t("search"), query, kind.value === "team" ? t("search_team") : t("search_department")),
      field(t("choose"), target),
      joint ? null : field(t("member"), member),
      field(t("note"), note),
    ],
    body: (f) => {
      const noteText = f["f-note"] || null;
      if (joint) {
        return kind.value === "team" ? { team_ids: [Number(target.value)], note: noteText } : { department_codes: [target.value], note: noteText };
      }
      if (member.value) return { handler_id: Number(member.value), note: noteText };
      return kind.value === "team" ? { team_id: Number(target.value), note: noteText } : { department_code: target.value, note: noteText };
    },
  };
}

async function openAction(name, request, reload, task = null) {
  const dialog = document.getElementById("action-dialog");
  const spec = await FORMS[name]();
  const error = h("p", { class: "error", role: "alert" });
  const submit = h("button", { type: "submit", class: "primary", text: t(`act_${name}`) });
  const form = h("form", { id: `form-${name}` },
    h("h2", { id: "action-title", text: `${t(`act_${name}`)} · #${request.id}` }),
    spec.fields, error,
    h("div", { class: "actions" }, submit, h("button", { type: "button", class: "ghost", text: t("cancel"), onclick: () => dialog.close() })));
  clear(dialog).append(form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const values = {};
    for (const el of form.querySelectorAll("input, select, textarea")) values[el.id] = el.value.trim?.() ?? el.value;
    submit.disabled = true;
    try {
      const path = task ? `co-tasks/${task.id}/${name.replace("co_", "")}` : name;
      await api(`/v1/requests/${request.id}/${path}`, { method: "POST", body: spec.body(values, form), version: request.version });
      dialog.close();
      toast(`${t(`act_${name}`)}: ${t("action_done")}`);
      reload();
    } catch (exc) {
      if (exc instanceof ApiError && (exc.status === 409 || exc.status === 412) && /version|changed|If-Match/i.test(exc.message)) {
        dialog.close();
        toast(t("conflict"), true);
        reload();
        return;
      }
      error.textContent = exc.message;
    } finally {
      submit.disabled = false;
    }
  });
  dialog.showModal();
  form.querySelector("input, select, textarea, button")?.focus();
}

