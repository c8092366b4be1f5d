// 我的待办: my requests, my unit's queue (to claim) and my joint-handling tasks, sorted by due date, with
// the SLA standing (黄牌 / 红牌) and the working time left at a glance.
import { all, config } from "../api.js";
import { h, clear, heading, toast } from "../dom.js";
import { t } from "../i18n.js";
import { requestItem, workingLeft, categories, dueOf } from "../requests.js";

const QUEUES = [
  ["mine", "queue_mine", { assigned_to: "me" }],
  ["units", "queue_units", { queue: "my_units" }],
  ["co", "queue_co", { queue: "co_units" }],
];
let timer = null;
let chosen = "mine";

export function leave() {
  if (timer) clearInterval(timer);
  timer = null;
}

export async function render(main) {
  const tabs = h("div", { class: "tabs", role: "tablist", "aria-label": t("queue_title") });
  const panel = h("div", { role: "tabpanel", id: "queue-panel", tabindex: "0" });
  const list = h("ul", { class: "request-list", id: "queue-list" });
  const updated = h("p", { class: "updated" });
  panel.append(updated, list);
  main.append(heading(t("queue_title")), tabs, panel);
  const cats = await categories().catch(() => new Map());

  async function refresh() {
    try {
      const found = await Promise.all(QUEUES.map(([, , params]) => all("/v1/requests", { ...params, sort: "due" }, 400).catch(() => [])));
      const byQueue = Object.fromEntries(QUEUES.map(([name], i) => [name, found[i].filter((r) => !["closed", "resolved", "duplicate"].includes(r.status) || name === "co")]));
      const left = await workingLeft(found.flat().map(dueOf));
      clear(tabs);
      for (const [name, label] of QUEUES) {
        const overdue = byQueue[name].filter((r) => r.sla_state === "overdue").length;
        const tab = h(
          "button",
          { type: "button", role: "tab", id: `tab-${name}`, "aria-selected": String(chosen === name), "aria-controls": "queue-panel", tabindex: chosen === name ? "0" : "-1", dataset: { queue: name } },
          `${t(label)} (${byQueue[name].length})`,
          overdue ? h("span", { class: "badge sla-overdue", text: `${t("sla_overdue")} ${overdue}` }) : null,
        );
        tab.addEventListener("click", () => { chosen = name; refresh(); });
        tab.addEventListener("keydown", (event) => {
          const index = QUEUES.findIndex(([n]) => n === name);
          const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
          if (!step) return;
          chosen = QUEUES[(index + step + QUEUES.length) % QUEUES.length][0];
          refresh().then(() => document.getElementById(`tab-${chosen}`)?.focus());
        });
        tabs.append(tab);
      }
      panel.setAttribute("aria-labelledby", `tab-${chosen}`);
      clear(list);
      const items = byQueue[chosen];
      if (!items.length) list.append(h("li", { class: "empty", text: t("no_requests") }));
      for (const r of items) list.append(requestItem(r, { categories: cats, left }));
      updated.textContent = `${t("updated_at")} ${new Date().toLocaleTimeString()}`;
    } catch (exc) {
      toast(`${t("error")}: ${exc.message}`, true);
    }
  }
  await refresh();
  timer = setInterval(refresh, (config.poll_seconds || 15) * 1000);
}
