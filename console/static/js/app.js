// The console's entry: configuration, the signed-in user, navigation by role, and a tiny router over
// /console/<page> paths (history API; the server answers every page path with this same shell).
import { loadConfig, currentSession, signOut } from "./api.js";
import { h, clear } from "./dom.js";
import { t, setLang, currentLang, applyStatic } from "./i18n.js";
import * as login from "./pages/login.js";
import * as board from "./pages/board.js";
import * as queue from "./pages/queue.js";
import * as detail from "./pages/detail.js";
import * as intake from "./pages/intake.js";
import * as dashboard from "./pages/dashboard.js";
import * as publicPage from "./pages/public.js";

// Which roles see which page (the API enforces the same rules; this only hides what would be refused).
export const PAGES = {
  board: { module: board, label: "nav_board", roles: ["dispatcher", "admin", "supervisor"] },
  queue: { module: queue, label: "nav_queue", roles: ["handler", "dispatcher", "admin"] },
  intake: { module: intake, label: "nav_intake", roles: ["clerk", "dispatcher", "handler", "admin"] },
  dashboard: { module: dashboard, label: "nav_dashboard", roles: ["supervisor", "admin", "auditor", "dispatcher"] },
  public: { module: publicPage, label: "nav_public", roles: null },
};
const HOME = { dispatcher: "board", handler: "queue", clerk: "intake", supervisor: "dashboard", auditor: "dashboard", admin: "board" };

let active = null; // the page module on screen (its `leave` stops its timers)

export function role() {
  return currentSession()?.me?.role || null;
}

export function navigate(path, { replace = false } = {}) {
  if (replace) history.replaceState({}, "", path);
  else history.pushState({}, "", path);
  route();
}

function renderNav(current) {
  const nav = clear(document.getElementById("nav"));
  const who = document.getElementById("whoami");
  const out = document.getElementById("sign-out");
  const me = currentSession()?.me;
  for (const [name, page] of Object.entries(PAGES)) {
    if (page.roles && (!me || !page.roles.includes(me.role))) continue;
    nav.append(h("a", { href: `/console/${name}`, "data-link": true, "aria-current": name === current ? "page" : null, text: t(page.label) }));
  }
  who.textContent = me ? `${me.name} · ${t(`role_${me.role}`)}` : "";
  out.hidden = !me;
}

/** After navigating, the new page's heading takes focus (screen readers announce where the user is). */
async function route() {
  const shown = await show();
  if (shown !== "login") document.getElementById("page-title")?.focus({ preventScroll: true });
}

async function show() {
  if (active?.leave) active.leave();
  active = null;
  const parts = location.pathname.replace(/^\/console\/?/, "").split("/").filter(Boolean);
  const main = clear(document.getElementById("main"));
  let name = parts[0] || "";
  const me = currentSession()?.me;
  if (name === "public") {
    renderNav("public");
    active = publicPage;
    await publicPage.render(main);
    return "public";
  }
  if (!me || name === "login") {
    renderNav("login");
    active = login;
    login.render(main, { next: name && name !== "login" ? location.pathname : null });
    return "login";
  }
  if (!name) {
    history.replaceState({}, "", `/console/${HOME[me.role] || "queue"}`);
    return show();
  }
  renderNav(name === "requests" ? (HOME[me.role] || "queue") : name);
  if (name === "requests" && /^\d+$/.test(parts[1] || "")) {
    active = detail;
    await detail.render(main, { id: Number(parts[1]) });
    return "requests";
  }
  const page = PAGES[name];
  if (!page || (page.roles && !page.roles.includes(me.role))) {
    main.append(h("h1", { id: "page-title", tabindex: "-1", text: t("forbidden") }), h("p", {}, h("a", { href: "/console/", "data-link": true, text: t("back") })));
    return name;
  }
  active = page.module;
  await page.module.render(main, {});
  return name;
}

function start() {
  setLang(currentLang());
  document.addEventListener("click", (event) => {
    const link = event.target.closest("a[data-link]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(link.getAttribute("href"));
  });
  window.addEventListener("popstate", route);
  document.getElementById("lang-toggle").addEventListener("click", () => {
    setLang(currentLang() === "zh" ? "en" : "zh");
    document.getElementById("lang-toggle").textContent = currentLang() === "zh" ? "EN" : "中文";
    route();
  });
  document.getElementById("lang-toggle").textContent = currentLang() === "zh" ? "EN" : "中文";
  document.getElementById("sign-out").addEventListener("click", () => {
    signOut();
    navigate("/console/login");
  });
  applyStatic();
  route();
}

loadConfig().finally(start);
