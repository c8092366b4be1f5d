// 受理登记 for window clerks and call-takers: category picker with search, location by map click or address,
// citizen details, a duplicate warning before submitting, and the tracking number shown large to read out.
import { api } from "../api.js";
import { h, clear, heading, toast, groupTracking, fmtTime } from "../dom.js";
import { t, nameOf } from "../i18n.js";
import { boundaries, createMap, unitLayer, fit } from "../map.js";
import { categories } from "../requests.js";
import { role } from "../app.js";

const CHANNELS = ["window", "hotline", "station", "web", "app", "visit"];

export async function render(main) {
  const cats = [...(await categories()).values()].filter((c) => c.active !== false);
  const leafCats = cats.filter((c) => !cats.some((other) => other.parent_code === c.code));
  let chosenCategory = null;
  let point = null;
  let checkedBody = null; // the body the last duplicate check was for

  const channel = h("select", { id: "in-channel" }, CHANNELS.map((c) => h("option", { value: c, text: t(`ch_${c}`) })));
  if (role() === "clerk") channel.value = "window";
  const catSearch = h("input", { id: "in-category-search", type: "search", autocomplete: "off", role: "combobox", "aria-expanded": "true", "aria-controls": "in-category-options", "aria-autocomplete": "list" });
  const catOptions = h("ul", { class: "category-options", id: "in-category-options", role: "listbox", "aria-label": t("category") });
  const catChosen = h("p", { class: "hint", id: "in-category-chosen", "aria-live": "polite" });
  const attrBox = h("div", { id: "in-attributes" });
  const description = h("textarea", { id: "in-description", required: true, maxlength: "4000" });
  const address = h("input", { id: "in-address", maxlength: "500", autocomplete: "off" });
  const lat = h("input", { id: "in-lat", inputmode: "decimal", autocomplete: "off" });
  const lon = h("input", { id: "in-lon", inputmode: "decimal", autocomplete: "off" });
  const name = h("input", { id: "in-name", maxlength: "50", autocomplete: "off" });
  const phone = h("input", { id: "in-phone", type: "tel", maxlength: "32", autocomplete: "off" });
  const anonymous = h("input", { id: "in-anonymous", type: "checkbox" });
  const mapBox = h("div", { class: "map", id: "intake-map" });
  const dupBox = h("div", { id: "dup-result", "aria-live": "polite" });
  const error = h("p", { class: "error", role: "alert", id: "intake-error" });
  const submit = h("button", { type: "submit", class: "primary", id: "in-submit", text: t("submit") });
  const checkButton = h("button", { type: "button", id: "in-check", text: t("check_dup") });

  function showOptions() {
    const q = catSearch.value.trim().toLowerCase();
    clear(catOptions);
    const matches = leafCats.filter((c) => !q || c.name.includes(q) || c.code.toLowerCase().includes(q) || (c.name_en || "").toLowerCase().includes(q)).slice(0, 40);
    matches.forEach((c, i) => {
      const option = h("li", { role: "option", id: `cat-${c.code.replace(/\W/g, "-")}`, dataset: { code: c.code }, "aria-selected": String(chosenCategory?.code === c.code), text: `${nameOf(c)} · ${c.code}` });
      option.addEventListener("click", () => choose(c));
      catOptions.append(option);
      if (i === 0) catOptions.dataset.first = c.code;
    });
  }
  function choose(c) {
    chosenCategory = c;
    catChosen.textContent = `${t("category")}: ${nameOf(c)} (${c.code})`;
    showOptions();
    drawAttributes(c);
  }
  // The category's own questions (Open311 attributes): a list to choose from, text or a number.
  function drawAttributes(c) {
    clear(attrBox);
    for (const a of [...(c.attributes || [])].filter((x) => x.variable !== false).sort((x, y) => (x.order || 0) - (y.order || 0))) {
      const id = `attr-${a.code}`;
      let input;
      if (a.datatype === "singlevaluelist" || a.datatype === "multivaluelist") {
        input = h("select", { id, dataset: { attr: a.code, kind: a.datatype }, multiple: a.datatype === "multivaluelist", required: a.required },
          a.datatype === "singlevaluelist" ? h("option", { value: "", text: `— ${t("choose")} —` }) : null,
          (a.values || []).map((v) => h("option", { value: v.key, text: v.name })));
      } else {
        input = h("input", { id, dataset: { attr: a.code, kind: a.datatype }, type: a.datatype === "number" ? "number" : "text", required: a.required });
      }
      attrBox.append(h("label", { for: id, text: `${a.description || a.code}${a.required ? " *" : ""}` }), input);
    }
  }
  function attributes() {
    const out = {};
    for (const el of attrBox.querySelectorAll("[data-attr]")) {
      if (el.dataset.kind === "multivaluelist") {
        const values = [...el.selectedOptions].map((o) => o.value);
        if (values.length) out[el.dataset.attr] = values;
      } else if (el.value !== "") {
        out[el.dataset.attr] = el.dataset.kind === "number" ? Number(el.value) : el.value;
      }
    }
    return out;
  }
  catSearch.addEventListener("input", showOptions);
  catSearch.addEventListener("keydown", (event) => {
    const items = [...catOptions.querySelectorAll("li")];
    let index = items.findIndex((li) => li.dataset.code === chosenCategory?.code);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      index = Math.max(0, Math.min(items.length - 1, index + (event.key === "ArrowDown" ? 1 : -1)));
      const c = leafCats.find((x) => x.code === items[index]?.dataset.code);
      if (c) choose(c);
      catSearch.setAttribute("aria-activedescendant", items[index]?.id || "");
    } else if (event.key === "Enter") {
      event.preventDefault();
      const c = leafCats.find((x) => x.code === (chosenCategory?.code || catOptions.dataset.first));
      if (c) choose(c);
    }
  });

  const form = h(
    "form",
    { id: "intake-form", novalidate: true },
    h("div", { class: "grid-2" },
      h("div", {},
        h("fieldset", {}, h("legend", { text: t("category") }),
          h("label", { for: "in-channel", text: t("channel") }), channel,
          h("label", { for: "in-category-search", text: t("category_search") }), catSearch, catOptions, catChosen, attrBox),
        h("fieldset", {}, h("legend", { text: t("description") }),
          h("label", { for: "in-description", text: t("description") }), description),
        h("fieldset", {}, h("legend", { text: t("citizen") }),
          h("label", { for: "in-name", text: t("name") }), name,
          h("label", { for: "in-phone", text: t("phone") }), phone,
          h("label", { class: "inline" }, anonymous, t("anonymous"))),
      ),
      h("div", {},
        h("fieldset", {}, h("legend", { text: t("location") }),
          h("p", { class: "hint", text: t("map_click") }), mapBox,
          h("label", { for: "in-address", text: t("address") }), address,
          h("div", { class: "toolbar" },
            h("div", {}, h("label", { for: "in-lat", text: t("lat") }), lat),
            h("div", {}, h("label", { for: "in-lon", text: t("lon") }), lon))),
        dupBox, error,
        h("div", { class: "actions" }, checkButton, submit)),
    ),
  );
  main.append(heading(t("intake_title")), form);
  showOptions();

  const map = createMap(mapBox, { label: t("map_click") });
  let marker = null;
  boundaries("community").then((geo) => fit(map, unitLayer(geo, { style: () => ({ fillOpacity: 0.15, weight: 0.6 }) }).addTo(map))).catch(() => {});
  function setPoint(latlng) {
    point = { lat: Number(latlng.lat.toFixed(6)), lon: Number(latlng.lng.toFixed(6)) };
    lat.value = point.lat;
    lon.value = point.lon;
    if (marker) marker.setLatLng(latlng);
    else marker = L.marker(latlng, { keyboard: false }).addTo(map);
  }
  map.on("click", (event) => setPoint(event.latlng));
  for (const input of [lat, lon]) {
    input.addEventListener("change", () => {
      const a = Number(lat.value), b = Number(lon.value);
      if (lat.value && lon.value && Number.isFinite(a) && Number.isFinite(b)) setPoint(L.latLng(a, b));
    });
  }

  function body() {
    const location = {};
    if (lat.value && lon.value) Object.assign(location, { lat: Number(lat.value), lon: Number(lon.value), coord_system: "wgs84" });
    if (address.value.trim()) location.address = address.value.trim();
    const citizen = { anonymous: anonymous.checked };
    if (name.value.trim()) citizen.name = name.value.trim();
    if (phone.value.trim()) citizen.phone = phone.value.trim();
    return { channel: channel.value, category: chosenCategory?.code, description: description.value.trim(), location, citizen, attributes: attributes() };
  }

  function invalid(b) {
    if (!b.category) return t("category");
    if (!b.description) return t("description");
    if (!b.location.lat && !b.location.address) return t("location");
    return null;
  }

  async function check() {
    const b = body();
    const missing = invalid(b);
    if (missing) {
      error.textContent = `${t("error")}: ${missing}`;
      return null;
    }
    error.textContent = "";
    const result = await api("/v1/requests/duplicate-check", { method: "POST", body: b });
    checkedBody = JSON.stringify(b);
    clear(dupBox);
    if (result.candidates.length) {
      dupBox.append(h("div", { class: "dup-warning", id: "dup-warning", role: "alert" },
        h("strong", { text: t("dup_found") }),
        h("ul", {}, result.candidates.map((c) => h("li", {}, h("a", { href: `/console/requests/${c.id}`, target: "_blank", text: groupTracking(c.tracking_no) }), ` · ${fmtTime(c.received_at)} · ${c.description.slice(0, 60)}`)))));
      submit.textContent = t("submit_anyway");
    } else {
      dupBox.append(h("p", { class: "hint", id: "dup-none", text: `✓ ${t("dup_none")}` }));
      submit.textContent = t("submit");
    }
    return result;
  }

  checkButton.addEventListener("click", () => check().catch((exc) => (error.textContent = exc.message)));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      const b = body();
      // The duplicate warning comes before submitting: check first unless this very body was just checked.
      if (checkedBody !== JSON.stringify(b)) {
        const result = await check();
        if (!result || result.candidates.length) return;
      }
      const created = await api("/v1/requests", { method: "POST", body: b });
      showCreated(main, created);
    } catch (exc) {
      error.textContent = exc.problem?.errors?.length ? exc.problem.errors.map((e) => `${e.field || e.loc || ""} ${e.msg || e.message || ""}`).join("; ") : exc.message;
    } finally {
      submit.disabled = false;
    }
  });
}

function showCreated(main, created) {
  clear(main).append(
    heading(t("created")),
    h("section", { class: "card", "aria-labelledby": "page-title" },
      h("p", { text: t("tracking_no") }),
      h("p", { class: "tracking", id: "tracking-no", text: groupTracking(created.tracking_no) }),
      h("p", { text: `${t("citizen_token")}: ${created.citizen_token}` }),
      h("p", { text: `${t("respond_by")}: ${fmtTime(created.due.respond_by)} · ${t("resolve_by")}: ${fmtTime(created.due.resolve_by)}` }),
      created.duplicate_of ? h("p", { class: "dup-warning", text: `${t("duplicate_of")} ${groupTracking(created.duplicate_of.tracking_no)}` }) : null,
      h("div", { class: "actions" },
        h("button", { type: "button", class: "primary", id: "intake-next", text: t("new_request"), onclick: () => { clear(main); render(main); } }),
        h("a", { class: "button", href: `/console/requests/${created.id}`, "data-link": true, text: t("open") }))),
  );
  document.getElementById("page-title").focus();
  toast(`${t("tracking_no")} ${groupTracking(created.tracking_no)}`);
}
