// What several pages show of a request: list rows, the due deadline and its working time left.
import { api } from "./api.js";
import { h, fmtTime, fmtWorking, slaBadge, statusBadge } from "./dom.js";
import { t } from "./i18n.js";

export const OPEN_STATUSES = ["received", "assigned", "accepted", "needs_dispatch", "suspended", "return_review"];

/** The deadline that counts now: the response deadline until accepted, then the resolution deadline. */
export function dueOf(request) {
  const responding = ["received", "assigned", "needs_dispatch", "return_review"].includes(request.status);
  return responding ? request.due.respond_by : request.due.resolve_by;
}

/** Working minutes left to each deadline, by the platform's calendar ({iso: minutes}). */
export async function workingLeft(deadlines) {
  const unique = [...new Set(deadlines.filter(Boolean))].slice(0, 200);
  if (!unique.length) return {};
  const answer = await api("/console/api/working-left", { params: { until: unique } });
  const byIso = {};
  unique.forEach((iso, i) => (byIso[iso] = answer.items[i]?.working_minutes ?? null));
  return byIso;
}

export function categoryName(categories, code) {
  const found = categories?.get?.(code);
  return found ? found.name : code;
}

/** One row of a request list: a link to the detail page with SLA standing, status, due and time left. */
export function requestItem(request, { categories, left } = {}) {
  const due = dueOf(request);
  const minutes = left ? left[due] : undefined;
  return h(
    "li",
    { dataset: { requestId: request.id } },
    h(
      "a",
      { href: `/console/requests/${request.id}`, "data-link": true },
      h(
        "span",
        { class: "meta" },
        slaBadge(request.sla_state),
        statusBadge(request.status),
        h("strong", { text: categoryName(categories, request.category) }),
        request.priority !== "normal" ? h("span", { class: `prio-${request.priority}`, text: t(`prio_${request.priority}`) }) : null,
        h("span", { text: `#${request.id}` }),
      ),
      h("span", { class: "desc", text: request.description }),
      h(
        "span",
        { class: "meta" },
        h("span", { text: `${t("due")}: ${fmtTime(due)}` }),
        minutes !== undefined ? h("span", { class: minutes < 0 ? "sla-overdue" : "", text: `${t("time_left")}: ${fmtWorking(minutes)}` }) : null,
        request.handling?.lead_team_name || request.handling?.lead_department_name
          ? h("span", { text: request.handling.lead_team_name || request.handling.lead_department_name })
          : null,
        request.location?.address ? h("span", { text: request.location.address }) : null,
      ),
    ),
  );
}

let categoriesPromise = null;
/** The catalog (code → category), read once per page load. */
export function categories() {
  categoriesPromise ??= api("/v1/categories")
    .then((items) => new Map(items.map((c) => [c.code, c])))
    .catch((exc) => {
      categoriesPromise = null;
      throw exc;
    });
  return categoriesPromise;
}
