// Maps with Leaflet (served from the platform), drawing the platform's own boundaries (GET /v1/geo/units):
// no tile server is needed; a tile layer is added only when CONSOLE_TILE_URL is configured.
import { config } from "./api.js";
import { h } from "./dom.js";
import { nameOf } from "./i18n.js";

const geoCache = new Map();

export async function boundaries(level, parentCode) {
  const key = `${level}:${parentCode || ""}`;
  if (!geoCache.has(key)) {
    const url = new URL("/v1/geo/units", location.origin);
    url.searchParams.set("level", level);
    if (parentCode) url.searchParams.set("parent_code", parentCode);
    geoCache.set(
      key,
      fetch(url).then((answer) => {
        if (!answer.ok) throw new Error(`geo ${answer.status}`);
        return answer.json();
      }),
    );
  }
  return geoCache.get(key);
}

export function createMap(element, { label } = {}) {
  const map = L.map(element, { zoomSnap: 0.25, attributionControl: Boolean(config.tile_url), keyboard: true });
  if (label) element.setAttribute("aria-label", label);
  element.setAttribute("role", "region");
  if (config.tile_url) {
    L.tileLayer(config.tile_url, { attribution: config.tile_attribution || "", maxZoom: 19 }).addTo(map);
  }
  map.setView([29.87, 121.55], 10);
  return map;
}

/** A GeoJSON layer of unit polygons; `style(feature)` colours them; `onClick(feature)` on click or Enter. */
export function unitLayer(collection, { style, tooltip, onClick } = {}) {
  return L.geoJSON(collection, {
    style: (feature) => ({
      className: `unit unit-${feature.properties.level}`,
      color: "#37474f",
      weight: 1,
      fillOpacity: 0.65,
      fillColor: "#cfd8dc",
      ...(style ? style(feature) : {}),
    }),
    onEachFeature: (feature, layer) => {
      const text = tooltip ? tooltip(feature) : nameOf(feature.properties);
      layer.bindTooltip(text, { sticky: true });
      if (onClick) layer.on("click", () => onClick(feature));
      layer.on("add", () => {
        const path = layer.getElement?.();
        if (!path) return;
        path.dataset.code = feature.properties.code;
        path.setAttribute("aria-label", text);
        if (onClick) {
          path.setAttribute("tabindex", "0");
          path.setAttribute("role", "button");
          path.addEventListener("keydown", (event) => {
            if (event.key === "Enter" || event.key === " ") {
              event.preventDefault();
              onClick(feature);
            }
          });
        }
      });
    },
  });
}

/** Sequential colours (light to dark), readable by colour-blind users (a single-hue ramp). */
export const RAMP = ["#f1f5fb", "#c6dbef", "#9ecae1", "#6baed6", "#3182bd", "#08519c"];
export const HEAT = ["#fff5eb", "#fdd0a2", "#fdae6b", "#fd8d3c", "#e6550d", "#a63603"];

export function colourOf(value, max, ramp = RAMP) {
  if (value === null || value === undefined) return "#e0e0e0";
  if (max <= 0) return ramp[0];
  const index = Math.min(ramp.length - 1, Math.floor((value / max) * (ramp.length - 1) + 0.0001));
  return ramp[Math.max(0, index)];
}

/** A legend control: [[colour, label], …]. */
export function legend(map, title, entries) {
  const control = L.control({ position: "bottomright" });
  control.onAdd = () =>
    h("div", { class: "legend" }, h("strong", { text: title }), entries.map(([colour, text]) => h("div", {}, h("i", { style: `background:${colour}` }), text)));
  control.addTo(map);
  return control;
}

export function fit(map, layer) {
  const bounds = layer.getBounds();
  if (bounds.isValid()) map.fitBounds(bounds, { padding: [10, 10] });
}
