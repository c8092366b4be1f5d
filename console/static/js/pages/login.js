// Sign-in with a staff account (POST /v1/auth/token, the OAuth2 password form).
import { signIn } from "../api.js";
import { h, heading } from "../dom.js";
import { t } from "../i18n.js";
import { navigate } from "../app.js";

export function render(main, { next } = {}) {
  const error = h("p", { class: "error", role: "alert", id: "login-error" });
  const username = h("input", { id: "login-username", name: "username", autocomplete: "username", required: true, autocapitalize: "none", spellcheck: "false" });
  const password = h("input", { id: "login-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const button = h("button", { type: "submit", class: "primary", text: t("sign_in") });
  const form = h(
    "form",
    { class: "card login", "aria-labelledby": "page-title" },
    heading(t("login_title")),
    h("label", { for: "login-username", text: t("username") }), username,
    h("label", { for: "login-password", text: t("password") }), password,
    error,
    h("div", { class: "actions" }, button, h("a", { href: "/console/public", "data-link": true, text: t("nav_public") })),
  );
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    button.disabled = true;
    try {
      await signIn(username.value.trim(), password.value);
      navigate(next || "/console/", { replace: true });
    } catch (exc) {
      error.textContent = exc.status === 429 ? t("login_locked") : exc.status === 401 ? t("login_failed") : exc.message;
      password.select();
    } finally {
      button.disabled = false;
    }
  });
  main.append(form);
  username.focus();
}
