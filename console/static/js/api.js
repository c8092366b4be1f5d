// The platform's API, with the staff token. A 401 on a call (the 15-minute token ran out) opens the
// re-login dialog on top of the page — what the user typed stays — and the call is retried once.
import { t, applyStatic } from "./i18n.js";

const KEY = "minqing.session";
let session = JSON.parse(sessionStorage.getItem(KEY) || "null");
let relogin = null; // the one pending re-login (several calls may fail at once)
export let config = { scoring_base: "/console/scoring", tile_url: "", poll_seconds: 15 };

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem?.detail || problem?.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
  }
}

export async function loadConfig() {
  const answer = await fetch("/console/config.json");
  if (answer.ok) config = await answer.json();
  return config;
}

export function currentSession() {
  return session;
}

function save(next) {
  session = next;
  if (next) sessionStorage.setItem(KEY, JSON.stringify(next));
  else sessionStorage.removeItem(KEY);
}

export async function signIn(username, password) {
  const body = new URLSearchParams({ username, password });
  const answer = await fetch("/v1/auth/token", { method: "POST", body });
  if (!answer.ok) throw new ApiError(answer.status, await problemOf(answer));
  const token = await answer.json();
  save({ token: token.access_token, username, expires_at: Date.now() + token.expires_in * 1000, me: session?.me });
  const me = await api("/v1/me");
  save({ ...session, me });
  return me;
}

export function signOut() {
  save(null);
}

async function problemOf(answer) {
  try {
    return await answer.json();
  } catch {
    return { title: answer.statusText };
  }
}

/** Ask for the password again (modal), resolve when signed in again, reject when the user signs out. */
function reauthenticate() {
  if (relogin) return relogin;
  const dialog = document.getElementById("relogin");
  const form = document.getElementById("relogin-form");
  const input = document.getElementById("relogin-password");
  const error = document.getElementById("relogin-error");
  applyStatic(dialog);
  document.getElementById("relogin-username").textContent = session?.username || "";
  document.getElementById("relogin-username-field").value = session?.username || "";
  error.textContent = "";
  input.value = "";
  relogin = new Promise((resolve, reject) => {
    const done = (ok) => {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dialog.removeEventListener("cancel", onEscape);
      dialog.close();
      relogin = null;
      ok ? resolve() : reject(new ApiError(401, { title: "signed out" }));
    };
    const onSubmit = async (event) => {
      event.preventDefault();
      try {
        await signIn(session.username, input.value);
        done(true);
      } catch (exc) {
        error.textContent = exc.status === 429 ? t("login_locked") : t("login_failed");
        input.select();
      }
    };
    const onCancel = () => {
      done(false);
      signOut();
      location.assign("/console/login");
    };
    const onEscape = (event) => event.preventDefault(); // the dialog stays until signed in or out
    const cancel = document.getElementById("relogin-cancel");
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dialog.addEventListener("cancel", onEscape);
  });
  dialog.showModal();
  input.focus();
  return relogin;
}

/**
 * Call the API. `body` objects go as JSON; `version` sends If-Match. Answers parsed JSON (or the raw
 * Response with `raw: true`); a non-2xx throws ApiError with the problem+json document.
 */
export async function api(path, { method = "GET", body, version, params, raw = false, auth = true, retried = false } = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params || {})) {
    if (value === undefined || value === null || value === "") continue;
    for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, item);
  }
  const headers = { Accept: "application/json" };
  if (auth && session?.token) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (version !== undefined) headers["If-Match"] = String(version);
  let answer;
  try {
    answer = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (exc) {
    throw new ApiError(0, { title: t("offline"), detail: String(exc) });
  }
  if (answer.status === 401 && auth && session && !retried) {
    await reauthenticate();
    return api(path, { method, body, version, params, raw, auth, retried: true });
  }
  if (!answer.ok) throw new ApiError(answer.status, await problemOf(answer));
  if (raw) return answer;
  if (answer.status === 204) return null;
  return answer.json();
}

/** The scoring service, through the intake API's same-origin proxy (/console/scoring/...). */
export function scoring(path, options = {}) {
  return api(`${config.scoring_base}${path}`, options);
}

/** Every page of a cursor-paged list (up to `max` items). */
export async function all(path, params = {}, max = 1000) {
  const items = [];
  let cursor;
  do {
    const page = await api(path, { params: { ...params, cursor, limit: 200 } });
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor && items.length < max);
  return items;
}
