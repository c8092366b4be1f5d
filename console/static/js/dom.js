// Small DOM helpers: h() builds elements (text is always set as text, never parsed as HTML).
import { t, currentLang } from "./i18n.js";
import { config } from "./api.js";

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "text") el.textContent = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** The SVG element builder (charts). */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(attrs)) if (value !== undefined && value !== null) el.setAttribute(key, String(value));
  append(el, children);
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function fmtTime(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString(currentLang() === "en" ? "en-GB" : "zh-CN", {
    timeZone: config.timezone || "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  });
}

export function fmtPct(value) {
  return value === null || value === undefined ? "—" : `${(value * 100).toFixed(1)}%`;
}

export function fmtNum(value, digits = 1) {
  return value === null || value === undefined ? "—" : Number(value).toFixed(digits);
}

/** Working minutes as "3 工时 20 分钟" / "overdue by …". */
export function fmtWorking(minutes) {
  if (minutes === null || minutes === undefined) return "—";
  const past = minutes < 0;
  const m = Math.round(Math.abs(minutes));
  const text = m >= 60 ? `${Math.floor(m / 60)} ${t("working_hours")} ${m % 60} ${t("minutes")}` : `${m} ${t("minutes")}`;
  return past ? `${t("overdue_by")} ${text}` : text;
}

/** Tracking numbers are read in three groups of five digits. */
export function groupTracking(no) {
  return String(no).replace(/(\d{5})(?=\d)/g, "$1 ");
}

export function slaBadge(state) {
  return h("span", { class: `badge sla-${state}`, text: t(`sla_${state}`) });
}

export function statusBadge(status) {
  return h("span", { class: "badge status", text: t(`st_${status}`) });
}

export function toast(message, bad = false) {
  const box = document.getElementById("toasts");
  const item = h("div", { class: bad ? "toast bad" : "toast", role: bad ? "alert" : "status", text: message });
  box.append(item);
  setTimeout(() => item.remove(), 5000);
}

/** A page heading that takes focus after navigation (screen readers hear where they are). */
export function heading(text) {
  return h("h1", { tabindex: "-1", id: "page-title", text });
}
